#!/bin/bash
# certgw check-config: errors name the file, the line and the JSON path;
# serve refuses to start on the same errors.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need python3 python3

d=$T/ca
init_ca "$d"
"$CERTGW" check-config "$d/certgw.json" | grep -q "ok (2 profiles)" ||
    fail "generated config"

# expect_error EXPECTED: check-config the edited copy must print EXPECTED.
expect_error() {
	if "$CERTGW" check-config "$d/bad.json" >"$T/out" 2>&1; then
		fail "accepted: $1"
	fi
	grep -qF -- "$1" "$T/out" || fail "expected '$1', got '$(cat "$T/out")'"
	pass "error: $1"
}

# Place the bad value on a known line: edit the text, not the JSON.
cp "$d/certgw.json" "$d/bad.json"
line=$(grep -n '"validity_days": 365' "$d/bad.json" | cut -d: -f1)
sed -i 's/"validity_days": 365/"validity_days": -5/' "$d/bad.json"
expect_error "bad.json:$line: profiles.device.validity_days: expected"

cp "$d/certgw.json" "$d/bad.json"
line=$(grep -n '"threads"' "$d/bad.json" | cut -d: -f1)
sed -i 's/"threads": 0/"threads": 0, "colour": "blue"/' "$d/bad.json"
expect_error "bad.json:$line: colour: unknown key"

cp "$d/certgw.json" "$d/bad.json"
sed -i 's#"tls/server.key"#"tls/missing.key"#' "$d/bad.json"
line=$(grep -n 'missing.key' "$d/bad.json" | cut -d: -f1)
expect_error "bad.json:$line: listeners.https.key"

cp "$d/certgw.json" "$d/bad.json"
sed -i 's/"rsa"/"rsa-512"/' "$d/bad.json"
expect_error "profiles.server.key_types[2]"

printf '{\n  "threads": 1,\n  "threads": 2\n}\n' >"$d/bad.json"
expect_error "bad.json:3"

printf '{\n  "listeners": {\n' >"$d/bad.json"
expect_error "bad.json:"

if "$CERTGW" serve --config "$d/bad.json" >"$T/serve.out" 2>&1; then
	fail "serve started with a broken config"
fi
pass "serve refuses a broken config"
