#!/bin/bash
# certgw issue / cert list / cert show / audit against a CA made by init:
# requests made by `openssl req` for every key type are issued, verify with
# `openssl verify`, carry the profile's extensions and are recorded; bad
# requests are refused with a clear message, exit != 0, and nothing recorded.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need python3 python3

d=$T/ca
init_ca "$d" --intermediate
base=$(cert_count "$d")

for kt in ec-p256 ec-p384 rsa-2048 rsa-3072 rsa-4096; do
	make_csr "$kt" "$kt.example" "$T/$kt.csr" \
	    "DNS:$kt.example,DNS:www.$kt.example,IP:192.0.2.7"
	"$CERTGW" issue --dir "$d" --profile server --csr "$T/$kt.csr" \
	    --out "$T/$kt.pem" 2>"$T/issue.log" ||
	    fail "$kt: issue failed: $(cat "$T/issue.log")"
	grep -q "^issued serial=" "$T/issue.log" || fail "$kt: no serial line"
	openssl verify -CAfile "$d/ca/root.pem" -untrusted \
	    "$d/ca/issuing.pem" "$T/$kt.pem" >/dev/null ||
	    fail "$kt: openssl verify failed"
	text=$(openssl x509 -in "$T/$kt.pem" -noout -text)
	echo "$text" | grep -q "TLS Web Server Authentication" ||
	    fail "$kt: no serverAuth EKU"
	echo "$text" | grep -A1 "Key Usage: critical" |
	    grep -q "Digital Signature" || fail "$kt: key usage"
	echo "$text" | grep -q "CA:FALSE" || fail "$kt: basicConstraints"
	echo "$text" | grep -q "DNS:www.$kt.example" || fail "$kt: SAN"
	echo "$text" | grep -q "IP Address:192.0.2.7" || fail "$kt: IP SAN"
	echo "$text" | grep -q "URI:http://127.0.0.1:$HTTP_PORT/crl" ||
	    fail "$kt: CRL distribution point"
	echo "$text" | grep -q "CA Issuers - URI:http://127.0.0.1:$HTTP_PORT/ca.crt" ||
	    fail "$kt: AIA caIssuers"
	# 90 days for the server profile (notAfter - notBefore, 60 s backdate).
	nb=$(date -d "$(openssl x509 -in "$T/$kt.pem" -noout -startdate |
	    cut -d= -f2)" +%s)
	na=$(date -d "$(openssl x509 -in "$T/$kt.pem" -noout -enddate |
	    cut -d= -f2)" +%s)
	days=$(( (na - nb) / 86400 ))
	[ "$days" = 90 ] || fail "$kt: validity is $days days, not 90"
	serial=$(openssl x509 -in "$T/$kt.pem" -noout -serial | cut -d= -f2)
	[ ${#serial} -ge 32 ] || fail "$kt: serial $serial shorter than 128 bits"
	"$CERTGW" cert show --dir "$d" "$serial" --pem >"$T/shown.pem"
	cmp -s <(openssl x509 -in "$T/shown.pem" -outform DER) \
	    <(openssl x509 -in "$T/$kt.pem" -outform DER) ||
	    fail "$kt: cert show --pem differs from the issued certificate"
done
pass "issued and verified ec-p256 ec-p384 rsa-2048 rsa-3072 rsa-4096"

# The device profile: clientAuth, 365 days, CN required.
make_csr ec-p256 dev-0001 "$T/dev.csr" "DNS:dev-0001.devices.example"
"$CERTGW" issue --dir "$d" --profile device --csr "$T/dev.csr" --chain \
    --out "$T/dev.pem" 2>/dev/null || fail "device issue"
[ "$(grep -c BEGIN "$T/dev.pem")" = 3 ] || fail "--chain: not leaf + 2 CAs"
openssl x509 -in "$T/dev.pem" -noout -text |
    grep -q "TLS Web Client Authentication" || fail "device: no clientAuth"
openssl verify -CAfile "$d/ca/root.pem" -untrusted "$d/ca/issuing.pem" \
    "$T/dev.pem" >/dev/null || fail "device: openssl verify"
pass "device profile"

n=$(cert_count "$d")
[ "$n" = $((base + 6)) ] || fail "expected $((base + 6)) certificates, found $n"

# Listings: filters, JSON fields, lookup by SHA-256.
"$CERTGW" cert list --dir "$d" --profile device --json >"$T/dev.json"
python3 - "$T/dev.json" <<'PY' || fail "cert list --json contents"
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 1, rows
r = rows[0]
assert r["profile"] == "device" and r["protocol"] == "cli", r
assert r["status"] == "valid" and r["requester"].startswith("cli:"), r
assert "dev-0001" in r["subject"] and len(r["sha256"]) == 64, r
PY
sha=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["sha256"])' "$T/dev.json")
"$CERTGW" cert show --dir "$d" "$sha" | grep -q "profile:    device" ||
    fail "cert show by sha256"
"$CERTGW" cert list --dir "$d" --expiring-within 100d --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); assert len(r)==5 and all(x["profile"]=="server" for x in r), r' ||
    fail "--expiring-within 100d should list the five 90-day certificates"
"$CERTGW" cert list --dir "$d" --status revoked --json |
    python3 -c 'import json,sys; assert json.load(sys.stdin)==[]' ||
    fail "--status revoked should be empty"
pass "cert list and show"

# ---- bad input: each refused, exit != 0, message says what, nothing recorded
refuse() {
	what=$1 expect=$2
	shift 2
	before=$(cert_count "$d")
	if "$CERTGW" "$@" >"$T/out.log" 2>"$T/err.log"; then
		fail "$what: accepted"
	fi
	grep -qi -- "$expect" "$T/err.log" ||
	    fail "$what: message '$(cat "$T/err.log")' lacks '$expect'"
	[ "$(cert_count "$d")" = "$before" ] || fail "$what: something recorded"
	[ ! -s "$T/out.log" ] || fail "$what: wrote output"
	pass "refused: $what"
}

# A CSR whose signature does not verify: flip a bit in the signature.
openssl req -in "$T/ec-p256.csr" -outform DER -out "$T/good.der"
python3 - "$T/good.der" "$T/badsig.der" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-3] ^= 0x01
open(sys.argv[2], "wb").write(b)
PY
refuse "bad signature" "signature" issue --dir "$d" --profile server \
    --csr "$T/badsig.der"
make_csr rsa-1024 small.example "$T/rsa1024.csr"
refuse "RSA below minimum" "2048" issue --dir "$d" --profile server \
    --csr "$T/rsa1024.csr"
make_csr ec-p521 p521.example "$T/p521.csr"
refuse "key type not allowed" "ec-p521" issue --dir "$d" --profile server \
    --csr "$T/p521.csr"
make_csr ec-p256 mail.example "$T/email.csr" "email:a@mail.example"
refuse "SAN type not allowed" "email" issue --dir "$d" --profile server \
    --csr "$T/email.csr"
# Narrow the server profile to *.corp.example and try another domain.
json_set "$d/certgw.json" 'c["profiles"]["server"]["san"]["dns_patterns"]=["*.corp.example"]'
make_csr ec-p256 evil.example "$T/evil.csr"
refuse "SAN not allowed by pattern" "evil.example" issue --dir "$d" \
    --profile server --csr "$T/evil.csr"
make_csr ec-p256 web.corp.example "$T/corp.csr"
"$CERTGW" issue --dir "$d" --profile server --csr "$T/corp.csr" \
    --out "$T/corp.pem" 2>/dev/null || fail "allowed pattern refused"
refuse "missing file" "cannot read" issue --dir "$d" --profile server \
    --csr "$T/no-such.csr"
head -c 300 /dev/urandom >"$T/garbage.csr"
refuse "garbled file" "csr" issue --dir "$d" --profile server \
    --csr "$T/garbage.csr"
printf -- '-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n-----END CERTIFICATE REQUEST-----\n' >"$T/badpem.csr"
refuse "garbled PEM" "not valid PEM" issue --dir "$d" --profile server \
    --csr "$T/badpem.csr"
refuse "unknown profile" "no profile 'nosuch'" issue --dir "$d" \
    --profile nosuch --csr "$T/corp.csr"
make_csr ec-p256 nocn.example "$T/nocn.csr"
openssl req -new -key "$T/nocn.key" -subj "/O=NoCN" -out "$T/nocn2.csr" \
    -addext "subjectAltName=DNS:nocn.example"
refuse "required subject CN missing" "CN" issue --dir "$d" --profile device \
    --csr "$T/nocn2.csr"

# Refusals are audited.
"$CERTGW" audit --dir "$d" --json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
ref = [r for r in rows if r["action"] == "issue" and r["outcome"] == "refused"]
ok = [r for r in rows if r["action"] == "issue" and r["outcome"] == "ok"]
assert len(ref) >= 5, ref
assert len(ok) >= 8, ok
assert any(r["action"] == "init" for r in rows)
' || fail "audit log does not show issuances and refusals"
"$CERTGW" audit --dir "$d" --since 1h | grep -q "refused" ||
    fail "audit --since 1h"
pass "audit log"
