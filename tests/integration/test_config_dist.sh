#!/bin/bash
# certgw check-config on the "redis" and "distribution" sections: a good
# file whose rule pushes with a PKCS#12 client identity, then a wrong
# keystore password, a missing ca_file and rules without "redis", each
# reported with the file, the line and the JSON path.  The keystore
# password never appears in the output.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need python3 python3
need openssl openssl

d=$T/ca
init_ca "$d"

# The client identity a rule pushes with: a key, its certificate, and a
# PKCS#12 of both locked with the first line of push.pass.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/push.key" -out "$d/push.pem" -subj "/CN=certgw push" \
    -days 1 2>"$T/openssl.log" ||
    fail "openssl req failed: $(cat "$T/openssl.log")"
printf 'p12-Pa55word\n' >"$d/push.pass"
printf 'not-the-password\n' >"$d/wrong.pass"
chmod 600 "$d/push.key" "$d/push.pass" "$d/wrong.pass"
openssl pkcs12 -export -inkey "$d/push.key" -in "$d/push.pem" \
    -out "$d/push.p12" -passout "file:$d/push.pass" 2>"$T/openssl.log" ||
    fail "openssl pkcs12 failed: $(cat "$T/openssl.log")"
chmod 600 "$d/push.p12"

json_set "$d/certgw.json" '
c["redis"] = {"url": "redis://127.0.0.1:6379/0", "key_prefix": "certgw:"}
c["distribution"] = {"workers": 1, "rules": [{
    "name": "idm",
    "match": {"profiles": ["device"], "protocols": ["est", "cli"]},
    "url": "https://idm.example/certs/{tenant}/{serial}",
    "vars": {"tenant": "acme"},
    "payload": "chain", "encoding": "pem",
    "tls": {"client_p12": "push.p12",
            "client_p12_password_file": "push.pass",
            "ca_file": "push.pem"},
    "retry": {"max_attempts": 5}}]}'
"$CERTGW" check-config "$d/certgw.json" >"$T/out" 2>&1 ||
    fail "good config refused: $(cat "$T/out")"
grep -q "ok (2 profiles)" "$T/out" || fail "unexpected: $(cat "$T/out")"
pass "a rule with a PKCS#12 identity passes check-config"

# expect_error EXPECTED: check-config on bad.json must fail with EXPECTED.
expect_error() {
	if "$CERTGW" check-config "$d/bad.json" >"$T/out" 2>&1; then
		fail "accepted: $1"
	fi
	grep -qF -- "$1" "$T/out" || fail "expected '$1', got '$(cat "$T/out")'"
	if grep -q -e 'p12-Pa55word' -e 'not-the-password' "$T/out"; then
		fail "a password shows in the output: $(cat "$T/out")"
	fi
	pass "error: $1"
}

# line KEY: the line of the first "KEY": in bad.json.
line() {
	grep -n "\"$1\":" "$d/bad.json" | head -n 1 | cut -d: -f1
}

cp "$d/certgw.json" "$d/bad.json"
json_set "$d/bad.json" \
    'c["distribution"]["rules"][0]["tls"]["client_p12_password_file"] = "wrong.pass"'
expect_error "bad.json:$(line client_p12): distribution.rules[0].tls.client_p12: cannot open keystore push.p12: wrong password or not PKCS#12"

cp "$d/certgw.json" "$d/bad.json"
json_set "$d/bad.json" \
    'c["distribution"]["rules"][0]["tls"]["ca_file"] = "missing-ca.pem"'
expect_error "bad.json:$(line ca_file): distribution.rules[0].tls.ca_file: cannot read file: No such file or directory"

cp "$d/certgw.json" "$d/bad.json"
json_set "$d/bad.json" 'del c["redis"]'
expect_error "bad.json:$(line distribution): distribution: rules need a \"redis\" section for their queue"

cp "$d/certgw.json" "$d/bad.json"
json_set "$d/bad.json" 'c["redis"]["url"] = "rediss://127.0.0.1:6380"'
expect_error "bad.json:$(line url): redis.url: TLS to Redis is not supported yet"

if "$CERTGW" serve --config "$d/bad.json" >"$T/serve.out" 2>&1; then
	fail "serve started with a broken config"
fi
pass "serve refuses a broken distribution config"
