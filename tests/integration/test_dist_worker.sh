#!/bin/bash
# `certgw worker --config FILE`: push workers without the gateway, as on
# another machine sharing the Redis.  serve runs with no workers of its
# own, so every delivery is the standalone worker's; jobs issued while no
# worker runs wait in Redis and are delivered once one starts; SIGTERM
# stops it with exit 0.  A config without rules is refused.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3
need redis-server redis-server
need redis-cli redis-tools

d=$T/ca
init_ca "$d"
start_redis
test_ca "$T/pushca" "Push Client CA"
test_leaf "$T/pushca" "$T/push" "certgw push" client
start_receiver "$T/r1" "$T/pushca/ca.pem"
json_set "$d/certgw.json" '
c["redis"] = {"url": "redis://127.0.0.1:'"$REDIS_PORT"'/0"}
c["distribution"] = {"workers": 0, "rules": [{"name": "idm",
  "url": "https://127.0.0.1:'"$RECV_PORT"'/certs/{serial}",
  "payload": "json",
  "tls": {"client_cert": "'"$T"'/push.pem", "client_key": "'"$T"'/push.key",
          "ca_file": "'"$RECV_CA"'"}}]}'
start_serve "$d"

# Three certificates while no worker runs: they wait in the job stream.
for i in 1 2 3; do
	make_csr ec-p256 "w$i.example.test" "$T/w$i.csr"
	"$CERTGW" issue --dir "$d" --profile server --csr "$T/w$i.csr" \
	    --out "$T/w$i.pem" 2>/dev/null || fail "certgw issue $i"
done
for i in $(seq 1 50); do
	[ "$(rcli XLEN certgw:jobs)" = 3 ] && break
	sleep 0.1
done
[ "$(rcli XLEN certgw:jobs)" = 3 ] || fail "jobs: $(rcli XLEN certgw:jobs)"
sleep 0.5
[ "$(recv_count)" = 0 ] || fail "something was pushed without a worker"
pass "no worker: 3 jobs wait in Redis"

start_bg worker "$CERTGW" worker --config "$d/certgw.json"
WPID=$LAST_PID
recv_wait_count 3 20
recv_requests >"$T/reqs"
python3 - "$T/reqs" "$T" <<'PY' || fail "JSON payloads are wrong"
import base64, json, subprocess, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(reqs) == 3, len(reqs)
seen = set()
for r in reqs:
    assert r["headers"]["content-type"] == "application/json", r["headers"]
    body = json.loads(base64.b64decode(r["body_b64"]))
    assert r["path"] == "/certs/" + body["serial"], (r["path"], body["serial"])
    assert body["profile"] == "server" and body["protocol"] == "cli", body
    seen.add(body["subject"])
for i in (1, 2, 3):
    assert "CN=w%d.example.test" % i in seen, seen
PY
pass "certgw worker delivers the waiting jobs as JSON"

kill -TERM "$WPID"
wait "$WPID" || fail "certgw worker did not exit 0 on SIGTERM"
pass "certgw worker exits 0 on SIGTERM"

# One worker thread (distribution.workers 0 still starts one here) pushes
# several jobs at once: with every answer held back 1.5 s, all six wait
# at the receiver together.
recv_mode -s 1500 201
for i in 4 5 6 7 8 9; do
	make_csr ec-p256 "w$i.example.test" "$T/w$i.csr"
	"$CERTGW" issue --dir "$d" --profile server --csr "$T/w$i.csr" \
	    --out "$T/w$i.pem" 2>/dev/null || fail "certgw issue $i"
done
for i in $(seq 1 50); do
	[ "$(rcli XLEN certgw:jobs)" = 6 ] && break
	sleep 0.1
done
[ "$(rcli XLEN certgw:jobs)" = 6 ] || fail "jobs: $(rcli XLEN certgw:jobs)"
start_bg worker "$CERTGW" worker --config "$d/certgw.json"
WPID=$LAST_PID
recv_wait_count 9 30
for i in $(seq 1 50); do
	[ "$(rcli XLEN certgw:jobs)" = 0 ] && break
	sleep 0.1
done
[ "$(rcli XLEN certgw:jobs)" = 0 ] || fail "jobs left: $(rcli XLEN certgw:jobs)"
n=$(_recv_ctl GET /in_flight_max)
[ "$n" = 6 ] || fail "pushes at once: $n, want 6"
pass "one worker thread has 6 pushes in flight at once"

# SIGTERM with pushes in flight: they are settled before the exit, not
# left pending for another worker to claim.
make_csr ec-p256 "w10.example.test" "$T/w10.csr"
"$CERTGW" issue --dir "$d" --profile server --csr "$T/w10.csr" \
    --out "$T/w10.pem" 2>/dev/null || fail "certgw issue 10"
recv_wait_count 10 30
kill -TERM "$WPID"
wait "$WPID" || fail "certgw worker did not exit 0 on SIGTERM"
[ "$(rcli XLEN certgw:jobs)" = 0 ] ||
    fail "the push in flight was not settled: $(rcli XLEN certgw:jobs) left"
p=$(rcli XPENDING certgw:jobs workers | head -1)
[ "$p" = 0 ] || fail "entries left pending: $p"
pass "the push in flight at SIGTERM was settled before the exit"
recv_mode 201

python3 - "$d/certgw.json" "$d/norules.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["distribution"]["rules"] = []
json.dump(c, open(sys.argv[2], "w"))
PY
if "$CERTGW" worker --config "$d/norules.json" >"$T/out" 2>&1; then
	fail "worker started without rules"
fi
grep -q "nothing to push" "$T/out" || fail "unclear refusal: $(cat "$T/out")"
pass "certgw worker refuses a config without rules"
