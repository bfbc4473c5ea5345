/* An HTTPS client with OpenSSL linked in statically (its SSL_read lives in
 * the executable's .symtab only, not in any libssl): one GET, the answer
 * read to its end. Waits first, so the tracer has looked at it before its
 * first SSL call. Usage: static_tls_client PORT PATH */
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    usleep(1000 * 1000);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])) };
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) return 3;
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(context);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) return 4;
    char request[512];
    int length = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n",
                          argv[2], argv[1]);
    if (SSL_write(ssl, request, length) != length) return 5;
    char buffer[4096];
    int n, total = 0;
    while ((n = SSL_read(ssl, buffer, sizeof buffer)) > 0) total += n;
    printf("%d\n", total);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    SSL_CTX_free(context);
    close(fd);
    return total > 0 ? 0 : 6;
}
