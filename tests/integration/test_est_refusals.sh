#!/bin/bash
# EST refusals, each with its HTTP status and message, and nothing issued:
# wrong password, no credentials (401 + WWW-Authenticate), EST on the plain
# listener (404), a user not allowed on a label, renewal with an expired,
# revoked or foreign certificate or with a different subject, a CSR whose
# signature is broken, an RSA-1024 key, garbage base64, another
# Content-Transfer-Encoding, an oversized body, an unknown label or
# operation and a wrong method.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3
python3 -c 'import cryptography' 2>/dev/null ||
    fail "python3 cryptography is not installed (apt-get install python3-cryptography)"

d=$T/ca
init_ca "$d" --intermediate
pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$pw" >"$T/est.password"
hash=$("$CERTGW" passwd --iterations 1000 --password-file "$T/est.password")
json_set "$d/certgw.json" '
c["est"] = {"users": {"est": {"password_hash": "'"$hash"'"},
    "other": {"password_hash": "'"$hash"'"}},
  "labels": {"default": {"profile": "device"},
    "only-other": {"profile": "device", "users": ["other"]}}}'
start_serve "$d"
U=https://127.0.0.1:$HTTPS_PORT/.well-known/est
CURL="curl -s --cacert $d/ca/root.pem"

# post URL BODYFILE [curl options]: POST a CSR body; sets CODE, body in $T/out.
post() {
	url=$1 body=$2
	shift 2
	CODE=$($CURL "$@" -H 'Content-Type: application/pkcs10' -D "$T/hdr" \
	    --data-binary @"$body" -o "$T/out" -w '%{http_code}' "$url")
}
# expect CODE TEXT WHAT: the last answer had that status and message.
expect() {
	[ "$CODE" = "$1" ] || fail "$3: status $CODE, want $1 ($(cat "$T/out"))"
	grep -qF "$2" "$T/out" || fail "$3: body '$(cat "$T/out")', want '$2'"
	pass "$3 -> $1 $2"
}
b64csr() {
	make_csr "$1" "$2" "$T/$2.csr" "${3:-DNS:$2.example}"
	openssl req -in "$T/$2.csr" -outform DER | base64 >"$T/$2.b64"
}

base=$(cert_count "$d")
b64csr ec-p256 r-1

post "$U/simpleenroll" "$T/r-1.b64" -u "est:wrong$pw"
expect 401 "wrong user name or password" "wrong password"

post "$U/simpleenroll" "$T/r-1.b64"
expect 401 "authentication required" "no credentials"
grep -qi '^www-authenticate: Basic realm="certgw EST"' "$T/hdr" ||
    fail "401 without WWW-Authenticate"

CODE=$(curl -s -u "est:$pw" -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/r-1.b64" -o "$T/out" -w '%{http_code}' \
    "http://127.0.0.1:$HTTP_PORT/.well-known/est/simpleenroll")
expect 404 "not found" "Basic over plain HTTP (EST is HTTPS only)"

post "$U/only-other/simpleenroll" "$T/r-1.b64" -u "est:$pw"
expect 403 "user not allowed on this EST label" "user not on the label"

post "$U/nosuch/simpleenroll" "$T/r-1.b64" -u "est:$pw"
expect 404 "unknown EST label" "unknown label"
post "$U/simpleenrol" "$T/r-1.b64" -u "est:$pw"
expect 404 "unknown EST operation" "unknown operation"
CODE=$($CURL -u "est:$pw" -o "$T/out" -w '%{http_code}' "$U/simpleenroll")
expect 405 "method not allowed" "GET simpleenroll"

printf 'this is *not* base64!\n' >"$T/garbage"
post "$U/simpleenroll" "$T/garbage" -u "est:$pw"
expect 400 "request body is not base64" "garbage base64"

post "$U/simpleenroll" "$T/r-1.b64" -u "est:$pw" \
    -H 'Content-Transfer-Encoding: binary'
expect 400 "Content-Transfer-Encoding must be base64" "CTE binary"

head -c 70000 /dev/zero | tr '\0' 'A' >"$T/big"
post "$U/simpleenroll" "$T/big" -u "est:$pw"
expect 413 "request body too large" "70000-byte body"

# A CSR whose signature no longer verifies: flip the last signature byte.
openssl req -in "$T/r-1.csr" -outform DER -out "$T/r-1.der"
python3 - "$T/r-1.der" "$T/bad.b64" <<'PY'
import base64, sys
der = bytearray(open(sys.argv[1], "rb").read())
der[-1] ^= 0x01
open(sys.argv[2], "w").write(base64.b64encode(bytes(der)).decode())
PY
post "$U/simpleenroll" "$T/bad.b64" -u "est:$pw"
expect 400 "csr signature does not verify" "broken CSR signature"

b64csr rsa-1024 small
post "$U/simpleenroll" "$T/small.b64" -u "est:$pw"
[ "$CODE" = 400 ] || fail "RSA-1024: status $CODE ($(cat "$T/out"))"
grep -qi "rsa\|bits\|small" "$T/out" || fail "RSA-1024: message $(cat "$T/out")"
pass "RSA-1024 key -> 400 $(cat "$T/out")"

# One good certificate to renew with.
post "$U/simpleenroll" "$T/r-1.b64" -u "est:$pw"
[ "$CODE" = 200 ] || fail "enroll r-1: $CODE $(cat "$T/out")"
openssl base64 -d -in "$T/out" | openssl pkcs7 -inform DER -print_certs \
    -out "$T/r-1.pem"

b64csr ec-p256 someone-else
post "$U/simplereenroll" "$T/someone-else.b64" --cert "$T/r-1.pem" \
    --key "$T/r-1.key"
[ "$CODE" = 403 ] || fail "reenroll, other subject: $CODE $(cat "$T/out")"
grep -qi "subject\|SAN" "$T/out" || fail "reenroll, other subject: $(cat "$T/out")"
pass "reenroll with another subject -> 403 $(cat "$T/out")"

post "$U/simplereenroll" "$T/r-1.b64" -u "est:$pw"
expect 403 "needs the certificate to renew" "reenroll without a certificate"

# A certificate from a foreign CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/foreign.key" -out "$T/foreign.pem" -subj /CN=r-1 -days 2 \
    2>/dev/null
post "$U/simplereenroll" "$T/r-1.b64" --cert "$T/foreign.pem" \
    --key "$T/foreign.key"
expect 403 "client_cert_untrusted: " "reenroll with a foreign certificate"
post "$U/simpleenroll" "$T/r-1.b64" --cert "$T/foreign.pem" \
    --key "$T/foreign.key"
expect 403 "client_cert_untrusted: " "enroll with a foreign certificate"

# An expired certificate signed by this very issuing CA (python3
# cryptography: openssl 3.0 x509 cannot set dates in the past).
python3 - "$d/ca/issuing.pem" "$d/ca/issuing.key" "$T/expired" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
ca = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
cakey = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
key = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder()
    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "r-1")]))
    .issuer_name(ca.subject).public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=10))
    .not_valid_after(now - datetime.timedelta(days=1))
    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    .sign(cakey, hashes.SHA256()))
open(sys.argv[3] + ".pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(sys.argv[3] + ".key", "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption()))
PY
post "$U/simplereenroll" "$T/r-1.b64" --cert "$T/expired.pem" \
    --key "$T/expired.key"
expect 403 "client_cert_expired: certificate to renew is expired" "reenroll with an expired certificate"

# Revoked by the admin: renewal refused.
serial=$(openssl x509 -in "$T/r-1.pem" -noout -serial | cut -d= -f2)
"$CERTGW" cert revoke --dir "$d" "$serial" >/dev/null 2>&1 ||
    fail "certgw cert revoke failed"
post "$U/simplereenroll" "$T/r-1.b64" --cert "$T/r-1.pem" --key "$T/r-1.key"
expect 403 "client_cert_revoked: certificate to renew is revoked" "reenroll with a revoked certificate"

n=$(cert_count "$d")
[ "$n" = $((base + 1)) ] || fail "expected $((base + 1)) certificates, found $n"
pass "nothing issued by any refusal"
