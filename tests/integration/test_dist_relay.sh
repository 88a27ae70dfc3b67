#!/bin/bash
# Distribution, issuance to Redis: a certificate that matches a rule gets
# one outbox job in its issuance transaction, and serve's relay moves it to
# the Redis job stream (XADD) with the whole certificate in it.  A rule
# that does not match writes nothing.  Redis down: issuance goes on, the
# outbox grows, and every job reaches Redis once it is back.  Jobs written
# by the CLI while serve runs are relayed too.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3
need redis-server redis-server
need redis-cli redis-tools
need sqlite3 sqlite3

d=$T/ca
init_ca "$d"
start_redis
json_set "$d/certgw.json" '
c["redis"] = {"url": "redis://127.0.0.1:'"$REDIS_PORT"'/0",
    "key_prefix": "t1:"}
c["distribution"] = {"workers": 0, "rules": [
  {"name": "idm", "match": {"profiles": ["device"]},
   "url": "https://127.0.0.1:9/register/{template}/{serial}",
   "vars": {"template": "DeviceCert"}},
  {"name": "servers", "match": {"profiles": ["server"]},
   "url": "https://127.0.0.1:9/srv/{serial}"}]}'
start_serve "$d"

# xlen: entries in the job stream.
xlen() {
	redis-cli -p "$REDIS_PORT" XLEN t1:jobs
}

# wait_xlen N: the stream reaches N entries within 10 s.
wait_xlen() {
	local i
	for i in $(seq 1 100); do
		[ "$(xlen)" = "$1" ] && return 0
		sleep 0.1
	done
	fail "job stream has $(xlen) entries, want $1"
}

pending() {
	sqlite3 "$d/certgw.db" \
	    "select count(*) from outbox where relayed_at is null"
}

est_enroll "$d" 1
wait_xlen 1
serial=$(openssl x509 -in "$T/r1.pem" -noout -serial | cut -d= -f2)
# The entry: fields job, rule and outbox; the job holds the certificate.
redis-cli -p "$REDIS_PORT" --raw XRANGE t1:jobs - + >"$T/x1raw"
python3 - "$T/x1raw" "$serial" "$T/r1.pem" <<'PY' || fail "job in Redis is wrong"
import base64, json, subprocess, sys
lines = open(sys.argv[1]).read().split("\n")
i = lines.index("job")
job = json.loads(lines[i + 1])
assert lines[lines.index("rule") + 1] == "idm", "rule field"
assert job["rule"] == "idm" and job["profile"] == "device", job
assert job["serial"].lstrip("0") == sys.argv[2].upper().lstrip("0"), job
assert job["protocol"] == "est" and job["attempt"] == 0, job
der = base64.b64decode(job["cert"])
pem = subprocess.run(["openssl", "x509", "-inform", "DER"], input=der,
    capture_output=True, check=True).stdout
want = subprocess.run(["openssl", "x509", "-in", sys.argv[3]],
    capture_output=True, check=True).stdout
assert pem == want, "certificate in the job differs"
assert job["id"].startswith(job["serial"] + ".idm."), job["id"]
PY
[ "$(pending)" = 0 ] || fail "outbox still has $(pending) pending jobs"
pass "an EST certificate reaches the Redis job stream, whole, once"

# A certificate of another profile goes to the other rule only.
make_csr ec-p256 www.example.test "$T/s.csr"
"$CERTGW" issue --dir "$d" --profile server --csr "$T/s.csr" \
    --out "$T/s.pem" 2>/dev/null || fail "certgw issue"
wait_xlen 2
redis-cli -p "$REDIS_PORT" --raw XRANGE t1:jobs - + | grep -c '^servers$' |
    grep -qx 1 || fail "the CLI's certificate did not go to rule servers"
pass "the CLI's issuance is relayed by serve; rules match by profile"

# Redis down: enrollments still succeed and the outbox keeps the jobs.
stop_redis
for i in 2 3 4 5 6; do
	est_enroll "$d" "$i"
done
[ "$(pending)" = 5 ] || fail "outbox holds $(pending) jobs, want 5"
pass "Redis down: issuance goes on, 5 jobs wait in the outbox"
restart_redis
# The restarted Redis is empty: the 5 waiting jobs arrive, nothing else.
wait_xlen 5
[ "$(pending)" = 0 ] || fail "outbox still has $(pending) pending jobs"
grep -q 'event=redis_unavailable' "$T/serve.log" ||
    fail "the outage was not logged"
pass "Redis back: all 5 jobs relayed"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve did not exit 0"
grep -q 'event=relay_stop relayed=7' "$T/serve.log" ||
    fail "relay count: $(grep relay_stop "$T/serve.log")"
pass "SIGTERM: the relay reports 7 jobs and serve exits 0"
