#!/bin/bash
# certgw init: a root CA or root + intermediate for every key type, keys
# 0600, the gateway TLS certificate chained to the CA and recorded, a config
# that validates, encrypted keys, and refusal to overwrite an existing CA.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need python3 python3

for kt in ec-p256 ec-p384 rsa-2048 rsa-3072; do
	d=$T/root-$kt
	init_ca "$d" --key-type "$kt" --name "Test Root $kt"
	[ -f "$d/certgw.json" ] || fail "$kt: no certgw.json"
	mode=$(stat -c %a "$d/ca/root.key")
	[ "$mode" = 600 ] || fail "$kt: root.key mode is $mode, not 600"
	mode=$(stat -c %a "$d/tls/server.key")
	[ "$mode" = 600 ] || fail "$kt: server.key mode is $mode, not 600"
	openssl x509 -in "$d/ca/root.pem" -noout -subject |
	    grep -q "Test Root $kt" || fail "$kt: root subject"
	openssl verify -CAfile "$d/ca/chain.pem" "$d/tls/server.pem" \
	    >/dev/null || fail "$kt: TLS certificate does not verify"
	openssl x509 -in "$d/tls/server.pem" -noout -ext subjectAltName |
	    grep -q "DNS:localhost, IP Address:127.0.0.1" ||
	    fail "$kt: TLS certificate SANs"
	case $kt in
	ec-p256) openssl x509 -in "$d/ca/root.pem" -noout -text |
	    grep -q "prime256v1" || fail "ec-p256 root key is not P-256" ;;
	ec-p384) openssl x509 -in "$d/ca/root.pem" -noout -text |
	    grep -q "secp384r1" || fail "ec-p384 root key is not P-384" ;;
	rsa-*) openssl x509 -in "$d/ca/root.pem" -noout -text |
	    grep -q "(${kt#rsa-} bit)" || fail "$kt root key size" ;;
	esac
	"$CERTGW" check-config "$d/certgw.json" >/dev/null ||
	    fail "$kt: generated config does not validate"
	# The TLS certificate went through the CA core and is recorded.
	[ "$(cert_count "$d")" = 1 ] || fail "$kt: TLS cert not recorded"
	"$CERTGW" cert list --dir "$d" | grep -q "init" ||
	    fail "$kt: TLS cert protocol is not init"
done
pass "root CA for ec-p256 ec-p384 rsa-2048 rsa-3072"

d=$T/inter
init_ca "$d" --intermediate --name "CN=Corp Root,O=Corp" --dns gw.test \
    --dns localhost --ip 127.0.0.1 --ip ::1
[ -f "$d/ca/issuing.pem" ] || fail "no intermediate"
[ "$(grep -c BEGIN "$d/ca/chain.pem")" = 2 ] || fail "chain has not 2 certs"
openssl x509 -in "$d/ca/issuing.pem" -noout -issuer | grep -q "Corp Root" ||
    fail "intermediate not issued by the root"
openssl x509 -in "$d/ca/issuing.pem" -noout -ext basicConstraints |
    grep -q "CA:TRUE" || fail "intermediate is not a CA"
openssl verify -CAfile "$d/ca/root.pem" -untrusted "$d/ca/issuing.pem" \
    "$d/tls/server.pem" >/dev/null || fail "TLS cert does not chain to root"
openssl x509 -in "$d/tls/server.pem" -noout -ext subjectAltName |
    grep -q "DNS:gw.test, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1" ||
    fail "--dns/--ip names not in the TLS certificate"
grep -q '"cert": "ca/issuing.pem"' "$d/certgw.json" ||
    fail "config does not sign with the intermediate"
pass "root + intermediate"

# Refuses to overwrite: the files stay byte-identical.
sum=$(sha256sum "$d/ca/root.key" "$d/certgw.json")
if "$CERTGW" init --dir "$d" >"$T/again.log" 2>&1; then
	fail "init over an existing CA succeeded"
fi
grep -q "refusing to overwrite" "$T/again.log" || fail "no refusal message"
[ "$sum" = "$(sha256sum "$d/ca/root.key" "$d/certgw.json")" ] ||
    fail "existing CA was modified"
pass "refuses to overwrite"

# Encrypted keys: passphrase from a file, then from the environment.
echo "correct horse battery" >"$T/pass"
d=$T/enc
init_ca "$d" --passphrase-file "$T/pass"
grep -q "ENCRYPTED PRIVATE KEY" "$d/ca/root.key" || fail "key not encrypted"
grep -q "ENCRYPTED PRIVATE KEY" "$d/tls/server.key" ||
    fail "TLS key not encrypted"
openssl pkey -in "$d/ca/root.key" -passin "file:$T/pass" -noout ||
    fail "key does not open with the passphrase"
if openssl pkey -in "$d/ca/root.key" -passin pass:wrong -noout 2>/dev/null
then
	fail "key opens with a wrong passphrase"
fi
"$CERTGW" check-config "$d/certgw.json" >/dev/null ||
    fail "config with passphrase file does not validate"
make_csr ec-p256 enc.test "$T/enc.csr"
"$CERTGW" issue --dir "$d" --profile server --csr "$T/enc.csr" \
    --out "$T/enc.pem" 2>"$T/issue.log" || fail "issue with encrypted key"
CERTGW_TEST_PASS="correct horse battery" "$CERTGW" init --dir "$T/enc2" \
    --passphrase-env CERTGW_TEST_PASS >/dev/null || fail "--passphrase-env"
grep -q '"key_passphrase_env": "CERTGW_TEST_PASS"' "$T/enc2/certgw.json" ||
    fail "config does not name the passphrase variable"
pass "encrypted keys"

# Bad options are usage errors (exit 2) and create nothing.
set +e
"$CERTGW" init --dir "$T/bad" --key-type dsa-1024 >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "bad key type: exit $rc, not 2"
[ ! -e "$T/bad/ca" ] || fail "bad key type created files"
"$CERTGW" init --help | grep -q -- "--intermediate" || fail "--help"
pass "usage errors"
