#!/bin/bash
# SCEP without an RA (RFC 8894 §2.1): the scep section names no ra_cert,
# so the CA itself decrypts requests and signs replies.  GetCACert is then
# the CA alone as application/x-x509-ca-cert; scepclient enrolls with the
# CA's fingerprint; certmonger requests and renews (rekey); every reply is
# signed by the CA and every certificate verifies.  A CA whose key is not
# RSA cannot do this, and `certgw serve` says so and does not start.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need scepclient scep
need certmonger certmonger
need getcert certmonger
SUBMIT=/usr/lib/certmonger/scep-submit
[ -x "$SUBMIT" ] || fail "$SUBMIT is missing (apt-get install certmonger)"

# --- an EC CA cannot answer SCEP itself.
e=$T/ec
init_ca "$e"
json_set "$e/certgw.json" '
c["scep"] = {"services": {"default": {"profile": "device",
  "challenge": {"dynamic": True}}}}'
if timeout 30 "$CERTGW" serve --config "$e/certgw.json" >"$T/ec.log" 2>&1
then
	fail "serve started SCEP on an EC CA without an RA"
fi
grep -q "the CA key is not RSA" "$T/ec.log" ||
    fail "EC CA without RA: $(tail -n 3 "$T/ec.log")"
pass "an EC CA without an RA is refused at start"

# --- an RSA root CA answering SCEP itself.
d=$T/ca
init_ca "$d" --key-type rsa-2048
printf 'no-ra-secret-5678' >"$d/challenge"
json_set "$d/certgw.json" '
c["scep"] = {"services": {"default": {"profile": "device",
  "legacy_des": True,
  "challenge": {"dynamic": True, "static_file": "challenge"}}}}'
start_serve "$d"
U=http://127.0.0.1:$HTTP_PORT/scep
CA=$d/ca/root.pem

curl -sf -D "$T/h" -o "$T/cacert.der" "$U?operation=GetCACert" ||
    fail "GetCACert"
grep -qi '^content-type: application/x-x509-ca-cert' "$T/h" ||
    fail "GetCACert content type: $(grep -i content-type "$T/h")"
openssl x509 -inform DER -in "$T/cacert.der" -out "$T/cacert.pem" ||
    fail "GetCACert is not one DER certificate"
cmp -s <(openssl x509 -in "$T/cacert.pem" -outform DER) \
    <(openssl x509 -in "$CA" -outform DER) ||
    fail "GetCACert is not the CA certificate"
"$SUBMIT" -u "$U" -C >"$T/cacerts" 2>&1 ||
    fail "scep-submit -C: $(cat "$T/cacerts")"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/cacerts")" = 1 ] ||
    fail "scep-submit -C: not the CA alone"
pass "GetCACert is the CA alone"

# --- scepclient, with the CA's fingerprint.
fp=$(openssl x509 -in "$CA" -outform DER | sha256sum | cut -d' ' -f1)
mkdir -p "$T/sc"
(cd "$T/sc" && timeout 60 scepclient -server-url "$U" -ca-fingerprint "$fp" \
    -challenge no-ra-secret-5678 -private-key key.pem -certificate cert.pem \
    -cn sc-no-ra >"$T/scepclient.log" 2>&1) ||
    fail "scepclient: $(tail -n 5 "$T/scepclient.log")"
openssl verify -CAfile "$CA" "$T/sc/cert.pem" >/dev/null 2>&1 ||
    fail "openssl verify (scepclient)"
pass "scepclient enrolls against the CA"

# --- certmonger: request, then rekey (a renewal signed by the old cert).
# It trusts a reply's signer only through a chain it was given, and a CA
# alone brings none: -N names the CA (an absolute path: the daemon reads
# it).  Without -N every reply fails its signature check.
cm=$T/cm
cm_start "$cm"
getcert add-scep-ca -c certgw -u "$U" -N "$CA" >"$T/addca.log" 2>&1 ||
    fail "add-scep-ca: $(cat "$T/addca.log")"
status() {
	getcert list -i host | awk -F': ' '/^\tstatus:/ {print $2}'
}
ch=$("$CERTGW" scep challenge new --config "$d/certgw.json" |
    awk '/^challenge:/ {print $2}')
timeout 90 getcert request -c certgw -I host -f "$cm/keys/host.crt" \
    -k "$cm/keys/host.key" -N CN=cm-no-ra -L "$ch" -w >"$T/req.log" 2>&1 ||
    fail "getcert request: $(cat "$T/req.log")"
[ "$(status)" = MONITORING ] || fail "request: $(getcert list -i host)"
openssl verify -CAfile "$CA" "$cm/keys/host.crt" >/dev/null 2>&1 ||
    fail "openssl verify (certmonger request)"
s1=$(openssl x509 -in "$cm/keys/host.crt" -noout -serial)
timeout 90 getcert rekey -i host -w >"$T/rekey.log" 2>&1 ||
    fail "getcert rekey: $(cat "$T/rekey.log")"
s2=$(openssl x509 -in "$cm/keys/host.crt" -noout -serial)
[ "$(status)" = MONITORING ] && [ "$s1" != "$s2" ] ||
    fail "rekey: status $(status), serial $s1 -> $s2"
openssl verify -CAfile "$CA" "$cm/keys/host.crt" >/dev/null 2>&1 ||
    fail "openssl verify (certmonger rekey)"
pass "certmonger requests and renews against the CA"

"$CERTGW" cert list --dir "$d" --json | python3 -c '
import json, sys
who = sorted(c["requester"] for c in json.load(sys.stdin)
             if c["protocol"] == "scep")
assert len(who) == 3, who
assert who[0].startswith("scep:default:challenge:"), who
assert who[1].startswith("scep:default:renew:"), who
assert who[2] == "scep:default:static", who
' || fail "store records"
pass "certificates recorded with protocol scep and the requester"
