#!/bin/bash
# Listener limits and the serve life cycle: oversized headers and bodies
# are refused, clients that trickle bytes (TLS handshake, headers) are cut
# off at the read timeout, the per-listener connection limit makes excess
# clients wait in the backlog until a slot frees, SIGTERM lets a slow
# in-flight request finish (and cuts idle ones) before exiting 0, and
# SIGHUP keeps serving on a bad config and applies a good one; a second
# serve on the same ports fails at once, naming the address.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need curl curl
need python3 python3

d=$T/ca
init_ca "$d"
cp "$d/certgw.json" "$T/orig.json"

# limits KEY=VALUE...: rewrite the config from the original with these
# limits (and two loop threads, so cross-thread accounting is exercised).
limits() {
	python3 - "$T/orig.json" "$d/certgw.json" "$@" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["threads"] = 2
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    c["limits"][k] = int(v)
json.dump(c, open(sys.argv[2], "w"), indent=2)
EOF
}

stop_serve() {
	kill -TERM "$SERVE_PID"
	set +e
	wait "$SERVE_PID"
	rc=$?
	set -e
	[ "$rc" = 0 ] || fail "serve exited $rc on SIGTERM"
	mv "$T/serve.log" "$T/serve-$1.log"
}

cat >"$T/cli.py" <<'EOF'
# Raw clients for the limit tests; every wait is bounded.
import os, signal, socket, ssl, sys, time

HOST = "127.0.0.1"
REQ = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def die(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def tls_ctx(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    return ctx


def closed_within(s, limit):
    """Seconds until the peer closes s (it must, within limit)."""
    t0 = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - t0 < limit:
        try:
            if s.recv(4096) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except (ConnectionResetError, ssl.SSLError, OSError):
            return time.monotonic() - t0
    return None


def trickle(s, data, limit):
    """Send data one byte a second; return when the server gives up."""
    t0 = time.monotonic()
    i = 0
    s.settimeout(1.0)
    while time.monotonic() - t0 < limit:
        try:
            s.send(data[i % len(data):i % len(data) + 1])
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return time.monotonic() - t0
        i += 1
        try:
            if s.recv(4096) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            pass
        except (ConnectionResetError, ssl.SSLError, OSError):
            return time.monotonic() - t0
    return None


def check_cut(name, t, timeout):
    if t is None:
        die("%s: not cut off" % name)
    if t < timeout - 0.5 or t > timeout + 2.5:
        die("%s: cut off after %.1fs, read timeout is %ds" % (name, t, timeout))
    print("ok: %s cut off after %.1fs" % (name, t))


def cmd_trickle(https, http, cafile, timeout):
    timeout = int(timeout)
    s = socket.create_connection((HOST, int(http)))
    s.sendall(b"GET /healthz HTTP/1.1\r\n")
    check_cut("plain header trickle",
              trickle(s, b"X-Slow: aaaa\r\n", timeout + 5), timeout)
    s = tls_ctx(cafile).wrap_socket(socket.create_connection((HOST, int(https))))
    s.sendall(b"GET /healthz HTTP/1.1\r\n")
    check_cut("TLS header trickle",
              trickle(s, b"X-Slow: aaaa\r\n", timeout + 5), timeout)
    # A ClientHello sent one byte a second.
    bio_in, bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls_ctx(cafile).wrap_bio(bio_in, bio_out)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = bio_out.read()
    s = socket.create_connection((HOST, int(https)))
    check_cut("TLS handshake trickle", trickle(s, hello, timeout + 5), timeout)
    s = socket.create_connection((HOST, int(https)))
    check_cut("silent TLS client", closed_within(s, timeout + 5), timeout)


def get(s, limit):
    s.settimeout(limit)
    s.sendall(REQ)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk


def cmd_limit(port, cafile, use_tls):
    use_tls = use_tls == "tls"
    ctx = tls_ctx(cafile) if use_tls else None

    def conn(handshake=True):
        s = socket.create_connection((HOST, int(port)), timeout=5)
        if use_tls:
            s = ctx.wrap_socket(s, do_handshake_on_connect=handshake)
        return s

    held = [conn(), conn()]
    time.sleep(0.5)
    # The kernel completes the TCP handshake (backlog); nobody accepts.
    third = socket.create_connection((HOST, int(port)), timeout=5)
    if use_tls:
        third = ctx.wrap_socket(third, do_handshake_on_connect=False)
        third.settimeout(1.5)
        try:
            third.do_handshake()
            die("TLS handshake completed past the connection limit")
        except (socket.timeout, ssl.SSLError) as e:
            if not isinstance(e, socket.timeout) and "timed out" not in str(e):
                die("third TLS client failed: %r" % e)
    else:
        try:
            data = get(third, 1.5)
            die("request answered past the connection limit: %r" % data[:40])
        except socket.timeout:
            pass
    held[0].close()
    t0 = time.monotonic()
    if use_tls:
        third.settimeout(5)
        third.do_handshake()
    data = get(third, 5)
    if not data.startswith(b"HTTP/1.1 200"):
        die("third client after a slot freed: %r" % data[:60])
    print("ok: %s third client served %.1fs after a slot freed"
          % ("TLS" if use_tls else "plain", time.monotonic() - t0))
    for s in held[1:] + [third]:
        s.close()


def cmd_drain(port, pid, grace):
    pid, grace = int(pid), int(grace)
    idle = socket.create_connection((HOST, int(port)), timeout=5)
    slow = socket.create_connection((HOST, int(port)), timeout=5)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.5)
    os.kill(pid, signal.SIGTERM)
    t = closed_within(idle, 2)
    if t is None:
        die("idle connection kept open after SIGTERM")
    print("ok: idle connection closed %.1fs after SIGTERM" % t)
    try:
        socket.create_connection((HOST, int(port)), timeout=2).close()
        die("new connection accepted after SIGTERM")
    except ConnectionRefusedError:
        print("ok: new connections refused after SIGTERM")
    time.sleep(1)
    slow.settimeout(5)
    slow.sendall(b"\r\n")
    data = b""
    while True:
        chunk = slow.recv(4096)
        if not chunk:
            break
        data += chunk
    if not data.startswith(b"HTTP/1.1 200") or not data.endswith(b"ok\n"):
        die("in-flight request after SIGTERM: %r" % data[:80])
    if b"Connection: close" not in data:
        die("reply during shutdown does not close the connection")
    print("ok: in-flight request finished after SIGTERM")
    t0 = time.monotonic()
    while time.monotonic() - t0 < grace:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        # A zombie until the shell reaps it: look at its state.
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(") ")[1].startswith("Z"):
                    break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        die("serve still running %ds after its last request" % grace)
    print("ok: serve exited %.1fs after its last request"
          % (time.monotonic() - t0))


globals()["cmd_" + sys.argv[1]](*sys.argv[2:])
EOF

# --- Sizes and slow clients -------------------------------------------
limits max_header_bytes=1024 max_body_bytes=1024 read_timeout_s=2 \
    write_timeout_s=5 max_connections=64 shutdown_grace_s=5
start_serve "$d"
http=http://127.0.0.1:$HTTP_PORT
https=https://127.0.0.1:$HTTPS_PORT
big=$(head -c 3000 /dev/zero | tr '\0' a)
for u in "$http" "$https"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$d/ca/chain.pem" \
	    -H "X-Big: $big" "$u/healthz" || true)
	case $code in
	400 | 413 | 431) ;;
	*) fail "oversized header on $u gave $code" ;;
	esac
done
head -c 2000 /dev/zero >"$T/body.bin"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T/body.bin" \
    "$http/healthz")
[ "$code" = 413 ] || fail "oversized body gave $code, not 413"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T/body.bin" \
    -H "Transfer-Encoding: chunked" --cacert "$d/ca/chain.pem" \
    "$https/healthz")
[ "$code" = 413 ] || fail "oversized chunked body gave $code, not 413"
# Within the limits a POST reaches the router (405: /healthz is GET only).
head -c 1000 /dev/zero >"$T/small.bin"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T/small.bin" \
    "$http/healthz")
[ "$code" = 405 ] || fail "small body gave $code, not 405"
grep -q 'event=request_unfinished' "$T/serve.log" ||
    fail "refused requests are not logged"
pass "oversized headers and bodies are refused"

python3 "$T/cli.py" trickle "$HTTPS_PORT" "$HTTP_PORT" "$d/ca/chain.pem" 2 ||
    fail "slow clients"
grep -q 'event=timeout ' "$T/serve.log" || fail "no timeout log line"
code=$(curl -s -o /dev/null -w '%{http_code}' "$http/healthz")
[ "$code" = 200 ] || fail "serve unhealthy after slow clients: $code"
pass "trickling clients are cut off at the read timeout"
stop_serve sizes

# --- Connection limit ---------------------------------------------------
limits max_connections=2 read_timeout_s=30 shutdown_grace_s=10
start_serve "$d"
python3 "$T/cli.py" limit "$HTTP_PORT" "$d/ca/chain.pem" plain ||
    fail "plain connection limit"
python3 "$T/cli.py" limit "$HTTPS_PORT" "$d/ca/chain.pem" tls ||
    fail "TLS connection limit"
# The limit is per listener: HTTP full, HTTPS still serves.
python3 - "$HTTP_PORT" "$HTTPS_PORT" "$d/ca/chain.pem" <<'EOF' ||
import socket, subprocess, sys, time
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        for _ in range(2)]
time.sleep(0.3)
r = subprocess.run(["curl", "-s", "-m", "5", "--cacert", sys.argv[3],
                    "https://127.0.0.1:%s/healthz" % sys.argv[2]],
                   capture_output=True)
sys.exit(0 if r.stdout == b"ok\n" else 1)
EOF
    fail "HTTPS blocked by a full HTTP listener"
pass "excess connections wait until a slot frees, per listener"

# --- SIGTERM with a request in flight -----------------------------------
python3 "$T/cli.py" drain "$HTTP_PORT" "$SERVE_PID" 8 ||
    fail "graceful shutdown"
set +e
wait "$SERVE_PID"
rc=$?
set -e
[ "$rc" = 0 ] || fail "serve exited $rc after SIGTERM"
grep -q 'event=shutdown status=ok' "$T/serve.log" || fail "no shutdown log"
pass "SIGTERM finishes the in-flight request, cuts idle ones, exits 0"
mv "$T/serve.log" "$T/serve-drain.log"

# --- A busy port, then SIGHUP ------------------------------------------
limits read_timeout_s=30
start_serve "$d"
set +e
timeout 20 "$CERTGW" serve --config "$d/certgw.json" >"$T/second.log" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "second serve on a busy port: $rc"
grep -q "address 127.0.0.1:$HTTPS_PORT is already in use" "$T/second.log" ||
    fail "busy port error does not name the address: $(cat "$T/second.log")"
pass "a busy port fails at start with the address"
cp "$d/certgw.json" "$T/good.json"
printf '{ "listeners": ' >"$d/certgw.json"
kill -HUP "$SERVE_PID"
for _ in $(seq 1 50); do
	grep -q 'event=reload status=failed' "$T/serve.log" && break
	sleep 0.1
done
grep -q 'event=reload_failed .*certgw.json' "$T/serve.log" ||
    fail "bad config on SIGHUP not logged with the file"
grep -q 'event=reload status=failed' "$T/serve.log" ||
    fail "no reload failure line"
[ "$(curl -s "$http/healthz")" = ok ] || fail "not serving after a bad reload"
# A good config: new profile validity and a quieter log.
python3 - "$T/good.json" "$d/certgw.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["profiles"]["device"]["validity_days"] = 7
c["log"]["level"] = "warn"
json.dump(c, open(sys.argv[2], "w"), indent=2)
EOF
kill -HUP "$SERVE_PID"
for _ in $(seq 1 50); do
	grep -q 'event=reload status=ok' "$T/serve.log" && break
	sleep 0.1
done
grep -q 'event=reload status=ok profiles=2 log_level=warn' "$T/serve.log" ||
    fail "good config on SIGHUP not applied"
n=$(grep -c 'event=request ' "$T/serve.log")
[ "$(curl -s "$http/healthz")" = ok ] || fail "not serving after a reload"
sleep 0.2
[ "$(grep -c 'event=request ' "$T/serve.log")" = "$n" ] ||
    fail "log level from the reloaded config not applied"
pass "SIGHUP: a bad config is logged and ignored, a good one applied"
stop_serve hup
