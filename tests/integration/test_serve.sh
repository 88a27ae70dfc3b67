#!/bin/bash
# certgw serve end to end: TLS /healthz verified against the CA, the CA
# certificate and CRL over plain HTTP (checked with `openssl crl`), a CLI
# revocation showing in the served CRL within seconds, one log line per
# request, and a clean exit 0 on SIGTERM.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3

d=$T/ca
init_ca "$d"
start_serve "$d"

body=$(curl -sS --cacert "$d/ca/chain.pem" "https://127.0.0.1:$HTTPS_PORT/healthz")
[ "$body" = ok ] || fail "/healthz said '$body'"
curl -sS --cacert "$d/ca/chain.pem" --resolve "localhost:$HTTPS_PORT:127.0.0.1" \
    "https://localhost:$HTTPS_PORT/healthz" >/dev/null ||
    fail "TLS name localhost does not verify"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz")
[ "$code" = 200 ] || fail "HTTP /healthz: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$d/ca/chain.pem" \
    "https://127.0.0.1:$HTTPS_PORT/no/such/path")
[ "$code" = 404 ] || fail "unknown path gave $code, not 404"
# TLS 1.2 and 1.3 both work; 1.1 is refused.
for v in 1.2 1.3; do
	curl -sS --cacert "$d/ca/chain.pem" --tlsv$v --tls-max $v \
	    "https://127.0.0.1:$HTTPS_PORT/healthz" >/dev/null ||
	    fail "TLS $v refused"
done
if echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -tls1_1 \
    >/dev/null 2>&1; then
	fail "TLS 1.1 accepted"
fi
pass "healthz over TLS 1.2/1.3 and HTTP"

# The CA certificate over HTTP.
curl -sS -o "$T/ca.der" "http://127.0.0.1:$HTTP_PORT/ca.crt"
cmp -s "$T/ca.der" <(openssl x509 -in "$d/ca/root.pem" -outform DER) ||
    fail "/ca.crt is not the CA certificate"

# The CRL: signed by the CA, empty at first.
curl -sS -D "$T/crl.hdr" -o "$T/crl0.der" "http://127.0.0.1:$HTTP_PORT/crl"
grep -qi "content-type: application/pkix-crl" "$T/crl.hdr" ||
    fail "CRL content type"
openssl crl -inform DER -in "$T/crl0.der" -CAfile "$d/ca/chain.pem" -noout \
    2>&1 | grep -q "verify OK" || fail "served CRL does not verify"
openssl crl -inform DER -in "$T/crl0.der" -noout -text |
    grep -q "No Revoked Certificates" || fail "fresh CRL is not empty"
pass "CA certificate and empty CRL over HTTP"

# Issue, revoke with the CLI while serve runs, see it in the served CRL.
make_csr ec-p256 revoke-me.example "$T/r.csr"
"$CERTGW" issue --dir "$d" --profile server --csr "$T/r.csr" --out "$T/r.pem" \
    2>/dev/null || fail "issue"
openssl verify -CAfile "$d/ca/chain.pem" "$T/r.pem" >/dev/null ||
    fail "openssl verify"
serial=$(openssl x509 -in "$T/r.pem" -noout -serial | cut -d= -f2)
"$CERTGW" cert revoke --dir "$d" "$serial" --reason keyCompromise >/dev/null ||
    fail "revoke"
found=0
for _ in $(seq 1 100); do
	curl -sS -o "$T/crl1.der" "http://127.0.0.1:$HTTP_PORT/crl"
	if openssl crl -inform DER -in "$T/crl1.der" -noout -text |
	    grep -q "Serial Number: $serial"; then
		found=1
		break
	fi
	sleep 0.1
done
[ $found = 1 ] || fail "revoked serial not in the served CRL after 10s"
text=$(openssl crl -inform DER -in "$T/crl1.der" -noout -text)
echo "$text" | grep -A4 "Serial Number: $serial" | grep -q "Key Compromise" ||
    fail "CRL entry lacks the reason"
openssl crl -inform DER -in "$T/crl1.der" -CAfile "$d/ca/chain.pem" -noout \
    2>&1 | grep -q "verify OK" || fail "new CRL does not verify"
n0=$(openssl crl -inform DER -in "$T/crl0.der" -noout -crlnumber | cut -d= -f2)
n1=$(openssl crl -inform DER -in "$T/crl1.der" -noout -crlnumber | cut -d= -f2)
case "$n0$n1" in *[!0-9a-fA-Fx]*|"") fail "bad CRL numbers '$n0' '$n1'" ;; esac
[ $((n1)) -gt $((n0)) ] || fail "CRL number did not increase ($n0 -> $n1)"
# openssl verify with CRL checking now refuses the certificate.
openssl crl -inform DER -in "$T/crl1.der" -out "$T/crl1.pem"
if openssl verify -crl_check -CAfile "$d/ca/chain.pem" -CRLfile "$T/crl1.pem" \
    "$T/r.pem" >/dev/null 2>&1; then
	fail "revoked certificate still verifies with -crl_check"
fi
# The offline CRL command agrees.
"$CERTGW" crl --dir "$d" | openssl crl -noout -text |
    grep -q "Serial Number: $serial" || fail "certgw crl lacks the serial"
"$CERTGW" cert revoke --dir "$d" "$serial" 2>"$T/rr.log" &&
    fail "second revocation accepted"
grep -q "already revoked" "$T/rr.log" || fail "second revocation message"
pass "CLI revocation shows in the served CRL"

# CLI commands on the same store while serve runs must not make SQLite
# think serve is gone: the WAL stays, and serve holds no deleted files.
"$CERTGW" cert list --dir "$d" >/dev/null || fail "cert list"
[ -e "$d/certgw.db-wal" ] || fail "a CLI command deleted the WAL under serve"
if ls -l "/proc/$SERVE_PID/fd" | grep -q '(deleted)'; then
	fail "serve writes to a deleted file after CLI use"
fi
make_csr ec-p256 after-cli.example "$T/after.csr"
"$CERTGW" issue --dir "$d" --profile server --csr "$T/after.csr" \
    --out "$T/after.pem" 2>/dev/null || fail "issue after cert list"
serial2=$(openssl x509 -in "$T/after.pem" -noout -serial | cut -d= -f2)
"$CERTGW" cert revoke --dir "$d" "$serial2" >/dev/null || fail "revoke 2"
found=0
for _ in $(seq 1 100); do
	if curl -sS "http://127.0.0.1:$HTTP_PORT/crl" |
	    openssl crl -inform DER -noout -text | grep -q "$serial2"; then
		found=1
		break
	fi
	sleep 0.1
done
[ $found = 1 ] || fail "second revocation not in the served CRL"
pass "serve and CLI share the store safely"

# One log line per request, with the fields the operators grep for.
grep -q 'event=request .*method=GET path=/healthz status=200' "$T/serve.log" ||
    fail "no request log line"
grep 'path=/crl' "$T/serve.log" | grep -q 'peer=127.0.0.1:' ||
    fail "request log lacks the peer"

# SIGTERM: clean exit 0.
kill -TERM "$SERVE_PID"
set +e
wait "$SERVE_PID"
rc=$?
set -e
[ "$rc" = 0 ] || fail "serve exited $rc on SIGTERM"
pass "SIGTERM exits 0"
