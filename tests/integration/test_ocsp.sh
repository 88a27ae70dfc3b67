#!/bin/bash
# The OCSP responder (docs/ocsp.md) with `openssl ocsp` and curl: good,
# then revoked with its reason after `certgw cert revoke` in another
# process (so the cached answer is retired), unknown serials, GET with the
# base64 request in the path and its Cache-Control, nonces echoed or left
# out, the AIA OCSP URL of an issued certificate driving openssl, and a
# delegated signer made by `certgw ocsp-signer init`.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3

d=$T/ca
init_ca "$d"
ca=$d/ca/root.pem
url=http://127.0.0.1:$HTTP_PORT/ocsp

issue() {	# issue NAME: $T/NAME.pem under the server profile
	make_csr ec-p256 "$1.example" "$T/$1.csr"
	"$CERTGW" issue --dir "$d" --profile server --csr "$T/$1.csr" \
	    --out "$T/$1.pem" 2>"$T/issue.log" ||
	    fail "issue $1: $(cat "$T/issue.log")"
}

# ocsp OUT ARGS...: openssl ocsp against the responder, output in $T/OUT.
ocsp() {
	out=$1
	shift
	openssl ocsp -issuer "$ca" -CAfile "$ca" "$@" >"$T/$out" 2>&1 ||
	    fail "openssl ocsp $*: $(cat "$T/$out")"
	grep -q "Response verify OK" "$T/$out" ||
	    fail "response did not verify: $(cat "$T/$out")"
}

issue leaf
issue other
start_serve "$d"
grep -q "event=ocsp_ready signer=ca" "$T/serve.log" ||
    fail "serve did not report the OCSP responder"

# The AIA of an issued certificate names the responder, and drives openssl.
aia=$(openssl x509 -in "$T/leaf.pem" -noout -ocsp_uri)
[ "$aia" = "$url" ] || fail "AIA OCSP URL is '$aia', not $url"
ocsp good.txt -cert "$T/leaf.pem" -url "$aia"
grep -q "leaf.pem: good" "$T/good.txt" || fail "not good: $(cat "$T/good.txt")"
pass "good, by the AIA URL, signed by the CA"

# Twice without a nonce (the second from the cache), SHA-1 and SHA-256.
for md in -sha1 -sha256; do
	for i in 1 2; do
		ocsp nn.txt -no_nonce "$md" -cert "$T/leaf.pem" -url "$url" \
		    -resp_text
		grep -q "leaf.pem: good" "$T/nn.txt" || fail "$md #$i: not good"
		grep -q "OCSP Nonce" "$T/nn.txt" &&
		    fail "$md: a nonce came back unasked"
		grep -q "Hash Algorithm: ${md#-}" "$T/nn.txt" ||
		    fail "$md: answered for another CertID hash"
	done
done
# With a nonce (openssl's default): echoed, or openssl would say so.
ocsp nonce.txt -nonce -cert "$T/leaf.pem" -url "$url" -resp_text
grep -q "OCSP Nonce" "$T/nonce.txt" || fail "nonce not echoed"
grep -qi "nonce verify error\|WARNING: no nonce" "$T/nonce.txt" &&
    fail "nonce check failed: $(cat "$T/nonce.txt")"
pass "nonce echoed; no nonce without one; SHA-1 and SHA-256 CertIDs"

# Revoked from another process: the cached good answer must go at once.
serial=$(openssl x509 -in "$T/leaf.pem" -noout -serial | cut -d= -f2)
"$CERTGW" cert revoke --dir "$d" --reason keyCompromise "$serial" \
    >/dev/null || fail "cert revoke"
ocsp rev.txt -no_nonce -cert "$T/leaf.pem" -url "$url"
grep -q "leaf.pem: revoked" "$T/rev.txt" ||
    fail "not revoked after cert revoke: $(cat "$T/rev.txt")"
grep -q "Reason: keyCompromise" "$T/rev.txt" || fail "no reason"
grep -q "Revocation Time:" "$T/rev.txt" || fail "no revocation time"
ocsp still.txt -cert "$T/other.pem" -url "$url"
grep -q "other.pem: good" "$T/still.txt" || fail "other not good"
pass "revoked (keyCompromise) right after a CLI revocation"

ocsp unk.txt -serial 0x1234 -url "$url"
grep -q "0x1234: unknown" "$T/unk.txt" || fail "not unknown: $(cat "$T/unk.txt")"
pass "unknown serial"

# GET: the DER request base64-encoded and URL-escaped in the path.
openssl ocsp -issuer "$ca" -cert "$T/other.pem" -no_nonce \
    -reqout "$T/get.req" >/dev/null 2>&1 || fail "openssl -reqout"
b64=$(base64 -w0 "$T/get.req" | python3 -c \
    'import sys,urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip(), safe=""))')
for i in 1 2; do
	curl -fsS -D "$T/get.hdr" -o "$T/get.resp" "$url/$b64" ||
	    fail "GET failed"
	grep -qi "^content-type: application/ocsp-response" "$T/get.hdr" ||
	    fail "GET content type: $(cat "$T/get.hdr")"
	age=$(grep -i "^cache-control:" "$T/get.hdr" |
	    sed -n 's/.*max-age=\([0-9]*\).*/\1/p')
	[ -n "$age" ] && [ "$age" -gt 3000 ] && [ "$age" -le 3600 ] ||
	    fail "GET Cache-Control: $(cat "$T/get.hdr")"
	openssl ocsp -respin "$T/get.resp" -issuer "$ca" -CAfile "$ca" \
	    -cert "$T/other.pem" >"$T/get.txt" 2>&1 ||
	    fail "GET response: $(cat "$T/get.txt")"
	grep -q "other.pem: good" "$T/get.txt" || fail "GET: not good"
done
# Garbage in the path is malformedRequest, not an HTTP error.
curl -fsS -o "$T/bad.resp" "$url/bm90IGFuIE9DU1AgcmVxdWVzdA==" ||
    fail "bad GET failed"
openssl ocsp -respin "$T/bad.resp" -resp_text -noverify 2>&1 |
    grep -q "malformedrequest" || fail "bad GET: not malformedRequest"
# POST without the OCSP content type is refused.
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T/get.req" \
    -H 'Content-Type: text/plain' "$url")
[ "$code" = 415 ] || fail "POST text/plain: $code, not 415"
pass "GET with the request in the path (cached, max-age), bad input"

# A delegated signer: made by the CLI, loaded at start, sent along.
"$CERTGW" ocsp-signer init --dir "$d" >"$T/signer.out" 2>&1 ||
    fail "ocsp-signer init: $(cat "$T/signer.out")"
grep -q '"signer_cert": "ocsp/signer.pem"' "$T/signer.out" ||
    fail "no config snippet: $(cat "$T/signer.out")"
[ "$(stat -c %a "$d/ocsp/signer.key")" = 600 ] || fail "signer key mode"
openssl x509 -in "$d/ocsp/signer.pem" -noout -text >"$T/signer.txt"
grep -q "OCSP Signing" "$T/signer.txt" || fail "signer: no OCSPSigning"
grep -q "OCSP No Check" "$T/signer.txt" || fail "signer: no ocsp-nocheck"
"$CERTGW" ocsp-signer init --dir "$d" >/dev/null 2>&1 &&
    fail "a second init did not refuse to overwrite"
json_set "$d/certgw.json" 'c["ocsp"]={"signer_cert":"ocsp/signer.pem",
"signer_key":"ocsp/signer.key","validity_s":600}'
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
start_serve "$d"
grep -q "event=ocsp_ready signer=delegated validity_s=600" \
    "$T/serve.log" || fail "serve did not load the delegated signer"
ocsp del.txt -cert "$T/other.pem" -url "$url" -resp_text
grep -q "other.pem: good" "$T/del.txt" || fail "delegated: not good"
grep -q "Subject: CN *= *certgw Root CA OCSP Signer" "$T/del.txt" ||
    grep -q "Subject: CN=certgw Root CA OCSP Signer" "$T/del.txt" ||
    fail "delegated: the signer certificate is not in the response"
ocsp delva.txt -VAfile "$d/ocsp/signer.pem" -cert "$T/leaf.pem" -url "$url"
grep -q "leaf.pem: revoked" "$T/delva.txt" || fail "delegated: not revoked"
pass "delegated signer (ocsp-signer init), verified with -CAfile and -VAfile"
