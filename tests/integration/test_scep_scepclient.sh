#!/bin/bash
# SCEP with micromdm's scepclient (Debian package scep) against certgw
# serve on plain HTTP: GetCACaps and GetCACert with curl, enrollment with a
# static challenge and with one-time challenges from `certgw scep challenge
# new` (a used one is refused), a wrong challenge refused, and every
# certificate verified with `openssl verify` and recorded with protocol
# scep.  scepclient 2.1 always envelopes in single DES, so the service sets
# legacy_des.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need scepclient scep

d=$T/ca
init_ca "$d" --intermediate
"$CERTGW" scep ra-init --dir "$d" >"$T/ra.log" 2>&1 ||
    fail "scep ra-init: $(cat "$T/ra.log")"
printf 'static-secret-1234' >"$d/scep/challenge"
json_set "$d/certgw.json" '
c["scep"] = {"ra_cert": "scep/ra.pem", "ra_key": "scep/ra.key",
  "services": {"default": {"profile": "device", "legacy_des": True,
    "challenge": {"dynamic": True, "static_file": "scep/challenge"}}}}'
start_serve "$d"
U=http://127.0.0.1:$HTTP_PORT/scep

# --- GetCACaps and GetCACert.
curl -sf "$U?operation=GetCACaps" >"$T/caps" || fail "GetCACaps"
for cap in POSTPKIOperation SHA-256 AES Renewal SCEPStandard; do
	grep -qx "$cap" "$T/caps" || fail "GetCACaps lacks $cap"
done
curl -sf -D "$T/h" -o "$T/cacert.p7" "$U?operation=GetCACert" ||
    fail "GetCACert"
grep -qi '^content-type: application/x-x509-ca-ra-cert' "$T/h" ||
    fail "GetCACert content type"
openssl pkcs7 -inform DER -in "$T/cacert.p7" -print_certs >"$T/cacert.pem" ||
    fail "GetCACert is not PKCS#7"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/cacert.pem")" = 3 ] ||
    fail "GetCACert: not RA + issuing + root"
curl -sf "http://127.0.0.1:$HTTP_PORT/cgi-bin/pkiclient.exe?operation=GetCACaps" |
    grep -qx SCEPStandard || fail "the pkiclient.exe alias"
pass "GetCACaps, GetCACert (RA + chain), alias"

fp=$(openssl x509 -in "$d/scep/ra.pem" -outform DER | sha256sum | cut -d' ' -f1)
# enroll NAME CHALLENGE: scepclient in its own directory (it keeps its CSR
# and self-signed certificate in the working directory).
enroll() {
	mkdir -p "$T/$1"
	(cd "$T/$1" && timeout 60 scepclient -server-url "$U" \
	    -ca-fingerprint "$fp" -challenge "$2" -private-key key.pem \
	    -certificate cert.pem -cn "$1" >"$T/scepclient-$1.log" 2>&1)
}
verify() {
	openssl verify -CAfile "$d/ca/root.pem" -untrusted "$d/ca/issuing.pem" \
	    "$T/$1/cert.pem" >/dev/null 2>&1 || fail "openssl verify $1"
	openssl x509 -in "$T/$1/cert.pem" -noout -subject | grep -q "CN *= *$1" ||
	    fail "$1: wrong subject"
}

# --- static challenge.
enroll dev-static static-secret-1234 ||
    fail "static challenge: $(tail -n 5 "$T/scepclient-dev-static.log")"
verify dev-static
pass "enrollment with the static challenge"

# --- one-time challenge, then the same one again.
ch=$("$CERTGW" scep challenge new --config "$d/certgw.json" |
    awk '/^challenge:/ {print $2}')
[ ${#ch} = 32 ] || fail "challenge new printed '$ch'"
enroll dev-once "$ch" ||
    fail "one-time challenge: $(tail -n 5 "$T/scepclient-dev-once.log")"
verify dev-once
if enroll dev-again "$ch"; then
	fail "a used one-time challenge was accepted"
fi
grep -q 'badRequest' "$T/scepclient-dev-again.log" ||
    fail "reuse: no badRequest: $(tail -n 3 "$T/scepclient-dev-again.log")"
pass "one-time challenge enrolls once, reuse refused"

# --- a wrong challenge.
if enroll dev-wrong not-the-challenge; then
	fail "a wrong challenge was accepted"
fi
pass "wrong challenge refused"

# Recorded as SCEP, with who asked.
"$CERTGW" cert list --dir "$d" --json | python3 -c '
import json, sys
scep = [c for c in json.load(sys.stdin) if c["protocol"] == "scep"]
assert len(scep) == 2, scep
who = sorted(c["requester"] for c in scep)
assert who[0].startswith("scep:default:challenge:"), who
assert who[1] == "scep:default:static", who
' || fail "store records"
pass "certificates recorded with protocol scep and the requester"
