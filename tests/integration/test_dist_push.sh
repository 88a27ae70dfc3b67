#!/bin/bash
# Distribution end to end with real servers: certgw serve issues over EST,
# relays the job to a private redis-server, and its push workers deliver it
# to an HTTPS receiver that requires a client certificate from the push CA.
# Cases: one delivery at the right URL with the base64 DER body, the
# content type and the Idempotency-Key; a rule that does not match sends
# nothing; 500 three times then 201 is delivered once, on the fourth
# attempt, and audited; 400 goes to the dead-letter stream, which
# certgw dist shows and retries; dist redeliver sends again; an endpoint
# whose certificate is not trusted gets nothing and the job ends dead.
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
c["log"] = {"level": "info"}
c["redis"] = {"url": "redis://127.0.0.1:'"$REDIS_PORT"'/0",
    "key_prefix": "t2:"}
rule = {"name": "idm", "match": {"profiles": ["device"]},
  "url": "https://127.0.0.1:'"$RECV_PORT"'/ws/certificate/register/{template}/{process}?tenantId={tenant}",
  "vars": {"template": "DeviceCert", "process": "", "tenant": "acme"},
  "tls": {"client_cert": "'"$T"'/push.pem", "client_key": "'"$T"'/push.key",
          "ca_file": "'"$RECV_CA"'"},
  "headers": {"X-Source": "certgw"},
  "retry": {"max_attempts": 5, "initial_backoff_ms": 50,
            "max_backoff_ms": 200}}
untrusted = dict(rule, name="untrusted", match={"profiles": ["server"]},
  tls=dict(rule["tls"], ca_file="'"$T"'/pushca/ca.pem"))
c["distribution"] = {"workers": 2, "rules": [rule, untrusted]}'
start_serve "$d"

# check_request N CERT: the receiver's request N (from 1) is a push of
# CERT: path, query, content type, Idempotency-Key, body.
check_request() {
	recv_requests >"$T/reqs"
	python3 - "$T/reqs" "$1" "$2" <<'PY' || fail "request $1 is wrong"
import base64, json, subprocess, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = reqs[int(sys.argv[2]) - 1]
assert r["method"] == "POST", r["method"]
assert r["path"] == "/ws/certificate/register/DeviceCert", r["path"]
assert r["query"] == "tenantId=acme", r["query"]
h = r["headers"]
assert h["content-type"] == "application/pkix-cert", h
assert h["x-source"] == "certgw", h
body = base64.b64decode(r["body_b64"])
der = base64.b64decode(body, validate=True)
want = subprocess.run(["openssl", "x509", "-in", sys.argv[3], "-outform",
    "DER"], capture_output=True, check=True).stdout
assert der == want, "body is not the certificate"
serial = subprocess.run(["openssl", "x509", "-in", sys.argv[3], "-noout",
    "-serial"], capture_output=True, check=True, text=True).stdout
serial = serial.strip().split("=")[1].lstrip("0")
assert h["idempotency-key"].startswith(serial + ".idm."), h
PY
}

est_enroll "$d" 1
recv_wait_count 1
check_request 1 "$T/r1.pem"
sleep 0.5
[ "$(recv_count)" = 1 ] || fail "delivered $(recv_count) times, want 1"
pass "an EST certificate is pushed once, with mTLS, to the rule's URL"

# 500 three times, then 201: delivered once more, on the fourth attempt.
recv_mode 500 500 500 201
est_enroll "$d" 2
recv_wait_count 5 20
check_request 5 "$T/r2.pem"
sleep 0.5
[ "$(recv_count)" = 5 ] || fail "$(recv_count) requests, want 5"
grep -q 'event=delivered rule=idm .*attempt=4' "$T/serve.log" ||
    fail "no delivery on attempt 4 in the log"
"$CERTGW" audit --dir "$d" >"$T/audit" 2>&1 || fail "certgw audit"
grep -q 'deliver' "$T/audit" || fail "no delivery in the audit log"
pass "500, 500, 500, 201: delivered once, on attempt 4, audited"

# 400: dead letter, with the reason.
recv_mode 400 201
est_enroll "$d" 3
recv_wait_count 6 20
for i in $(seq 1 50); do
	[ "$(rcli XLEN t2:dead)" = 1 ] && break
	sleep 0.1
done
[ "$(rcli XLEN t2:dead)" = 1 ] || fail "dead letters: $(rcli XLEN t2:dead)"
rcli XRANGE t2:dead - + | grep -q 'HTTP 400' || fail "no reason HTTP 400"
pass "400: the job goes to the dead-letter stream with its reason"

# The admin's view: dist dead shows it with its reason, status counts it;
# dist retry puts it back (the receiver now accepts), dist redeliver sends
# a delivered certificate again under a new Idempotency-Key.
"$CERTGW" dist dead --dir "$d" >"$T/dead" || fail "dist dead"
grep -q "	idm	.*HTTP 400" "$T/dead" || fail "dist dead: $(cat "$T/dead")"
"$CERTGW" dist status --dir "$d" >"$T/status" || fail "dist status"
grep -q "^dead: *1$" "$T/status" || fail "dist status: $(cat "$T/status")"
grep -q "idm:delivered *2$" "$T/status" ||
    fail "dist status counters: $(cat "$T/status")"
dead_id=$(cut -f1 "$T/dead" | head -n 1)
"$CERTGW" dist retry --dir "$d" "$dead_id" >/dev/null || fail "dist retry"
recv_wait_count 7 20
check_request 7 "$T/r3.pem"
[ "$(rcli XLEN t2:dead)" = 0 ] || fail "the dead letter is still there"
serial=$(openssl x509 -in "$T/r1.pem" -noout -serial | cut -d= -f2)
"$CERTGW" dist redeliver --dir "$d" "$serial" >"$T/redo" ||
    fail "dist redeliver: $(cat "$T/redo")"
recv_wait_count 8 20
check_request 8 "$T/r1.pem"
recv_requests | tail -n 1 | grep -q '"idempotency-key": "[0-9A-F]*\.idm\.1"' ||
    fail "redelivery key: $(recv_requests | tail -n 1)"
if "$CERTGW" dist retry --dir "$d" 1-1 >/dev/null 2>&1; then
	fail "retry of an unknown dead letter succeeded"
fi
pass "dist dead, status, retry and redeliver"

# An endpoint the rule does not trust gets nothing; the job ends dead.
make_csr ec-p256 www.example.test "$T/s.csr"
"$CERTGW" issue --dir "$d" --profile server --csr "$T/s.csr" \
    --out "$T/s.pem" 2>/dev/null || fail "certgw issue"
for i in $(seq 1 100); do
	[ "$(rcli XLEN t2:dead)" = 1 ] && break
	sleep 0.1
done
[ "$(rcli XLEN t2:dead)" = 1 ] || fail "untrusted endpoint: not dead"
[ "$(recv_count)" = 8 ] || fail "the untrusted endpoint got a request"
rcli XRANGE t2:dead - + | grep -qi 'gave up after 5 attempts' ||
    fail "no 'gave up' reason: $(rcli XRANGE t2:dead - +)"
pass "untrusted endpoint: retried, then dead, nothing delivered"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve did not exit 0"
grep -q 'event=workers_stop workers=2 delivered=4' "$T/serve.log" ||
    fail "workers: $(grep workers_stop "$T/serve.log")"
pass "SIGTERM: workers stop, serve exits 0"
