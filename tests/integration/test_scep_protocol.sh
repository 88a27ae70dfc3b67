#!/bin/bash
# SCEP (RFC 8894) protocol behaviour that certmonger and scepclient do not
# exercise, driven by scep_probe (tests/integration/scep_probe.c) against
# certgw serve on plain HTTP: enrollment by GET and POST with the reply's
# nonce, signature and cipher checked; renewal (and revoke_renewed);
# manual approval with CertPoll; GetCert, GetCRL and GetNextCACert;
# one-time challenges (reuse, expiry, subject regex); forged, tampered,
# misaddressed and weak messages; repeated messages and reused
# transactionIDs; and requests that are not SCEP at all.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
: "${SCEP_PROBE:?SCEP_PROBE must point at the scep_probe binary}"
need openssl openssl
need curl curl
need python3 python3

d=$T/ca
init_ca "$d" --intermediate
"$CERTGW" scep ra-init --dir "$d" >"$T/ra.log" 2>&1 ||
    fail "scep ra-init: $(cat "$T/ra.log")"
static='static-secret-1234'
printf '%s' "$static" >"$d/scep/challenge"
# A successor CA for GetNextCACert, and an RSA certificate that is not the
# RA's, to encrypt requests to the wrong recipient.
test_ca "$T/next" "certgw Next CA"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" \
    -subj /CN=not-the-ra -days 1 -out "$T/other.pem" 2>"$T/openssl.log" ||
    fail "openssl req: $(cat "$T/openssl.log")"
json_set "$d/certgw.json" '
import copy
c["profiles"]["held"] = copy.deepcopy(c["profiles"]["device"])
c["profiles"]["held"]["approval"] = "manual"
st = {"static_file": "scep/challenge"}
c["scep"] = {"ra_cert": "scep/ra.pem", "ra_key": "scep/ra.key",
  "services": {
    "default": {"profile": "device",
      "challenge": {"dynamic": True, "static_file": "scep/challenge"}},
    "rr": {"profile": "device", "challenge": st, "revoke_renewed": True},
    "held": {"profile": "held", "challenge": st},
    "legacy": {"profile": "device", "challenge": st, "legacy_des": True,
      "max_clock_skew_s": 0}}}'
start_serve "$d"
H=http://127.0.0.1:$HTTP_PORT
CHAIN=(-CAfile "$d/ca/root.pem" -untrusted "$d/ca/issuing.pem")

# probe NAME SERVICE ARGS...: scep_probe to SERVICE (default: /scep) with
# the RA certificate; its lines go to $T/NAME.out.  Fails when the probe
# does (no answer, or a CertRep that is not signed by the RA or does not
# answer our transactionID and senderNonce).
probe() {
	local name=$1 svc=$2 url=$H/scep
	shift 2
	[ "$svc" = default ] || url=$H/scep/$svc
	"$SCEP_PROBE" --url "$url" --ra "$d/scep/ra.pem" "$@" \
	    >"$T/$name.out" 2>"$T/$name.err" ||
	    fail "probe $name: $(cat "$T/$name.err" "$T/$name.out")"
}
# field NAME KEY: KEY's value in probe NAME's output.
field() {
	sed -n "s/^$2=//p" "$T/$1.out" | head -n 1
}
# expect NAME KEY=VALUE...: probe NAME printed each KEY=VALUE.
expect() {
	local name=$1 kv
	shift
	for kv in "$@"; do
		[ "$(field "$name" "${kv%%=*}")" = "${kv#*=}" ] ||
		    fail "$name: ${kv%%=*} is '$(field "$name" "${kv%%=*}")'," \
		    "not '${kv#*=}'"
	done
}
# refused NAME FAILINFO: probe NAME got a signed FAILURE with FAILINFO.
refused() {
	expect "$1" http=200 signature=ok transaction_id=ok \
	    recipient_nonce=ok pki_status=FAILURE "fail_info=$2"
}
# issued NAME: probe NAME got SUCCESS with a certificate for its key that
# chains to the CA, saved as $T/NAME.pem.
issued() {
	expect "$1" http=200 signature=ok transaction_id=ok \
	    recipient_nonce=ok sender_nonce=ok message_type=3 \
	    pki_status=SUCCESS certs=1 cert_key=match
	openssl verify "${CHAIN[@]}" "$T/$1.pem" >"$T/verify.log" 2>&1 ||
	    fail "$1: openssl verify: $(cat "$T/verify.log")"
}
# enroll NAME SERVICE ARGS...: a PKCSReq with a fresh key $T/NAME.key
# and CN NAME; the certificate goes to $T/NAME.pem.
enroll() {
	local name=$1 svc=$2
	shift 2
	probe "$name" "$svc" --key "$T/$name.key" --cn "$name" \
	    --out-cert "$T/$name.pem" "$@"
}
serial_of() {
	openssl x509 -in "$1" -noout -serial | cut -d= -f2
}
# store_field SERIAL KEY: a field of `certgw cert show --json`.
store_field() {
	"$CERTGW" cert show --dir "$d" --json "$1" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
# http_code ARGS...: the HTTP status curl gets; the body in $T/body.
http_code() {
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@"
}

# --- requests that are not SCEP messages get HTTP errors, in text.
[ "$(http_code "$H/scep")" = 400 ] || fail "no operation: not 400"
grep -qi '^content-type: text/plain' "$T/headers" ||
    fail "no operation: the 400 is not text/plain"
[ "$(http_code "$H/scep?operation=GetCAFoo")" = 400 ] ||
    fail "an unknown operation is not 400"
[ "$(http_code "$H/scep?operation=PKIOperation")" = 400 ] ||
    fail "PKIOperation by GET without a message is not 400"
[ "$(http_code "$H/scep?operation=PKIOperation&message=%%%%")" = 400 ] ||
    fail "a message that is not URL-escaped base64 is not 400"
probe junk-get default --garbage 300 --get
expect junk-get http=400
probe junk-post default --garbage 300
expect junk-post http=400
probe huge-post default --garbage 65537
expect huge-post http=413
[ "$(http_code "$H/scep/nope?operation=GetCACaps")" = 404 ] ||
    fail "an unknown service is not 404"
[ "$(http_code -X POST --data x "$H/scep?operation=GetCACaps")" = 405 ] ||
    fail "GetCACaps by POST is not 405"
for alias in /cgi-bin/pkiclient.exe /certsrv/mscep/mscep.dll; do
	[ "$(http_code "$H$alias?operation=GetCACaps")" = 200 ] ||
	    fail "$alias: GetCACaps is not 200"
	grep -qx SCEPStandard "$T/body" || fail "$alias: no SCEPStandard"
done
grep -qx GetNextCACert "$T/body" &&
    fail "GetCACaps offers GetNextCACert without next_ca_cert"
[ "$(http_code "$H/scep?operation=GetNextCACert")" = 404 ] ||
    fail "GetNextCACert without next_ca_cert is not 404"
pass "malformed requests: 400, 413, 404, 405 in text; aliases answer"

# --- GetNextCACert once next_ca_cert is configured (a restart).
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
_bg_forget "$SERVE_PID"
cp "$T/next/ca.pem" "$d/scep/next.pem"
json_set "$d/certgw.json" 'c["scep"]["next_ca_cert"] = "scep/next.pem"'
start_serve "$d"
curl -sf "$H/scep?operation=GetCACaps" | grep -qx GetNextCACert ||
    fail "GetCACaps does not offer GetNextCACert"
[ "$(http_code "$H/scep?operation=GetNextCACert")" = 200 ] ||
    fail "GetNextCACert: $(cat "$T/body")"
grep -qi '^content-type: application/x-x509-next-ca-cert' "$T/headers" ||
    fail "GetNextCACert content type"
openssl pkcs7 -inform DER -in "$T/body" -print_certs -out "$T/next.got" ||
    fail "GetNextCACert is not PKCS#7"
[ "$(openssl x509 -in "$T/next.got" -noout -fingerprint -sha256)" = \
    "$(openssl x509 -in "$T/next/ca.pem" -noout -fingerprint -sha256)" ] ||
    fail "GetNextCACert is not next_ca_cert"
pass "GetNextCACert: 404 without next_ca_cert, the certificate with it"

# --- enrollment by POST (AES-256) and by GET (DES3 and SHA-1).
enroll dev-post default --challenge "$static" --nonce \
    00112233445566778899aabbccddeeff
issued dev-post
expect dev-post cipher=AES-256-CBC digest=SHA256
enroll dev-get default --challenge "$static" --get --cipher DES-EDE3-CBC \
    --md SHA1
issued dev-get
expect dev-get cipher=DES-EDE3-CBC digest=SHA1
pass "PKCSReq by POST and GET: signed by the RA, our nonce, our cipher"

# --- renewal: signed by a certificate of this CA, no challenge.
old=$(serial_of "$T/dev-post.pem")
probe renew-1 default --op renewalreq --key "$T/dev-post.key" \
    --cert "$T/dev-post.pem" --cn dev-post --out-cert "$T/renew-1.pem"
issued renew-1
new=$(serial_of "$T/renew-1.pem")
[ "$new" != "$old" ] || fail "renewal returned the old certificate"
[ "$(store_field "$new" requester)" = "scep:default:renew:$old" ] ||
    fail "renewal requester: $(store_field "$new" requester)"
[ "$(store_field "$old" status)" = valid ] ||
    fail "renewal without revoke_renewed revoked the old certificate"
# A renewal keeps the subject: another name needs a challenge.
probe renew-other default --op renewalreq --key "$T/dev-post.key" \
    --cert "$T/renew-1.pem" --cn admin-console
refused renew-other badRequest
# Many clients renew with a PKCSReq signed by the old certificate.
probe renew-2 default --key "$T/dev-get.key" --cert "$T/dev-get.pem" \
    --cn dev-get --out-cert "$T/renew-2.pem"
issued renew-2
[ "$(store_field "$(serial_of "$T/renew-2.pem")" requester)" = \
    "scep:default:renew:$(serial_of "$T/dev-get.pem")" ] ||
    fail "a PKCSReq signed by our certificate is not a renewal"
# revoke_renewed: the old one is revoked, superseded, and in the CRL.
enroll dev-rr rr --challenge "$static"
issued dev-rr
rr_old=$(serial_of "$T/dev-rr.pem")
probe renew-rr rr --op renewalreq --key "$T/dev-rr.key" \
    --cert "$T/dev-rr.pem" --cn dev-rr --out-cert "$T/renew-rr.pem"
issued renew-rr
[ "$(store_field "$(serial_of "$T/renew-rr.pem")" requester)" = \
    "scep:rr:renew:$rr_old" ] || fail "rr renewal requester"
[ "$(store_field "$rr_old" status)" = revoked ] ||
    fail "revoke_renewed did not revoke $rr_old"
[ "$(store_field "$rr_old" revocation_reason)" = superseded ] ||
    fail "revoke_renewed reason: $(store_field "$rr_old" revocation_reason)"
# A revoked certificate renews nothing: without a challenge, refused.
probe renew-revoked rr --op renewalreq --key "$T/dev-rr.key" \
    --cert "$T/dev-rr.pem" --cn dev-rr
refused renew-revoked badRequest
pass "renewal without a challenge; revoke_renewed; revoked signer refused"

# --- GetCert and GetCRL.
probe getcert default --op getcert --issuer "$d/ca/issuing.pem" \
    --serial "$old" --out-cert "$T/getcert.pem"
expect getcert signature=ok recipient_nonce=ok pki_status=SUCCESS certs=1 \
    "cert_serial=$old"
cmp -s <(openssl x509 -in "$T/getcert.pem" -outform DER) \
    <(openssl x509 -in "$T/dev-post.pem" -outform DER) ||
    fail "GetCert returned another certificate"
probe getcert-unknown default --op getcert --issuer "$d/ca/issuing.pem" \
    --serial 0123456789ABCDEF
refused getcert-unknown badCertId
probe getcert-issuer default --op getcert --issuer "$d/ca/root.pem" \
    --serial "$old"
refused getcert-issuer badCertId
probe getcrl default --op getcrl --issuer "$d/ca/issuing.pem" \
    --serial "$rr_old" --out-crl "$T/getcrl.pem"
expect getcrl signature=ok recipient_nonce=ok pki_status=SUCCESS crls=1
field getcrl crl_revoked | tr , '\n' | grep -qx "$rr_old" ||
    fail "GetCRL does not list $rr_old: $(field getcrl crl_revoked)"
openssl crl -in "$T/getcrl.pem" -CAfile "$d/ca/issuing.pem" -noout \
    >"$T/crl.log" 2>&1 || fail "GetCRL signature: $(cat "$T/crl.log")"
pass "GetCert by issuer and serial, else badCertId; GetCRL lists revoked"

# --- manual approval: PENDING, CertPoll, approve and reject.
# pending_id CN: the id of the waiting SCEP request for CN.
pending_id() {
	"$CERTGW" pending list --dir "$d" --json | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin)
        if r["protocol"] == "scep" and sys.argv[1] in r["subject"]]
assert len(rows) == 1, rows
print(rows[0]["id"])' "$1"
}
# poll NAME CN TID: CertPoll for CN's transaction TID with CN's key.
poll() {
	probe "$1" held --op certpoll --key "$T/$2.key" --cn "$2" --tid "$3" \
	    --issuer "$d/ca/issuing.pem" --out-cert "$T/$1.pem"
}
n0=$(cert_count "$d")
enroll held-1 held --challenge "$static" --tid HELD-1
expect held-1 signature=ok recipient_nonce=ok pki_status=PENDING
id1=$(pending_id CN=held-1) || fail "pending list does not show held-1"
poll poll-1a held-1 HELD-1
expect poll-1a signature=ok recipient_nonce=ok pki_status=PENDING
# Another request under the pending transactionID is refused.
enroll held-x held --challenge "$static" --tid HELD-1
refused held-x badRequest
"$CERTGW" pending approve --dir "$d" "$id1" >"$T/approve.log" 2>&1 ||
    fail "pending approve: $(cat "$T/approve.log")"
poll poll-1b held-1 HELD-1
issued poll-1b
enroll held-2 held --challenge "$static" --tid HELD-2
expect held-2 pki_status=PENDING
id2=$(pending_id CN=held-2) || fail "pending list does not show held-2"
"$CERTGW" pending reject --dir "$d" "$id2" >"$T/reject.log" 2>&1 ||
    fail "pending reject: $(cat "$T/reject.log")"
poll poll-2 held-2 HELD-2
refused poll-2 badRequest
[ "$(cert_count "$d")" = $((n0 + 1)) ] ||
    fail "manual approval issued $(( $(cert_count "$d") - n0 )), not 1"
pass "manual approval: PENDING, CertPoll, approve, reject, busy tid"

# --- one-time challenges: once, unexpired, for the subject they name.
# challenge [ARGS...]: a new one-time challenge for default; sets ch, chid.
challenge() {
	"$CERTGW" scep challenge new --config "$d/certgw.json" --json "$@" \
	    >"$T/challenge.json" 2>&1 ||
	    fail "challenge new: $(cat "$T/challenge.json")"
	ch=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["challenge"])' <"$T/challenge.json")
	chid=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <"$T/challenge.json")
}
challenge
enroll once-1 default --challenge "$ch"
issued once-1
[ "$(store_field "$(serial_of "$T/once-1.pem")" requester)" = \
    "scep:default:challenge:$chid" ] || fail "one-time requester"
enroll once-2 default --challenge "$ch"
refused once-2 badRequest
enroll wrong default --challenge 0123456789abcdef0123456789abcdef
refused wrong badRequest
# The shortest TTL is a minute: age the challenge in the store instead of
# waiting for it.
challenge --ttl 60
python3 - "$d/certgw.db" "$chid" <<'PY' || fail "cannot age the challenge"
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10)
now = int(time.time())
db.execute("UPDATE scep_challenges SET created_at = ?, expires_at = ?"
           " WHERE id = ?", (now - 120, now - 1, int(sys.argv[2])))
db.commit()
PY
enroll expired default --challenge "$ch"
refused expired badRequest
challenge --subject-regex '^CN=printer-[0-9]+$'
enroll laptop-1 default --challenge "$ch"
refused laptop-1 badRequest
enroll printer-7 default --challenge "$ch"
issued printer-7
pass "one-time challenge: reuse, wrong, expired, subject regex refused"

# --- messages that fail their checks, and weak algorithms.
n0=$(cert_count "$d")
enroll forged default --challenge "$static" --tamper key
refused forged badMessageCheck
enroll bad-cipher default --challenge "$static" --tamper cipher
refused bad-cipher badMessageCheck
enroll bad-signed default --challenge "$static" --tamper signed
refused bad-signed badMessageCheck
enroll misaddressed default --challenge "$static" --to "$T/other.pem"
refused misaddressed badMessageCheck
enroll md5 default --challenge "$static" --md MD5
refused md5 badAlg
enroll des default --challenge "$static" --cipher DES-CBC
refused des badAlg
[ "$(cert_count "$d")" = "$n0" ] || fail "a refused message was issued"
enroll des-legacy legacy --challenge "$static" --cipher DES-CBC
issued des-legacy
expect des-legacy cipher=DES-EDE3-CBC
pass "forged, tampered, misaddressed: badMessageCheck; MD5, DES: badAlg"

# --- signingTime: two days old or ahead is badTime (default skew a day),
# an hour off is not, and a service with max_clock_skew_s 0 does not look.
n0=$(cert_count "$d")
enroll stale default --challenge "$static" --time-offset -172800
refused stale badTime
enroll future default --challenge "$static" --time-offset 172800
refused future badTime
[ "$(cert_count "$d")" = "$n0" ] || fail "a badTime message was issued"
enroll hour-off default --challenge "$static" --time-offset -3600
issued hour-off
enroll stale-ok legacy --challenge "$static" --time-offset -172800
issued stale-ok
pass "signingTime outside max_clock_skew_s: badTime"

# --- the same message twice: the same certificate; no second issuance.
challenge
enroll again default --challenge "$ch" --save "$T/again.der"
issued again
n0=$(cert_count "$d")
probe again-2 default --replay "$T/again.der" --key "$T/again.key" \
    --out-cert "$T/again-2.pem"
issued again-2
[ "$(field again-2 cert_serial)" = "$(field again cert_serial)" ] ||
    fail "a repeated message got another certificate"
[ "$(cert_count "$d")" = "$n0" ] || fail "a repeated message issued again"
# A resend after a lost reply: the same key, signer and CSR, a fresh
# senderNonce (other bytes), the same transactionID: the same answer, and
# the spent challenge is not asked for again.
challenge
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/resend.key" \
    -subj /CN=resend -days 1 -out "$T/resend-self.pem" 2>/dev/null ||
    fail "cannot make the resend signer"
probe resend-1 default --key "$T/resend.key" --cert "$T/resend-self.pem" \
    --cn resend --challenge "$ch" --tid RESEND-1 --out-cert "$T/resend-1.pem"
cp "$T/resend-1.pem" "$T/resend-1.keep"
probe resend-2 default --key "$T/resend.key" --cert "$T/resend-self.pem" \
    --cn resend --challenge "$ch" --tid RESEND-1 --out-cert "$T/resend-2.pem"
expect resend-2 pki_status=SUCCESS
[ "$(field resend-2 cert_serial)" = "$(field resend-1 cert_serial)" ] ||
    fail "a resent request got another certificate (or none)"
probe resend-poll default --op certpoll --key "$T/resend.key" \
    --cert "$T/resend-self.pem" --cn resend --tid RESEND-1 \
    --issuer "$d/ca/issuing.pem"
expect resend-poll pki_status=SUCCESS
pass "a repeated PKIMessage gets the same certificate; so does a resend"
