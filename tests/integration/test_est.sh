#!/bin/bash
# EST (RFC 7030 / RFC 8951) with real clients, curl and openssl: cacerts,
# simpleenroll with Basic (one-line and wrapped CRLF bodies) and with a
# client certificate, a second label on another profile, simplereenroll with
# the certificate just issued, serverkeygen and csrattrs.  Every certificate
# verifies with `openssl verify` and is recorded with protocol est and the
# authenticated requester.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3

d=$T/ca
init_ca "$d" --intermediate
pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$pw" >"$T/est.password"
hash=$("$CERTGW" passwd --iterations 1000 --password-file "$T/est.password")
# An EC-only profile for the "ec" label, so csrattrs has a curve to ask for.
json_set "$d/certgw.json" '
c["profiles"]["ecdev"] = dict(c["profiles"]["device"])
c["profiles"]["ecdev"]["key_types"] = ["ec-p256"]
c["est"] = {"users": {"est": {"password_hash": "'"$hash"'"}},
  "labels": {"default": {"profile": "device"},
    "srv": {"profile": "server", "auth": ["basic"]},
    "ec": {"profile": "ecdev", "require_tls_unique": True},
    "ext": {"profile": "device", "auth": ["cert"],
      "client_ca": "'"$T"'/extca.pem"}}}'
# A label trusting another CA for client certificates ("ext").
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/extca.key" -out "$T/extca.pem" -subj "/CN=Other Device CA" \
    -days 2 2>/dev/null || fail "cannot make the other CA"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/ext.key" -subj /CN=ext-dev -out "$T/ext.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$T/ext.cnf"
openssl x509 -req -in "$T/ext.csr" -CA "$T/extca.pem" -CAkey "$T/extca.key" \
    -CAcreateserial -days 1 -extfile "$T/ext.cnf" -out "$T/ext.pem" \
    2>/dev/null || fail "cannot sign the other CA's device certificate"
start_serve "$d"
base=$(cert_count "$d")
U=https://127.0.0.1:$HTTPS_PORT/.well-known/est
CURL="curl -s --cacert $d/ca/root.pem"

# p7_to_pem FILE OUT: a base64 certs-only response to PEM certificates.
p7_to_pem() {
	openssl base64 -d -in "$1" | openssl pkcs7 -inform DER -print_certs \
	    -out "$2" || fail "$1 is not base64 PKCS#7"
}
# verify PEM: chains to the root through the issuing CA.
verify() {
	openssl verify -CAfile "$d/ca/root.pem" -untrusted "$d/ca/issuing.pem" \
	    "$1" >/dev/null || fail "openssl verify $1"
}
# --- cacerts: no authentication, the chain as certs-only PKCS#7.
$CURL -D "$T/h" -o "$T/cacerts.b64" "$U/cacerts"
grep -qi '^content-type: application/pkcs7-mime' "$T/h" || fail "cacerts type"
grep -qi '^content-transfer-encoding: base64' "$T/h" || fail "cacerts CTE"
openssl base64 -d -in "$T/cacerts.b64" |
    openssl pkcs7 -inform DER -print_certs >"$T/cacerts.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/cacerts.pem")" = 2 ] ||
    fail "cacerts: not issuing + root"
grep -q "subject=CN = certgw Root CA$" "$T/cacerts.pem" || fail "no root"
pass "cacerts: chain of 2, application/pkcs7-mime, base64"

# --- simpleenroll with Basic, the body on one line.
make_csr ec-p256 dev-1 "$T/dev1.csr" "DNS:dev-1.example"
openssl req -in "$T/dev1.csr" -outform DER | base64 -w0 >"$T/dev1.b64"
$CURL -u "est:$pw" -H 'Content-Type: application/pkcs10' -D "$T/h" \
    --data-binary @"$T/dev1.b64" -o "$T/dev1.p7" "$U/simpleenroll"
head -1 "$T/h" | grep -q ' 200 ' || fail "simpleenroll: $(head -1 "$T/h")"
grep -qi '^content-type: application/pkcs7-mime; smime-type=certs-only' \
    "$T/h" || fail "simpleenroll content type"
p7_to_pem "$T/dev1.p7" "$T/dev1.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/dev1.pem")" = 1 ] ||
    fail "simpleenroll: not exactly the issued certificate"
verify "$T/dev1.pem"
openssl x509 -in "$T/dev1.pem" -noout -subject | grep -q "CN = dev-1" ||
    fail "simpleenroll: subject"
pass "simpleenroll with Basic, one-line base64"

# --- the same with 64-column CRLF lines and Content-Transfer-Encoding.
make_csr ec-p384 dev-2 "$T/dev2.csr" "DNS:dev-2.example"
openssl req -in "$T/dev2.csr" -outform DER | base64 -w64 |
    sed 's/$/\r/' >"$T/dev2.b64"
grep -q $'\r$' "$T/dev2.b64" || fail "test body has no CRLF"
[ "$(wc -l <"$T/dev2.b64")" -gt 1 ] || fail "test body is one line"
$CURL -u "est:$pw" -H 'Content-Type: application/pkcs10' \
    -H 'Content-Transfer-Encoding: base64' --data-binary @"$T/dev2.b64" \
    -o "$T/dev2.p7" -w '%{http_code}' "$U/simpleenroll" >"$T/code"
[ "$(cat "$T/code")" = 200 ] || fail "wrapped body: $(cat "$T/code")"
p7_to_pem "$T/dev2.p7" "$T/dev2.pem"
verify "$T/dev2.pem"
pass "simpleenroll with a wrapped CRLF body and CTE base64"

# --- simpleenroll authenticated by the client certificate just issued.
make_csr ec-p256 dev-3 "$T/dev3.csr" "DNS:dev-3.example"
openssl req -in "$T/dev3.csr" -outform DER | base64 >"$T/dev3.b64"
$CURL --cert "$T/dev1.pem" --key "$T/dev1.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/dev3.b64" \
    -o "$T/dev3.p7" -w '%{http_code}' "$U/simpleenroll" >"$T/code"
[ "$(cat "$T/code")" = 200 ] || fail "cert auth: $(cat "$T/code") $(cat "$T/dev3.p7")"
p7_to_pem "$T/dev3.p7" "$T/dev3.pem"
verify "$T/dev3.pem"
pass "simpleenroll with client-certificate authentication"

# --- a label with its own client CA: its devices in, ours out.
make_csr ec-p256 ext-dev "$T/ext2.csr" "DNS:ext-dev.example"
openssl req -in "$T/ext2.csr" -outform DER | base64 >"$T/ext2.b64"
$CURL --cert "$T/ext.pem" --key "$T/ext.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/ext2.b64" \
    -o "$T/ext2.p7" -w '%{http_code}' "$U/ext/simpleenroll" >"$T/code"
[ "$(cat "$T/code")" = 200 ] || fail "label client CA: $(cat "$T/code") $(cat "$T/ext2.p7")"
p7_to_pem "$T/ext2.p7" "$T/ext2.pem"
verify "$T/ext2.pem"
$CURL --cert "$T/dev1.pem" --key "$T/dev1.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/ext2.b64" \
    -o "$T/out" -w '%{http_code}' "$U/ext/simpleenroll" >"$T/code"
[ "$(cat "$T/code")" = 403 ] || fail "label client CA took ours: $(cat "$T/code")"
grep -q "^client_cert_untrusted: " "$T/out" || fail "text: $(cat "$T/out")"
$CURL -u "est:$pw" -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/ext2.b64" -o "$T/out" -w '%{http_code}' \
    "$U/ext/simpleenroll" >"$T/code"
[ "$(cat "$T/code")" = 403 ] || fail "cert-only label took Basic: $(cat "$T/code")"
grep -q "^client_cert_required: client certificate required" "$T/out" || fail "text: $(cat "$T/out")"
pass "label with its own client CA: its device 200, ours 403, Basic 403"

# --- a second label mapped to the server profile (serverAuth, 90 days).
make_csr rsa-2048 web.example "$T/web.csr" "DNS:web.example"
openssl req -in "$T/web.csr" -outform DER | base64 >"$T/web.b64"
$CURL -u "est:$pw" -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/web.b64" -o "$T/web.p7" -w '%{http_code}' \
    "$U/srv/simpleenroll" >"$T/code"
[ "$(cat "$T/code")" = 200 ] || fail "label srv: $(cat "$T/code")"
p7_to_pem "$T/web.p7" "$T/web.pem"
verify "$T/web.pem"
openssl x509 -in "$T/web.pem" -noout -text |
    grep -q "TLS Web Server Authentication" || fail "label srv: no serverAuth"
pass "label srv issues under the server profile"

# --- simplereenroll with the certificate issued above (new key, same names).
make_csr ec-p256 dev-1 "$T/dev1b.csr" "DNS:dev-1.example"
openssl req -in "$T/dev1b.csr" -outform DER | base64 >"$T/dev1b.b64"
$CURL --cert "$T/dev1.pem" --key "$T/dev1.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/dev1b.b64" \
    -o "$T/dev1b.p7" -w '%{http_code}' "$U/simplereenroll" >"$T/code"
[ "$(cat "$T/code")" = 200 ] || fail "reenroll: $(cat "$T/code") $(cat "$T/dev1b.p7")"
p7_to_pem "$T/dev1b.p7" "$T/dev1b.pem"
verify "$T/dev1b.pem"
cmp -s <(openssl x509 -in "$T/dev1b.pem" -noout -pubkey) \
    <(openssl pkey -in "$T/dev1b.key" -pubout) ||
    fail "reenroll: certificate is not for the new key"
pass "simplereenroll with the issued certificate"

# --- serverkeygen: multipart/mixed, PKCS#8 key + certs-only certificate.
make_csr ec-p256 kg-1 "$T/kg.csr" "DNS:kg-1.example,IP:192.0.2.9"
openssl req -in "$T/kg.csr" -outform DER | base64 >"$T/kg.b64"
$CURL -u "est:$pw" -H 'Content-Type: application/pkcs10' -D "$T/h" \
    --data-binary @"$T/kg.b64" -o "$T/kg.body" "$U/serverkeygen"
head -1 "$T/h" | grep -q ' 200 ' || fail "serverkeygen: $(cat "$T/kg.body")"
python3 - "$T/h" "$T/kg.body" "$T/kg" <<'PY' || fail "serverkeygen: multipart"
import base64, re, sys
hdr = open(sys.argv[1], newline="").read()
m = re.search(r'(?im)^content-type: multipart/mixed; *boundary=([^\r\n;]+)', hdr)
assert m, hdr
body = open(sys.argv[2], "rb").read()
parts = body.split(b"--" + m.group(1).encode())
assert parts[-1].strip() == b"--", parts[-1]
parts = [p for p in parts[1:-1]]
assert len(parts) == 2, len(parts)
out = {}
for p in parts:
    head, _, data = p.partition(b"\r\n\r\n")
    ct = re.search(rb'(?i)content-type: *([^\r\n]+)', head).group(1)
    out[ct.split(b";")[0].strip().decode()] = base64.b64decode(data)
assert set(out) == {"application/pkcs8", "application/pkcs7-mime"}, out.keys()
open(sys.argv[3] + ".key.der", "wb").write(out["application/pkcs8"])
open(sys.argv[3] + ".p7.der", "wb").write(out["application/pkcs7-mime"])
PY
openssl pkcs7 -inform DER -in "$T/kg.p7.der" -print_certs -out "$T/kg.pem"
verify "$T/kg.pem"
cmp -s <(openssl x509 -in "$T/kg.pem" -noout -pubkey) \
    <(openssl pkey -inform DER -in "$T/kg.key.der" -pubout) ||
    fail "serverkeygen: key and certificate do not match"
cmp -s <(openssl x509 -in "$T/kg.pem" -noout -pubkey) \
    <(openssl pkey -in "$T/kg.key" -pubout) &&
    fail "serverkeygen: certificate carries the CSR's key"
openssl x509 -in "$T/kg.pem" -noout -text | grep -q "IP Address:192.0.2.9" ||
    fail "serverkeygen: SANs of the request not kept"
pass "serverkeygen: new key, matching certificate, requested names"

# --- csrattrs: mixed key types (device) and EC-only + channel binding (ec).
$CURL -u "est:$pw" -D "$T/h" -o "$T/attrs.b64" "$U/csrattrs"
grep -qi '^content-type: application/csrattrs' "$T/h" || fail "csrattrs type"
openssl base64 -d -in "$T/attrs.b64" | openssl asn1parse -inform DER \
    >"$T/attrs.txt" || fail "csrattrs is not DER"
grep -q ":Extension Request" "$T/attrs.txt" || fail "no extensionRequest"
grep -q ":ecdsa-with-SHA256" "$T/attrs.txt" || fail "no ecdsa-with-SHA256"
grep -q ":sha256WithRSAEncryption" "$T/attrs.txt" || fail "no sha256WithRSA"
grep -q "id-ecPublicKey" "$T/attrs.txt" && fail "key type for a mixed profile"
# RFC 7030 §4.5.1: no authentication needed for csrattrs.
$CURL -o "$T/attrs2.b64" "$U/ec/csrattrs"
openssl base64 -d -in "$T/attrs2.b64" | openssl asn1parse -inform DER \
    >"$T/attrs2.txt" || fail "ec csrattrs is not DER"
grep -q ":id-ecPublicKey" "$T/attrs2.txt" || fail "no id-ecPublicKey"
grep -q ":prime256v1" "$T/attrs2.txt" || fail "no curve"
grep -q ":challengePassword" "$T/attrs2.txt" || fail "no challengePassword"
pass "csrattrs per label"

# --- every certificate is recorded with protocol est and its requester.
n=$(cert_count "$d")
[ "$n" = $((base + 7)) ] || fail "expected $((base + 7)) certificates, found $n"
"$CERTGW" cert list --dir "$d" --json >"$T/list.json"
python3 - "$T/list.json" <<'PY' || fail "cert list: protocol/requester"
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["protocol"] == "est"]
by = {}
for r in rows:
    by.setdefault(r["requester"], []).append(r["subject"])
assert len(rows) == 7, rows
assert len(by.get("est:basic:est", [])) == 4, by
assert sorted(by.get("est:cert:CN=dev-1", [])) == ["CN=dev-1", "CN=dev-3"], by
assert by.get("est:cert:CN=ext-dev") == ["CN=ext-dev"], by
PY
pass "recorded with protocol est, requesters est:basic:est and est:cert:CN=dev-1"
