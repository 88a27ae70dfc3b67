#!/bin/bash
# Distribution rules against a live receiver: a certificate that two rules
# match is pushed by both, each with its own URL, payload and
# Idempotency-Key; a rule that matches nothing sends nothing; Basic auth
# goes along when a rule asks for it; and a receiver that is down for a
# while gets the job once it is back (same address, new process).
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
printf 's3cret-basic\n' >"$T/basic.pass"
chmod 600 "$T/basic.pass"
json_set "$d/certgw.json" '
tls = {"client_cert": "'"$T"'/push.pem", "client_key": "'"$T"'/push.key",
       "ca_file": "'"$RECV_CA"'"}
base = "https://127.0.0.1:'"$RECV_PORT"'"
c["redis"] = {"url": "redis://127.0.0.1:'"$REDIS_PORT"'/0"}
c["distribution"] = {"workers": 2, "rules": [
  {"name": "a", "match": {"protocols": ["est"]}, "url": base + "/a/{serial}",
   "payload": "chain", "encoding": "pem", "tls": tls,
   "auth": {"basic": {"user": "certmgr",
                      "password_file": "'"$T"'/basic.pass"}},
   "retry": {"initial_backoff_ms": 100, "max_backoff_ms": 400}},
  {"name": "b", "match": {"san_regex": "^dev-[0-9]+$"},
   "url": base + "/b/{serial}", "payload": "json", "tls": tls,
   "retry": {"initial_backoff_ms": 100, "max_backoff_ms": 400}},
  {"name": "never", "match": {"profiles": ["server"]},
   "url": base + "/never/{serial}", "tls": tls}]}'
start_serve "$d"

est_enroll "$d" 1
recv_wait_count 2 20
sleep 0.5
recv_requests >"$T/reqs"
python3 - "$T/reqs" "$T/r1.pem" <<'PY' || fail "the two pushes are wrong"
import base64, json, subprocess, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(reqs) == 2, [r["path"] for r in reqs]
by = {r["path"].split("/")[1]: r for r in reqs}
assert set(by) == {"a", "b"}, by.keys()
a, b = by["a"], by["b"]
text = open(sys.argv[2]).read()
begin = text.index("-----BEGIN CERTIFICATE-----")
end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
want = text[begin:end]
body = base64.b64decode(a["body_b64"]).decode()
assert body.startswith(want.strip()), "rule a: leaf PEM first"
assert body.count("BEGIN CERTIFICATE") == 2, "rule a: leaf and CA"
assert a["headers"]["content-type"] == "application/x-pem-file"
auth = base64.b64decode(a["headers"]["authorization"].split()[1]).decode()
assert auth == "certmgr:s3cret-basic", "rule a: Basic auth"
assert "authorization" not in b["headers"], "rule b sent credentials"
j = json.loads(base64.b64decode(b["body_b64"]))
assert j["pem"].strip() == want.strip(), "rule b: JSON pem"
assert a["headers"]["idempotency-key"].endswith(".a.0")
assert b["headers"]["idempotency-key"].endswith(".b.0")
PY
pass "two matching rules push to both, each its own way; none to the third"

# The receiver goes away; the job waits and retries; it comes back.
stop_receiver
est_enroll "$d" 2
sleep 1.5
start_bg recv-r1b /usr/bin/python3 \
    "$CERTGW_SRC/tests/integration/idm_receiver.py" \
    --port "$RECV_PORT" --control-port "$RECV_CTL_PORT" \
    --cert "$T/r1/server.pem" --key "$T/r1/server.key" \
    --client-ca "$T/pushca/ca.pem" --record "$T/r1/requests2.jsonl"
serial=$(openssl x509 -in "$T/r2.pem" -noout -serial | cut -d= -f2)
serial=${serial##0}
for i in $(seq 1 100); do
	[ "$(grep -c "/$serial\"" "$T/r1/requests2.jsonl" 2>/dev/null)" = 2 ] &&
	    break
	sleep 0.2
done
[ "$(grep -c "/$serial\"" "$T/r1/requests2.jsonl" 2>/dev/null)" = 2 ] ||
    fail "not delivered after the receiver came back"
grep -q 'event=retry rule=a' "$T/serve.log" || fail "no retry was logged"
pass "receiver down for a while: both jobs delivered once it is back"
