#!/bin/bash
# certgw init: a root CA or root + intermediate for every key type, keys
# 0600, the gateway TLS certificate chained to the CA and recorded, a config
# that validates, an EST user whose random password is in a 0600 file and
# matches the hash in the config, encrypted keys, and refusal to overwrite
# an existing CA or secrets directory.
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

# EST: a random password, shown once, kept in secrets/est.password (0600 in
# a 0700 directory), and its PBKDF2 hash in the config's est section.
d=$T/est
init_ca "$d"
mode=$(stat -c %a "$d/secrets")
[ "$mode" = 700 ] || fail "secrets/ mode is $mode, not 700"
mode=$(stat -c %a "$d/secrets/est.password")
[ "$mode" = 600 ] || fail "est.password mode is $mode, not 600"
pw=$(cat "$d/secrets/est.password")
printf '%s' "$pw" | grep -Eq '^[A-Za-z0-9]{24}$' ||
    fail "EST password is not 24 characters from [A-Za-z0-9]"
[ "$(wc -l <"$d/secrets/est.password")" = 1 ] ||
    fail "est.password is not one line"
grep -qx "EST password: $pw" "$T/init.log" ||
    fail "the printed password differs from the file"
[ "$(grep -c "$pw" "$T/init.log")" = 1 ] ||
    fail "the password is printed more than once"
grep -qx "EST: https://127.0.0.1:$HTTPS_PORT/.well-known/est/ user est, password in $d/secrets/est.password" \
    "$T/init.log" || fail "no EST line in the init output"
! grep -q "$pw" "$d/certgw.json" || fail "the config holds the password"
# The config has the est section, its hash is well-formed and it is the
# PBKDF2-HMAC-SHA256 of the password in the file (checked independently).
python3 - "$d/certgw.json" "$d/secrets/est.password" <<'PY' ||
import base64, hashlib, json, re, sys
c = json.load(open(sys.argv[1]))
pw = open(sys.argv[2], "rb").read().rstrip(b"\n")
est = c["est"]
assert est["labels"] == {"default": {"profile": "device",
                                     "auth": ["basic", "cert"]}}, est
assert list(est["users"]) == ["est"], est
h = est["users"]["est"]["password_hash"]
m = re.fullmatch(r"pbkdf2-sha256\$(\d+)\$([A-Za-z0-9+/]{22}==)\$"
                 r"([A-Za-z0-9+/]{43}=)", h)
assert m, h
it, salt, key = int(m[1]), base64.b64decode(m[2]), base64.b64decode(m[3])
assert it == 100000, it
assert hashlib.pbkdf2_hmac("sha256", pw, salt, it, 32) == key, "no match"
assert hashlib.pbkdf2_hmac("sha256", pw + b"x", salt, it, 32) != key
PY
    fail "est section or password hash is wrong"
"$CERTGW" check-config "$d/certgw.json" >/dev/null ||
    fail "config with an est section does not validate"
# A second init gets a different password.
init_ca "$T/est2"
[ "$pw" != "$(cat "$T/est2/secrets/est.password")" ] ||
    fail "two inits made the same EST password"
pass "EST user and password"

# Refuses to overwrite: the files stay byte-identical.
sum=$(sha256sum "$d/ca/root.key" "$d/certgw.json")
if "$CERTGW" init --dir "$d" >"$T/again.log" 2>&1; then
	fail "init over an existing CA succeeded"
fi
grep -q "refusing to overwrite" "$T/again.log" || fail "no refusal message"
[ "$sum" = "$(sha256sum "$d/ca/root.key" "$d/certgw.json")" ] ||
    fail "existing CA was modified"
# A leftover secrets/ directory alone is enough to refuse.
mkdir -p "$T/leftover/secrets"
echo keep >"$T/leftover/secrets/est.password"
if "$CERTGW" init --dir "$T/leftover" >"$T/again.log" 2>&1; then
	fail "init over an existing secrets directory succeeded"
fi
grep -q "secrets already exists" "$T/again.log" || fail "no secrets refusal"
[ "$(cat "$T/leftover/secrets/est.password")" = keep ] ||
    fail "existing EST password was overwritten"
[ ! -e "$T/leftover/ca" ] || fail "refused init created a CA"
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
