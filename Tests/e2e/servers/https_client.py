"""Sends N GET requests over one keep-alive HTTPS connection with Python's
http.client (OpenSSL's SSL_write_ex/SSL_read_ex underneath) and prints
each status.

usage: https_client.py PORT N PATH_PREFIX
"""
import http.client
import ssl
import sys

if __name__ == "__main__":
    port, count, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    context = ssl._create_unverified_context()
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
    for i in range(count):
        connection.request("GET", f"{prefix}{i}")
        response = connection.getresponse()
        response.read()
        print(response.status, flush=True)
    connection.close()
