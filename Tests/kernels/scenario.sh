#!/bin/sh
# The kernel matrix's scenario, the same inside each VM (busybox sh) and on
# the host (sh): nginx with one worker serving HTTP/1.1, h2c and HTTPS on
# three loopback ports, busybox httpd (a child forked per connection, no
# exec) on a fourth, l7trace selecting those ports, curl making $REQUESTS
# requests per protocol. Everything the test needs is printed on stdout
# between "@@l7k begin NAME" / "@@l7k end NAME" lines; parsing and asserting
# happen outside (there is no Python in the VM).
#
# Environment: L7K_BIN (the tracer), L7K_DIR (an empty work directory),
# L7K_CERT/L7K_KEY, L7K_PORT_H1/L7K_PORT_H2C/L7K_PORT_TLS/L7K_PORT_FORK, L7K_REQUESTS,
# L7K_VERBOSE=1 for libbpf's and the verifier's log.
BIN=${L7K_BIN:?} DIR=${L7K_DIR:?} N=${L7K_REQUESTS:-3}
H1=${L7K_PORT_H1:?} H2C=${L7K_PORT_H2C:?} TLS=${L7K_PORT_TLS:?} FORK=${L7K_PORT_FORK:?}

section() { echo "@@l7k begin $1"; cat "$2" 2>/dev/null; echo "@@l7k end $1"; }
say() { echo "@@l7k $*"; }

# Seconds until $1 succeeds, polled every 0.1 s, or 1 when $2 seconds pass.
wait_for() {
    i=0
    while ! eval "$1" >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -ge $(($2 * 10)) ] && return 1
        sleep 0.1
    done
}

cat > "$DIR/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/nginx-error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $DIR; proxy_temp_path $DIR; fastcgi_temp_path $DIR; uwsgi_temp_path $DIR; scgi_temp_path $DIR;
    server { listen 127.0.0.1:$H1; location / { return 200 "hello\n"; } }
    server { listen 127.0.0.1:$H2C http2; location / { return 200 "hello\n"; } }
    server {
        listen 127.0.0.1:$TLS ssl;
        ssl_certificate $L7K_CERT; ssl_certificate_key $L7K_KEY;
        location / { return 200 "hello\n"; }
    }
}
EOF

say kernel "$(uname -r)"
nginx -e "$DIR/nginx-error.log" -c "$DIR/nginx.conf" -p "$DIR" &
NGINX=$!
# Up when the worker answers: a plain request before the tracer starts.
if ! wait_for "curl -sf --noproxy '*' -o /dev/null http://127.0.0.1:$H1/up" 30; then
    say result "nginx did not start"
    section nginx-error "$DIR/nginx-error.log"
    kill $NGINX; exit 0
fi
mkdir -p "$DIR/www/fork"
i=1; while [ $i -le "$N" ]; do echo hello > "$DIR/www/fork/$i"; i=$((i + 1)); done
busybox httpd -f -p "127.0.0.1:$FORK" -h "$DIR/www" &
HTTPD=$!

[ "${L7K_VERBOSE:-0}" = 1 ] && export L7TRACE_VERIFIER_LOG=1
export OTEL_BSP_SCHEDULE_DELAY=200
start=$(date +%s)
"$BIN" --port "$H1" --port "$H2C" --port "$TLS" --port "$FORK" --exporter file --output "$DIR/spans.jsonl" \
    --stats-interval 0 2>"$DIR/stderr" &
TRACER=$!
# The verifier is slow under software emulation: allow it a minute and a half.
wait_for "grep -q '^l7trace: ready' '$DIR/stderr' || ! kill -0 $TRACER" 90
if grep -q '^l7trace: ready' "$DIR/stderr"; then
    say ready "$(( $(date +%s) - start ))"
    urls() { i=1; while [ $i -le "$N" ]; do printf ' -o /dev/null %s/%s' "$1" "$i"; i=$((i + 1)); done; }
    set -f   # the * below is curl's, not the shell's
    CURL="curl -s --noproxy * -w %{http_code}\n"
    # One curl for HTTP/1.1 and one for HTTPS, each's requests on one
    # connection; a curl per h2c request, as curl 7.88 fails every request
    # after the first on a reused prior-knowledge connection. One status a line.
    $CURL $(urls "http://127.0.0.1:$H1/h1") > "$DIR/curl-h1"
    i=1; while [ $i -le "$N" ]; do
        $CURL --http2-prior-knowledge -o /dev/null "http://127.0.0.1:$H2C/h2c/$i"; i=$((i + 1))
    done > "$DIR/curl-h2c"
    $CURL -k --http1.1 $(urls "https://127.0.0.1:$TLS/tls") > "$DIR/curl-https"
    # busybox httpd answers one request per connection: curl opens one each.
    $CURL $(urls "http://127.0.0.1:$FORK/fork") > "$DIR/curl-fork"
    done=$(cat "$DIR/curl-h1" "$DIR/curl-h2c" "$DIR/curl-https" "$DIR/curl-fork" | grep -c '^[1-5]')
    # Spans leave in batches; give them a few seconds before the stop flushes the rest.
    wait_for "[ \$(grep -o '\"spanId\"' '$DIR/spans.jsonl' | wc -l) -ge $((done * 2)) ]" 10
    kill -TERM $TRACER
    wait $TRACER; say tracer-exit $?
    for p in h1 h2c https fork; do section "curl-$p" "$DIR/curl-$p"; done
else
    # Still running but not ready: its stderr says how far it got.
    kill -0 $TRACER 2>/dev/null && say result "l7trace was not ready after 90 s" && kill -KILL $TRACER
    wait $TRACER; say tracer-exit $?
fi
kill $NGINX $HTTPD; wait $NGINX $HTTPD
section stderr "$DIR/stderr"
section spans "$DIR/spans.jsonl"
say done
