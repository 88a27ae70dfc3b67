#!/bin/bash
# The distribution test fixtures themselves, so the distribution tests can
# trust them: a private Redis (PING, a stream round trip, no persistence,
# loopback only, password, down and back on the same port) and the stand-in
# identity manager (client certificates required and checked, every request
# recorded with its body and headers, scripted statuses, delays and
# Retry-After, keep-alive, a server certificate valid for 127.0.0.1 and
# localhost under RECV_CA, a clean exit on SIGTERM).
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need curl curl
need openssl openssl
need python3 python3
need redis-server redis-server
need redis-cli redis-tools

# --- Redis -------------------------------------------------------------

start_redis
[ "$(rcli ping)" = PONG ] || fail "redis PING"
id=$(rcli XADD certgw:test '*' serial 01ab body hello)
case $id in
[0-9]*-[0-9]*) ;;
*) fail "XADD answered '$id'" ;;
esac
[ "$(rcli XLEN certgw:test)" = 1 ] || fail "XLEN after one XADD"
rcli XRANGE certgw:test - + | grep -qx hello || fail "XRANGE lost the entry"
[ "$(rcli CONFIG GET bind | sed -n 2p)" = 127.0.0.1 ] || fail "bind"
[ "$(rcli CONFIG GET save | sed -n 2p)" = "" ] || fail "save is on"
[ "$(rcli CONFIG GET appendonly | sed -n 2p)" = no ] || fail "appendonly"
pass "redis PING and an XADD/XLEN round trip on port $REDIS_PORT"

port=$REDIS_PORT
old_pid=$REDIS_PID
stop_redis
if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
	fail "redis still answers after stop_redis"
fi
restart_redis
[ "$REDIS_PORT" = "$port" ] || fail "restart moved Redis to $REDIS_PORT"
[ "$REDIS_PID" != "$old_pid" ] || fail "restart kept the old process"
[ "$(rcli ping)" = PONG ] || fail "redis PING after restart"
[ "$(rcli XLEN certgw:test)" = 0 ] || fail "restarted Redis kept data"
pass "restart_redis: down, then back on the same port"

stop_redis
REDIS_PASSWORD=fixture-pw-1
start_redis
out=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>&1 || true)
case $out in
*NOAUTH*) ;;
*) fail "redis without the password said '$out'" ;;
esac
[ "$(rcli ping)" = PONG ] || fail "redis PING with the password"
perm=$(stat -c %a "$T/redis/redis.conf")
[ "$perm" = 600 ] || fail "redis.conf holding the password is $perm"
if grep -q fixture-pw-1 "/proc/$REDIS_PID/cmdline"; then
	fail "the redis password is on the command line"
fi
stop_redis
unset REDIS_PASSWORD
pass "REDIS_PASSWORD is required, kept off the command line"

# --- the receiver -----------------------------------------------------

test_ca "$T/cli" "Test Client CA"
test_leaf "$T/cli" "$T/cli/client" test-client client
test_ca "$T/other" "Other CA"
test_leaf "$T/other" "$T/other/client" test-client client
start_receiver "$T/idm" "$T/cli/ca.pem"
url=https://127.0.0.1:$RECV_PORT
[ "$(recv_count)" = 0 ] || fail "fresh receiver has a record"

# post [CURL-ARGS...] PATH: a request with the good client certificate;
# prints the HTTP status.
post() {
	local path
	path=${*: -1}
	curl -sS -o /dev/null -w '%{http_code}' --cacert "$RECV_CA" \
	    --cert "$T/cli/client.pem" --key "$T/cli/client.key" \
	    "${@:1:$#-1}" "$url$path"
}

# The receiver's own certificate, checked over the wire.
out=$(openssl s_client -connect "127.0.0.1:$RECV_PORT" -CAfile "$RECV_CA" \
    -verify_ip 127.0.0.1 -verify_return_error \
    -cert "$T/cli/client.pem" -key "$T/cli/client.key" </dev/null 2>&1) ||
    fail "s_client: $out"
echo "$out" | grep -q "Verify return code: 0 (ok)" ||
    fail "receiver certificate does not verify for 127.0.0.1"
openssl verify -CAfile "$RECV_CA" -verify_hostname localhost \
    -purpose sslserver "$RECV_CERT" >/dev/null ||
    fail "receiver certificate is not valid for localhost"
if openssl verify -CAfile "$RECV_CA" -verify_ip 127.0.0.2 \
    "$RECV_CERT" >/dev/null 2>&1; then
	fail "receiver certificate verifies for the wrong address"
fi
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$RECV_CA" \
    --cert "$T/cli/client.pem" --key "$T/cli/client.key" \
    --resolve "localhost:$RECV_PORT:127.0.0.1" \
    "https://localhost:$RECV_PORT/by-name")
[ "$code" = 201 ] || fail "by name localhost: $code"
recv_reset
pass "receiver certificate verifies against RECV_CA for 127.0.0.1 and localhost"

# A request with a good client certificate is answered and recorded.
printf '{"serial":"01ab","pem":"-----BEGIN CERTIFICATE-----\\n"}' >"$T/body"
code=$(post -X POST -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer t0ken' -H 'X-Certgw-Event: issued' \
    --data-binary @"$T/body" '/api/v1/certs?realm=EXAMPLE&x=1')
[ "$code" = 201 ] || fail "good client got $code, not 201"
[ "$(recv_count)" = 1 ] || fail "count after one request: $(recv_count)"
[ "$(wc -l <"$RECV_LOG")" = 1 ] || fail "record file lines"
recv_requests >"$T/reqs.jsonl"
cmp -s "$T/reqs.jsonl" "$RECV_LOG" || fail "/requests differs from the file"
python3 - "$RECV_LOG" "$T/body" <<'PY' || fail "record content"
import base64, json, sys
lines = open(sys.argv[1]).read().splitlines()
r = json.loads(lines[0])
body = open(sys.argv[2], "rb").read()
assert r["method"] == "POST", r
assert r["path"] == "/api/v1/certs", r
assert r["query"] == "realm=EXAMPLE&x=1", r
assert base64.b64decode(r["body_b64"]) == body, r
h = r["headers"]
assert h["content-type"] == "application/json", h
assert h["authorization"] == "Bearer t0ken", h
assert h["x-certgw-event"] == "issued", h
assert h["content-length"] == str(len(body)), h
assert r["client_subject"] == "CN=test-client", r
assert isinstance(r["time"], float), r
PY
perm=$(stat -c %a "$RECV_LOG")
[ "$perm" = 600 ] || fail "record file is $perm, not 600"
pass "good client certificate: 201, body and headers recorded"

# A chunked body is recorded whole.
head -c 70000 /dev/urandom >"$T/big"
code=$(post -X PUT -H 'Transfer-Encoding: chunked' \
    --data-binary @"$T/big" /chunked)
[ "$code" = 201 ] || fail "chunked PUT got $code"
recv_requests | python3 -c '
import base64, json, sys
r = json.loads(sys.stdin.read().splitlines()[-1])
assert r["method"] == "PUT" and r["path"] == "/chunked", r
assert base64.b64decode(r["body_b64"]) == open(sys.argv[1], "rb").read()
' "$T/big" || fail "chunked body not recorded whole"
pass "chunked body recorded"

# No client certificate, or one from another CA: refused, never recorded.
n=$(recv_count)
if curl -sS -o /dev/null --cacert "$RECV_CA" "$url/nocert" \
    2>"$T/nocert.err"; then
	fail "request without a client certificate succeeded"
fi
if curl -sS -o /dev/null --cacert "$RECV_CA" --cert "$T/other/client.pem" \
    --key "$T/other/client.key" "$url/othercert" 2>"$T/other.err"; then
	fail "request with another CA's client certificate succeeded"
fi
for v in 1.2 1.3; do
	if curl -s -o /dev/null --cacert "$RECV_CA" --tlsv$v --tls-max $v \
	    "$url/nocert-$v" 2>/dev/null; then
		fail "TLS $v without a client certificate succeeded"
	fi
done
[ "$(recv_count)" = "$n" ] || fail "a refused client was recorded"
grep -q "handshake with 127.0.0.1" "$T/recv-idm.log" ||
    fail "the refused handshakes were not logged"
code=$(post /after-refusals)
[ "$code" = 201 ] || fail "receiver broken after refused clients: $code"
pass "no client certificate or a foreign one: TLS failure, nothing recorded"

# Scripted statuses: 500, 400, then 201 for good.
recv_mode 500 400 201
got=""
for i in 1 2 3 4; do
	got="$got $(post -X POST --data-binary x /seq)"
done
[ "$got" = " 500 400 201 201" ] || fail "statuses were$got"
pass "recv_mode 500 400 201: answers 500, 400, 201, 201"

# A delay of 300 ms.
recv_mode -s 300 201
t=$(curl -sS -o /dev/null -w '%{time_total}' --cacert "$RECV_CA" \
    --cert "$T/cli/client.pem" --key "$T/cli/client.key" "$url/slow")
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.3 else 1)' \
    "$t" || fail "sleep_ms 300 answered in ${t}s"
pass "sleep_ms 300: the answer took ${t}s"

# Retry-After on non-2xx answers only.
recv_mode -r 7 503 201
hdr() {
	curl -sS -o /dev/null -D - --cacert "$RECV_CA" \
	    --cert "$T/cli/client.pem" --key "$T/cli/client.key" "$url/$1" |
	    tr -d '\r'
}
h=$(hdr retry1)
echo "$h" | head -1 | grep -q ' 503' || fail "expected 503: $h"
echo "$h" | grep -qix 'retry-after: 7' || fail "no Retry-After: $h"
h=$(hdr retry2)
echo "$h" | head -1 | grep -q ' 201' || fail "expected 201: $h"
if echo "$h" | grep -qi '^retry-after:'; then
	fail "Retry-After on a 2xx answer"
fi
recv_mode -r 'Wed, 21 Oct 2037 07:28:00 GMT' 429
h=$(hdr retry3)
echo "$h" | grep -qix 'retry-after: Wed, 21 Oct 2037 07:28:00 GMT' ||
    fail "no date Retry-After: $h"
pass "Retry-After with non-2xx answers only, seconds or a date"

# A bad mode is refused and the old one stays.
if curl -sf -o /dev/null -X POST --data-binary '{"statuses":[99]}' \
    "http://127.0.0.1:$RECV_CTL_PORT/mode"; then
	fail "control accepted status 99"
fi
[ "$(post /still-429)" = 429 ] || fail "a refused mode changed the mode"

# Keep-alive: two requests on one connection, both recorded.
recv_reset
[ "$(recv_count)" = 0 ] || fail "reset left a record"
[ "$(wc -c <"$RECV_LOG")" = 0 ] || fail "reset left the record file"
curl -sS -v -o /dev/null -o /dev/null --cacert "$RECV_CA" \
    --cert "$T/cli/client.pem" --key "$T/cli/client.key" \
    "$url/ka1" "$url/ka2" 2>"$T/ka.err" || fail "keep-alive requests"
grep -qi "re-using existing connection" "$T/ka.err" ||
    fail "the connection was not kept alive"
[ "$(recv_count)" = 2 ] || fail "keep-alive requests: $(recv_count)"
[ "$(post /default)" = 201 ] || fail "reset did not restore 201"
recv_wait_count 3 2
pass "reset, keep-alive"

# A second receiver: its own ports and record, the same Receiver CA.
first_ca=$RECV_CA first_ctl=$RECV_CTL_PORT first_pid=$RECV_PID
start_receiver "$T/idm2" "$T/cli/ca.pem"
[ "$RECV_CA" = "$first_ca" ] || fail "second receiver has another CA"
[ "$RECV_CTL_PORT" != "$first_ctl" ] || fail "control port shared"
url=https://127.0.0.1:$RECV_PORT
[ "$(post /second)" = 201 ] || fail "second receiver"
[ "$(recv_count)" = 1 ] || fail "second receiver count"
stop_receiver
RECV_CTL_PORT=$first_ctl RECV_PID=$first_pid
[ "$(recv_count)" = 3 ] || fail "the first receiver saw the second's request"
pass "two receivers under one Receiver CA"

# SIGTERM: a clean exit 0, and the port closes.
stop_receiver
if curl -s -o /dev/null "http://127.0.0.1:$RECV_CTL_PORT/count"; then
	fail "control port still open after SIGTERM"
fi
pass "receiver exits 0 on SIGTERM"
