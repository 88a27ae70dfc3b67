#!/bin/bash
# Client-certificate authentication of the gateway's own routes: the four
# refusal reasons (required, revoked, untrusted, expired) as text and as
# JSON with one log line each; revocation by this gateway and by the CRL of
# an external CA; CAs trusted with `certgw trust add` (and removed again);
# a pinned self-signed certificate; the holding tank on an
# accept-self-signed route: capture, count, accept, then mapped; a
# many-to-one rule on the issuer.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3
need sqlite3 sqlite3

d=$T/ca
init_ca "$d"
ext=$T/ext
test_ca "$ext" "Partner Issuing CA"
# The external CA keeps an index so that openssl can revoke and sign a CRL.
: >"$ext/index.txt"
echo 01 >"$ext/crlnumber"
cat >"$ext/crl.cnf" <<EOF
[ca]
default_ca = ext
[ext]
database = $ext/index.txt
crlnumber = $ext/crlnumber
default_md = sha256
default_crl_days = 7
EOF
test_leaf "$ext" "$T/partner" partner-1 client
test_leaf "$ext" "$T/gone" partner-gone client
openssl ca -config "$ext/crl.cnf" -cert "$ext/ca.pem" -keyfile "$ext/ca.key" \
    -revoke "$T/gone.pem" >/dev/null 2>&1 || fail "openssl ca -revoke"
openssl ca -config "$ext/crl.cnf" -cert "$ext/ca.pem" -keyfile "$ext/ca.key" \
    -gencrl -out "$d/partner.crl" >/dev/null 2>&1 || fail "openssl ca -gencrl"

python3 - "$d/certgw.json" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
h = c["listeners"]["https"]
h["client_cert_policy"] = {"/healthz": "require",
                           "/whoami": "accept-self-signed"}
h["client_crl"] = "partner.crl"
json.dump(c, open(p, "w"), indent=2)
EOF

# Our own device certificate, and one the admin will revoke.
issue_dev() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$1.key" -subj "/CN=$1" -out "$T/$1.csr" 2>/dev/null ||
	    fail "openssl req $1"
	"$CERTGW" issue --dir "$d" --profile device --csr "$T/$1.csr" \
	    --out "$T/$1.pem" >/dev/null 2>"$T/issue.log" ||
	    fail "issue $1: $(cat "$T/issue.log")"
}
issue_dev dev-1
issue_dev dev-revoked
# A certificate from our CA without clientAuth (the server profile).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/srv.key" -subj "/CN=srv.example" \
    -addext "subjectAltName=DNS:srv.example" -out "$T/srv.csr" 2>/dev/null
"$CERTGW" issue --dir "$d" --profile server --csr "$T/srv.csr" \
    --out "$T/srv.pem" >/dev/null 2>"$T/issue.log" ||
    fail "issue server: $(cat "$T/issue.log")"
# Self-signed, and expired from our CA key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/self.key" -subj "/CN=laptop-of-carol" -days 2 \
    -addext "extendedKeyUsage=clientAuth" -out "$T/self.pem" 2>/dev/null ||
    fail "openssl req -x509"
python3 - "$d/ca/root.pem" "$d/ca/root.key" "$T/old" <<'PY' ||
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
ca = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
cakey = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
key = ec.generate_private_key(ec.SECP256R1())
t = datetime.datetime(2020, 1, 1)
cert = (x509.CertificateBuilder().subject_name(x509.Name([
    x509.NameAttribute(x509.NameOID.COMMON_NAME, "old-device")]))
    .issuer_name(ca.subject).public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(t).not_valid_after(t + datetime.timedelta(days=30))
    .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CLIENT_AUTH]),
                   False)
    .sign(cakey, hashes.SHA256()))
open(sys.argv[3] + ".pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(sys.argv[3] + ".key", "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption()))
PY
    fail "expired certificate (python3-cryptography)"

serial=$(openssl x509 -in "$T/dev-revoked.pem" -noout -serial | cut -d= -f2)
"$CERTGW" cert revoke --dir "$d" --reason keyCompromise "$serial" \
    >/dev/null 2>"$T/rev.log" || fail "cert revoke: $(cat "$T/rev.log")"

# /healthz needs a certificate here; wait on a route that does not.
start_bg serve "$CERTGW" serve --config "$d/certgw.json"
SERVE_PID=$LAST_PID
wait_http "https://127.0.0.1:$HTTPS_PORT/ca.crt"
base=https://127.0.0.1:$HTTPS_PORT
C=(curl -s --cacert "$d/ca/chain.pem")

# call PATH NAME [curl args]: status into $code, body into $T/body; NAME
# picks $T/NAME.pem and .key ("-" for none).
call() {
	local p=$1 n=$2
	shift 2
	local cert=()
	[ "$n" = - ] || cert=(--cert "$T/$n.pem" --key "$T/$n.key")
	code=$("${C[@]}" -o "$T/body" -w '%{http_code}' "${cert[@]}" "$@" \
	    "$base$p") || true
}
# refused PATH NAME CODE DETAIL-REGEX
refused() {
	call "$1" "$2"
	[ "$code" = 403 ] || fail "$2 on $1: $code $(cat "$T/body")"
	grep -Eq "^$3: $4\$" "$T/body" ||
	    fail "$2 on $1: body '$(cat "$T/body")', want $3: $4"
	call "$1" "$2" -H 'Accept: application/json'
	[ "$code" = 403 ] || fail "$2 on $1 (JSON): $code"
	python3 - "$T/body" "$3" <<'PY' || fail "$2 on $1: JSON $(cat "$T/body")"
import json, sys
b = json.load(open(sys.argv[1]))
assert b["error"] == sys.argv[2], b
assert b["detail"], b
PY
}

call /healthz dev-1
[ "$code" = 200 ] || fail "our device on /healthz: $code $(cat "$T/body")"
refused /healthz - client_cert_required "this resource needs a client certificate"
refused /healthz dev-revoked client_cert_revoked \
    "revoked by this gateway \(keyCompromise\)"
refused /healthz old client_cert_expired "certificate has expired"
refused /healthz self client_cert_untrusted "self.signed certificate"
refused /healthz srv client_cert_untrusted \
    "the certificate may not be used for client authentication \(key usage\)"
refused /healthz partner client_cert_untrusted \
    "unable to get local issuer certificate"
pass "required, revoked (ours), expired, untrusted (self-signed, key usage, unknown CA)"

# One log line per refusal, with the reason and the thumbprint.
fp=$(openssl x509 -in "$T/dev-revoked.pem" -outform DER |
    openssl dgst -sha256 -r | cut -d' ' -f1)
grep "event=client_cert_refused" "$T/serve.log" |
    grep "reason=client_cert_revoked" | grep -q "sha256=$fp" ||
    fail "no log line for the revoked certificate"
n=$(grep -c "event=client_cert_refused" "$T/serve.log")
[ "$n" = 12 ] || fail "$n refusal log lines for 12 refusals"
pass "one log line per refusal"

# Trusting the partner CA: its device gets in, its revoked one is refused
# by the CRL, and removing the trust locks them out again.
"$CERTGW" trust add --dir "$d" "$ext/ca.pem" >"$T/trust.out" 2>&1 ||
    fail "trust add: $(cat "$T/trust.out")"
call /healthz partner
[ "$code" = 200 ] || fail "trusted partner device: $code $(cat "$T/body")"
refused /healthz gone client_cert_revoked "listed in the CRL of its issuing CA"
tid=$(sqlite3 "$d/certgw.db" "SELECT id FROM trust_anchors")
"$CERTGW" trust remove --dir "$d" "$tid" >/dev/null 2>"$T/trust.err" ||
    fail "trust remove: $(cat "$T/trust.err")"
refused /healthz partner client_cert_untrusted \
    "unable to get local issuer certificate"
pass "trust add lets a partner CA in, its CRL revokes, trust remove locks out"

# The holding tank: an unknown self-signed certificate on an
# accept-self-signed route is let through anonymously and recorded.
for i in 1 2 3; do
	call /whoami self
	[ "$code" = 200 ] || fail "/whoami self-signed: $code $(cat "$T/body")"
done
grep -q '"authenticated":false' "$T/body" || fail "anonymous: $(cat "$T/body")"
sfp=$(openssl x509 -in "$T/self.pem" -outform DER |
    openssl dgst -sha256 -r | cut -d' ' -f1)
row=$(sqlite3 "$d/certgw.db" \
    "SELECT id, count, status, subject FROM holding WHERE sha256 = '$sfp'")
hid=${row%%|*}
[ "$(echo "$row" | cut -d'|' -f2-)" = "3|0|CN=laptop-of-carol" ] ||
    fail "holding row: '$row'"
# Our own certificates never go there; they are known already.
call /whoami dev-1
[ "$code" = 200 ] || fail "/whoami dev-1: $code"
[ "$(sqlite3 "$d/certgw.db" "SELECT count(*) FROM holding")" = 1 ] ||
    fail "our certificate went to the holding tank"
pass "holding tank: self-signed seen 3 times, ours not recorded"

"$CERTGW" user add carol --dir "$d" >/dev/null 2>&1 || fail "user add carol"
"$CERTGW" holding accept --dir "$d" "$hid" --user carol >"$T/acc.out" 2>&1 ||
    fail "holding accept: $(cat "$T/acc.out")"
call /whoami self
[ "$code" = 200 ] || fail "/whoami after accept: $code"
python3 - "$T/body" <<'PY' || fail "after accept: $(cat "$T/body")"
import json, sys
b = json.load(open(sys.argv[1]))
assert b["authenticated"] is True and b["pinned"] is True, b
assert b["identity"]["name"] == "carol", b
PY
# Pinned: trusted for carol even where a certificate is required.
call /healthz self
[ "$code" = 200 ] || fail "pinned self-signed on /healthz: $code $(cat "$T/body")"
pass "accepted: the next request maps to carol, pinned, also on require routes"

# A trusted-CA certificate that maps to nobody is held too.
"$CERTGW" trust add --dir "$d" "$ext/ca.pem" >/dev/null 2>&1 || fail "trust add"
call /whoami partner
[ "$code" = 200 ] || fail "/whoami partner: $code"
grep -q '"authenticated":true' "$T/body" || fail "partner: $(cat "$T/body")"
grep -q '"identity":null' "$T/body" || fail "partner mapped: $(cat "$T/body")"
pfp=$(openssl x509 -in "$T/partner.pem" -outform DER |
    openssl dgst -sha256 -r | cut -d' ' -f1)
[ "$(sqlite3 "$d/certgw.db" \
    "SELECT status FROM holding WHERE sha256 = '$pfp'")" = 0 ] ||
    fail "the partner certificate was not held"
pass "an unmapped certificate from a trusted CA is held"

# Many-to-one: a rule on the issuer maps every partner certificate to one
# identity, at the next request.
"$CERTGW" user add partners --dir "$d" >/dev/null 2>&1 || fail "user add partners"
"$CERTGW" user rule add partners --issuer "CN=Partner Issuing CA" --dir "$d" \
    >/dev/null 2>"$T/rule.err" || fail "rule add: $(cat "$T/rule.err")"
call /whoami partner
python3 - "$T/body" <<'PY' || fail "rule mapping: $(cat "$T/body")"
import json, sys
b = json.load(open(sys.argv[1]))
assert b["authenticated"] is True and b["pinned"] is False, b
assert b["identity"]["name"] == "partners", b
PY
# A rule on another issuer does not take our own device.
call /whoami dev-1
grep -q '"identity":null' "$T/body" || fail "rule took dev-1: $(cat "$T/body")"
pass "a rule on the issuer maps the partner certificate to one identity"

kill -TERM "$SERVE_PID"
set +e
wait "$SERVE_PID"
rc=$?
set -e
[ "$rc" = 0 ] || fail "serve exited $rc on SIGTERM: $(tail -5 "$T/serve.log")"
pass "serve stops cleanly"
