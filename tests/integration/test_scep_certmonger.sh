#!/bin/bash
# SCEP with certmonger against certgw serve: the daemon runs without D-Bus
# on a private socket with its state in the test directory; scep-submit's
# GetCACaps and GetCACert; `getcert add-scep-ca`, `getcert request` with a
# one-time challenge (certmonger uses GET for PKIOperation); `getcert
# resubmit` (the same key, a reused transactionID, signed by the current
# certificate: a renewal) and `getcert rekey` (a new key, a RenewalReq).
# Every certificate verifies with `openssl verify`.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need certmonger certmonger
need getcert certmonger
SUBMIT=/usr/lib/certmonger/scep-submit
[ -x "$SUBMIT" ] || fail "$SUBMIT is missing (apt-get install certmonger)"

d=$T/ca
init_ca "$d" --intermediate
"$CERTGW" scep ra-init --dir "$d" >"$T/ra.log" 2>&1 ||
    fail "scep ra-init: $(cat "$T/ra.log")"
json_set "$d/certgw.json" '
c["scep"] = {"ra_cert": "scep/ra.pem", "ra_key": "scep/ra.key",
  "services": {"default": {"profile": "device",
    "challenge": {"dynamic": True}}}}'
start_serve "$d"
U=http://127.0.0.1:$HTTP_PORT/scep

# --- the helper alone.
"$SUBMIT" -u "$U" -c >"$T/caps" 2>&1 || fail "scep-submit -c: $(cat "$T/caps")"
grep -qx Renewal "$T/caps" || fail "scep-submit -c: no Renewal"
"$SUBMIT" -u "$U" -C >"$T/cacerts" 2>&1 ||
    fail "scep-submit -C: $(cat "$T/cacerts")"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/cacerts")" -ge 2 ] ||
    fail "scep-submit -C: no RA and CA"
pass "scep-submit -c and -C"

# --- the daemon on a private socket, its files under $T/cm.
cm=$T/cm
cm_start "$cm"
getcert add-scep-ca -c certgw -u "$U" >"$T/addca.log" 2>&1 ||
    fail "add-scep-ca: $(cat "$T/addca.log")"

# status ID: the request's status line.
status() {
	getcert list -i "$1" | awk -F': ' '/^\tstatus:/ {print $2}'
}
verify() {
	openssl verify -CAfile "$d/ca/root.pem" -untrusted "$d/ca/issuing.pem" \
	    "$cm/keys/host.crt" >/dev/null 2>&1 || fail "openssl verify ($1)"
}
serial() {
	openssl x509 -in "$cm/keys/host.crt" -noout -serial
}

ch=$("$CERTGW" scep challenge new --config "$d/certgw.json" |
    awk '/^challenge:/ {print $2}')
timeout 90 getcert request -c certgw -I host -f "$cm/keys/host.crt" \
    -k "$cm/keys/host.key" -N CN=cm-host -L "$ch" -w >"$T/request.log" 2>&1 ||
    fail "getcert request: $(cat "$T/request.log")"
[ "$(status host)" = MONITORING ] ||
    fail "request: status $(status host): $(getcert list -i host)"
verify request
openssl x509 -in "$cm/keys/host.crt" -noout -subject | grep -q 'CN *= *cm-host' ||
    fail "request: wrong subject"
s1=$(serial)
pass "getcert request with a one-time challenge"

timeout 90 getcert resubmit -i host -w >"$T/resubmit.log" 2>&1 ||
    fail "getcert resubmit: $(cat "$T/resubmit.log")"
s2=$(serial)
[ "$(status host)" = MONITORING ] && [ "$s1" != "$s2" ] ||
    fail "resubmit: status $(status host), serial $s1 -> $s2"
verify resubmit
pass "getcert resubmit renews (same key)"

key1=$(openssl pkey -in "$cm/keys/host.key" -pubout | sha256sum)
timeout 90 getcert rekey -i host -w >"$T/rekey.log" 2>&1 ||
    fail "getcert rekey: $(cat "$T/rekey.log")"
s3=$(serial)
key2=$(openssl pkey -in "$cm/keys/host.key" -pubout | sha256sum)
[ "$(status host)" = MONITORING ] && [ "$s3" != "$s2" ] &&
    [ "$key1" != "$key2" ] ||
    fail "rekey: status $(status host), serial $s2 -> $s3"
verify rekey
pass "getcert rekey renews with a new key"

# The renewals were authorized by the previous certificate, not a challenge.
"$CERTGW" cert list --dir "$d" --json | python3 -c '
import json, sys
who = [c["requester"] for c in json.load(sys.stdin) if c["protocol"] == "scep"]
assert len(who) == 3, who
assert sum(w.startswith("scep:default:renew:") for w in who) == 2, who
' || fail "renewals not recorded as such"
pass "renewals recorded as renewals"
