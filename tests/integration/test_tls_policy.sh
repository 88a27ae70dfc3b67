#!/bin/bash
# Per-route client-certificate policy on the TLS listener: /healthz is
# switched to "require" in the config, /whoami is "accept" and reports on
# the presented certificate.  Checked with curl and openssl s_client using a
# CA-issued device certificate, a self-signed one, an expired one signed by
# the CA, and none.  The plain listener keeps /healthz open.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3

d=$T/ca
init_ca "$d"
python3 - "$d/certgw.json" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["listeners"]["https"]["client_cert_policy"] = {
    "/healthz": "require", "/no-such-route": "accept"}
json.dump(c, open(p, "w"), indent=2)
EOF
start_bg serve "$CERTGW" serve --config "$d/certgw.json"
SERVE_PID=$LAST_PID
# /healthz needs a certificate now; wait on a route that does not.
wait_http "https://127.0.0.1:$HTTPS_PORT/ca.crt"
base=https://127.0.0.1:$HTTPS_PORT
cacert=(--cacert "$d/ca/chain.pem")

# A device certificate from the CA (profile "device": clientAuth).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/dev.key" -subj "/CN=device-1/O=certgw test" \
    -out "$T/dev.csr" 2>/dev/null || fail "openssl req"
"$CERTGW" issue --dir "$d" --profile device --csr "$T/dev.csr" \
    --out "$T/dev.pem" 2>"$T/issue.log" || fail "issue: $(cat "$T/issue.log")"
openssl verify -CAfile "$d/ca/chain.pem" -purpose sslclient "$T/dev.pem" \
    >/dev/null || fail "device certificate does not verify for clientAuth"
dev=(--cert "$T/dev.pem" --key "$T/dev.key")

# A self-signed certificate with the same kind of key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/self.key" -subj "/CN=intruder" -days 2 \
    -addext "extendedKeyUsage=clientAuth" -out "$T/self.pem" 2>/dev/null ||
    fail "openssl req -x509"
self=(--cert "$T/self.pem" --key "$T/self.key")

# An expired certificate signed by the CA key (openssl ca sets the dates).
mkdir -p "$T/oca/new"
: >"$T/oca/index.txt"
echo 1000 >"$T/oca/serial"
cat >"$T/oca/ca.cnf" <<EOF
[ca]
default_ca = oca
[oca]
database = $T/oca/index.txt
new_certs_dir = $T/oca/new
serial = $T/oca/serial
default_md = sha256
policy = pol
x509_extensions = ext
unique_subject = no
[pol]
commonName = supplied
[ext]
extendedKeyUsage = clientAuth
keyUsage = digitalSignature
EOF
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/old.key" -subj "/CN=expired-device" -out "$T/old.csr" \
    2>/dev/null || fail "openssl req (expired)"
openssl ca -batch -config "$T/oca/ca.cnf" -cert "$d/ca/root.pem" \
    -keyfile "$d/ca/root.key" -startdate 20200101000000Z \
    -enddate 20200201000000Z -in "$T/old.csr" -out "$T/old.pem" -notext \
    >/dev/null 2>&1 || fail "openssl ca (expired)"
old=(--cert "$T/old.pem" --key "$T/old.key")

# status PATH CURL-ARGS...: the HTTP status, body in $T/body.
status() {
	p=$1
	shift
	curl -s -o "$T/body" -w '%{http_code}' "${cacert[@]}" "$@" "$base$p" ||
	    true
}

# /whoami: accept.
body=$(curl -sS "${cacert[@]}" "$base/whoami") || fail "/whoami without cert"
echo "$body" | grep -q '"authenticated":false' ||
    fail "/whoami without cert: $body"
echo "$body" | grep -q '"verify":"no client certificate"' ||
    fail "/whoami without cert verify: $body"
body=$(curl -sS "${cacert[@]}" "${dev[@]}" "$base/whoami") ||
    fail "/whoami with device cert"
echo "$body" | grep -q '"authenticated":true' || fail "/whoami good: $body"
echo "$body" | grep -q '"subject":"O=certgw test,CN=device-1"' ||
    fail "/whoami subject: $body"
echo "$body" | grep -q '"issuer":"CN=certgw Root CA"' ||
    fail "/whoami issuer: $body"
echo "$body" | grep -q '"verify":"ok"' || fail "/whoami verify: $body"
fp=$(openssl x509 -in "$T/dev.pem" -noout -fingerprint -sha256 |
    cut -d= -f2 | tr -d : | tr A-F a-f)
echo "$body" | grep -q "\"sha256\":\"$fp\"" || fail "/whoami sha256: $body"
# A presented certificate is checked on accept routes too.
[ "$(status /whoami "${self[@]}")" = 403 ] || fail "/whoami self-signed"
grep -q "^client_cert_untrusted: self.signed certificate$" "$T/body" ||
    fail "/whoami self-signed body: $(cat "$T/body")"
[ "$(status /whoami "${old[@]}")" = 403 ] || fail "/whoami expired"
grep -qx "client_cert_expired: certificate has expired" "$T/body" ||
    fail "/whoami expired body: $(cat "$T/body")"
pass "/whoami (accept): none and trusted 200, self-signed and expired 403"

# /healthz: require.
[ "$(status /healthz)" = 403 ] || fail "/healthz without cert not 403"
grep -qx "client_cert_required: this resource needs a client certificate" \
    "$T/body" ||
    fail "403 body: $(cat "$T/body")"
for v in 1.2 1.3; do
	[ "$(status /healthz "${dev[@]}" --tlsv$v --tls-max $v)" = 200 ] ||
	    fail "/healthz with device cert over TLS $v: $(cat "$T/body")"
	grep -qx ok "$T/body" || fail "/healthz body"
done
[ "$(status /healthz "${self[@]}")" = 403 ] || fail "self-signed not 403"
grep -q "^client_cert_untrusted: self.signed certificate$" "$T/body" || fail "self-signed 403 body: $(cat "$T/body")"
[ "$(status /healthz "${old[@]}")" = 403 ] || fail "expired not 403"
grep -qx "client_cert_expired: certificate has expired" "$T/body" ||
    fail "expired 403 body: $(cat "$T/body")"
# Errors are not cacheable.
curl -s -D "$T/hdr" -o /dev/null "${cacert[@]}" "$base/healthz"
grep -qi '^cache-control: no-store' "$T/hdr" || fail "403 is cacheable"
pass "/healthz (require): none 403, CA cert 200, untrusted and expired 403"

# Routes left at "ignore" do not care; plain HTTP is not overridden.
[ "$(status /crl "${self[@]}")" = 200 ] || fail "/crl with self-signed cert"
code=$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$HTTP_PORT/healthz")
[ "$code" = 200 ] || fail "plain /healthz gave $code"

# openssl s_client: the CertificateRequest names the CA, and a raw
# request with the device certificate is answered.
echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" \
    -CAfile "$d/ca/chain.pem" >"$T/sc0.out" 2>&1 || true
grep -A2 "Acceptable client certificate CA names" "$T/sc0.out" |
    grep -q "CN *= *certgw Root CA" || fail "CertificateRequest lacks the CA"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    openssl s_client -quiet -connect "127.0.0.1:$HTTPS_PORT" \
    -CAfile "$d/ca/chain.pem" -cert "$T/dev.pem" -key "$T/dev.key" \
    >"$T/sc1.out" 2>/dev/null || true
grep -q "^HTTP/1.1 200" "$T/sc1.out" || fail "s_client with device cert"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    openssl s_client -quiet -connect "127.0.0.1:$HTTPS_PORT" \
    -CAfile "$d/ca/chain.pem" >"$T/sc2.out" 2>/dev/null || true
grep -q "^HTTP/1.1 403" "$T/sc2.out" || fail "s_client without cert"
pass "s_client sees the CA names; raw requests honour the policy"

# The log: one line per request with the client certificate subject.
grep 'event=request .*path=/healthz status=200' "$T/serve.log" |
    grep -q 'client_cert="O=certgw test,CN=device-1" cert_verify=ok' ||
    fail "request log lacks the client certificate"
grep 'path=/healthz status=403' "$T/serve.log" |
    grep -q 'client_cert="CN=intruder" cert_verify=failed' ||
    fail "request log lacks the refused certificate"
grep -q 'client_cert_policy names no route.* path=/no-such-route' \
    "$T/serve.log" || fail "no warning for an override without a route"
pass "request log names client certificates"

kill -TERM "$SERVE_PID"
set +e
wait "$SERVE_PID"
rc=$?
set -e
[ "$rc" = 0 ] || fail "serve exited $rc on SIGTERM"
