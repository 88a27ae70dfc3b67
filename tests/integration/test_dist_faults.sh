#!/bin/bash
# Distribution fault cases, each ending with the same check: every issued
# certificate that matches a rule reached the receiver at least once.
#  1. Redis stopped while 100 certificates are issued, then started: all
#     100 delivered.
#  2. serve killed with SIGKILL right after issuing (Redis down, so the
#     jobs are only in the outbox): on restart every certificate arrives.
#  3. a standalone worker killed with SIGKILL mid-push: another worker
#     claims the job after claim_after_ms and delivers it.
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
c["distribution"] = {"workers": 2, "claim_after_ms": 1500, "rules": [{
  "name": "idm", "url": "https://127.0.0.1:'"$RECV_PORT"'/certs/{serial}",
  "tls": {"client_cert": "'"$T"'/push.pem", "client_key": "'"$T"'/push.key",
          "ca_file": "'"$RECV_CA"'"},
  "timeout_ms": 10000,
  "retry": {"initial_backoff_ms": 50, "max_backoff_ms": 500}}]}'
make_csr ec-p256 fault.example.test "$T/f.csr"

# issue N: N certificates through the CLI (the store keeps their jobs).
issue() {
	local i
	for i in $(seq 1 "$1"); do
		"$CERTGW" issue --dir "$d" --profile server --csr "$T/f.csr" \
		    --out "$T/f.pem" 2>/dev/null || fail "certgw issue"
	done
}

# all_delivered: every certificate in the store reached the receiver.
all_delivered() {
	"$CERTGW" cert list --dir "$d" --json >"$T/certs.json"
	recv_requests >"$T/reqs"
	python3 - "$T/certs.json" "$T/reqs" <<'PY'
import json, sys
# init's own TLS certificate predates the rule; the rest must arrive.
certs = {c["serial"].upper().lstrip("0") for c in json.load(open(sys.argv[1]))
         if c["protocol"] != "init"}
got = set()
for l in open(sys.argv[2]):
    if l.strip():
        got.add(json.loads(l)["path"].rsplit("/", 1)[1].upper().lstrip("0"))
missing = certs - got
if missing:
    print("not delivered: %d of %d" % (len(missing), len(certs)))
    sys.exit(1)
PY
}

# wait_all_delivered [S]: all_delivered within S seconds (default 30).
wait_all_delivered() {
	local i
	for i in $(seq 1 $((${1:-30} * 5))); do
		all_delivered >/dev/null && return 0
		sleep 0.2
	done
	all_delivered || fail "some certificates were never delivered"
}

# 1. Redis down while 100 certificates are issued.
start_serve "$d"
stop_redis
issue 100
[ "$(recv_count)" = 0 ] || fail "delivered without Redis"
restart_redis
wait_all_delivered 60
pass "Redis stopped across 100 issuances: all 100 delivered"

# 2. serve killed right after issuing, its jobs only in the outbox.
stop_redis
issue 5
kill -KILL "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
restart_redis
start_serve "$d"
wait_all_delivered 30
pass "serve killed with SIGKILL after issuing: all delivered on restart"

# 3. A worker killed mid-push; another claims the job.
# serve keeps relaying but pushes nothing itself; certgw worker runs one.
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve did not exit 0"
json_set "$d/certgw.json" 'c["distribution"]["workers"] = 0'
start_serve "$d"
recv_mode -s 4000 201
n0=$(recv_count)
start_bg workerA "$CERTGW" worker --config "$d/certgw.json"
WA=$LAST_PID
issue 1
# Worker A has the job in hand once the receiver records the request.
recv_wait_count $((n0 + 1)) 20
kill -KILL "$WA"
wait "$WA" 2>/dev/null || true
recv_mode 201
start_bg workerB "$CERTGW" worker --config "$d/certgw.json"
WB=$LAST_PID
recv_wait_count $((n0 + 2)) 20
wait_all_delivered 10
grep -q 'event=claimed' "$T/workerB.log" ||
    fail "worker B did not claim: $(cat "$T/workerB.log")"
kill -TERM "$WB"
wait "$WB" || fail "worker B did not exit 0"
pass "a worker killed mid-push: another claims the job and delivers it"
