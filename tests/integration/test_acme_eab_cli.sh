#!/bin/bash
# certgw acme eab new|list|delete against a CA made by init: new prints a
# key id and a 43-character base64url HMAC key that decodes to the 32 bytes
# the store holds; list shows the keys unbound and never the key; the key is
# in no audit row and no output or log but the one `new` printed; delete
# removes a key and is audited; an unknown directory, a config without
# "acme", a bad --identifiers pattern and an unknown key id fail with a
# message and write nothing.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need python3 python3

d=$T/ca
init_ca "$d"
db=$d/certgw.db

# eab_count: keys in the store (the table the store code keeps them in).
eab_count() {
	python3 - "$db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute(
    "SELECT count(*) FROM acme_eab").fetchone()[0])
PY
}

audit_count() {
	"$CERTGW" audit --dir "$d" --json |
	    python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# Without an "acme" section there is nothing to make a key for.
if "$CERTGW" acme eab new --dir "$d" >"$T/noacme.out" 2>"$T/noacme.err"; then
	fail "new without an acme section succeeded"
fi
grep -q 'has no "acme" section' "$T/noacme.err" ||
    fail "no clear message without an acme section: $(cat "$T/noacme.err")"
pass "a config without acme is refused"

python3 - "$d/certgw.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["acme"] = {"directories": {
    "default": {"profile": "server"},
    "internal": {"profile": "server", "eab_required": True},
}}
json.dump(c, open(p, "w"), indent=2)
PY
"$CERTGW" check-config "$d/certgw.json" >"$T/check.log" 2>&1 ||
    fail "the config with acme does not check"

# new: one key for the default directory, shown in text.
"$CERTGW" --verbose acme eab new --dir "$d" >"$T/new1.out" 2>"$T/new1.log" ||
    fail "acme eab new: $(cat "$T/new1.log")"
kid1=$(sed -n 's/^kid: //p' "$T/new1.out")
key1=$(sed -n 's/^hmac_key: //p' "$T/new1.out")
[ "$(wc -l <"$T/new1.out")" = 2 ] || fail "new printed more than two lines"
echo "$kid1" | grep -Eq '^kid-[A-Za-z0-9_-]{22}$' ||
    fail "kid '$kid1' is not kid- and 22 base64url characters"
echo "$key1" | grep -Eq '^[A-Za-z0-9_-]{43}$' ||
    fail "hmac_key is not 43 base64url characters"

# The printed key is the stored one, as certbot and lego will decode it.
python3 - "$db" "$kid1" "$key1" <<'PY' || fail "printed key != stored key"
import base64, sqlite3, sys
db, kid, key = sys.argv[1:]
raw = base64.urlsafe_b64decode(key + "=")
assert len(raw) == 32, len(raw)
row = sqlite3.connect(db).execute(
    "SELECT key, directory, identifiers, account_id, bound_at "
    "FROM acme_eab WHERE kid = ?", (kid,)).fetchone()
assert row is not None
assert bytes(row[0]) == raw
assert row[1] == "default" and row[2] == "[]", row
assert row[3] in (None, "") and row[4] in (None, 0), row  # unbound
PY
pass "new prints a kid and a 32-byte key (43 base64url characters)"

# new --json for another directory with identifier patterns.
"$CERTGW" --verbose acme eab new --dir "$d" --directory internal \
    --identifiers '*.corp.example,.svc.example,10.0.0.0/8,2001:db8::/32,'\
'192.0.2.7,2001:db8::7' \
    --json >"$T/new2.json" 2>"$T/new2.log" ||
    fail "acme eab new --json: $(cat "$T/new2.log")"
read -r kid2 key2 < <(python3 - "$T/new2.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert sorted(o) == ["hmac_key", "kid"], o
print(o["kid"], o["hmac_key"])
PY
) || fail "new --json output"
echo "$key2" | grep -Eq '^[A-Za-z0-9_-]{43}$' || fail "--json hmac_key form"
[ "$kid1" != "$kid2" ] && [ "$key1" != "$key2" ] || fail "keys repeat"
pass "new --json with identifiers"

# list: both keys, unbound, never the key.
"$CERTGW" --verbose acme eab list --dir "$d" >"$T/list.out" 2>"$T/list.log" ||
    fail "acme eab list: $(cat "$T/list.log")"
grep -q "^$kid1 .* default .* - .* - .* \[\]$" "$T/list.out" ||
    fail "list: $kid1 unbound in default: $(cat "$T/list.out")"
grep "^$kid2 " "$T/list.out" | grep -q 'internal .*\["\*.corp.example"' ||
    fail "list: $kid2 with its identifiers"
"$CERTGW" acme eab list --dir "$d" --directory internal --json \
    >"$T/list.json" 2>>"$T/list.log" || fail "acme eab list --json"
python3 - "$T/list.json" "$kid2" <<'PY' || fail "list --json contents"
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 1, rows
r = rows[0]
assert r["kid"] == sys.argv[2] and r["directory"] == "internal", r
# An address alone becomes its own network.
assert r["identifiers"] == ["*.corp.example", ".svc.example",
    "10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32", "2001:db8::7/128"], r
assert r["account"] is None and r["bound_at"] is None, r
assert r["created_at"].endswith("Z"), r
assert not any("key" in k and k != "kid" for k in r), r
PY
pass "list shows the keys unbound"

# Audit: one row per key, by cli:<user>, with no secret in it.
"$CERTGW" audit --dir "$d" --json >"$T/audit.json"
python3 - "$T/audit.json" "$kid1" "$kid2" <<'PY' || fail "audit rows"
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))
        if r["action"] == "acme-eab-new"]
assert [r["target"] for r in rows] == sys.argv[2:], rows
for r in rows:
    assert r["actor"].startswith("cli:") and r["outcome"] == "ok", r
PY

# The keys appear nowhere but in what `new` printed: not in the audit
# table, not in any output or log of these commands.
python3 - "$db" "$key1" "$key2" <<'PY' || fail "a key is in the audit table"
import base64, sqlite3, sys
db, *keys = sys.argv[1:]
needles = []
for k in keys:
    raw = base64.urlsafe_b64decode(k + "=")
    needles += [k, raw.hex(), raw.hex().upper(),
                base64.b64encode(raw).decode().rstrip("=")]
con = sqlite3.connect(db)
text = "\n".join(" ".join(str(v) for v in row)
                 for row in con.execute("SELECT * FROM audit"))
for n in needles:
    assert n not in text, "key material in the audit table"
PY
for k in "$key1" "$key2"; do
	for f in "$T"/*.log "$T"/*.err "$T/list.out" "$T/list.json" \
	    "$T/audit.json"; do
		[ -f "$f" ] || continue
		if grep -qF -- "$k" "$f"; then
			fail "a key shows in $(basename "$f")"
		fi
	done
done
pass "the keys are in no audit row, output or log"

keys=$(eab_count)
rows=$(audit_count)

# An unknown directory fails with a message and writes nothing.
set +e
"$CERTGW" acme eab new --dir "$d" --directory nope >"$T/nodir.out" \
    2>"$T/nodir.err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "unknown directory: exit $rc, not 1"
grep -q "no ACME directory 'nope'" "$T/nodir.err" ||
    fail "unknown directory message: $(cat "$T/nodir.err")"
[ ! -s "$T/nodir.out" ] || fail "unknown directory printed a key"
[ "$(eab_count)" = "$keys" ] || fail "unknown directory wrote a key"
[ "$(audit_count)" = "$rows" ] || fail "unknown directory wrote audit"
pass "an unknown directory is refused"

# A bad --identifiers pattern fails and writes nothing.
for bad in 'a..example' '*.*.example' '10.0.0.1/8' 'ok.example,' \
    'ok.example,,x.example' 'host name.example'; do
	if "$CERTGW" acme eab new --dir "$d" --identifiers "$bad" \
	    >"$T/bad.out" 2>"$T/bad.err"; then
		fail "--identifiers '$bad' accepted"
	fi
	grep -q -- "--identifiers" "$T/bad.err" ||
	    fail "--identifiers '$bad': no message"
	[ ! -s "$T/bad.out" ] || fail "--identifiers '$bad' printed a key"
done
[ "$(eab_count)" = "$keys" ] || fail "a bad pattern wrote a key"
[ "$(audit_count)" = "$rows" ] || fail "a bad pattern wrote audit"
pass "bad identifier patterns are refused"

# delete: the key goes, with an audit row; again, or unknown, is exit 1.
"$CERTGW" acme eab delete --dir "$d" "$kid1" >"$T/del.out" 2>&1 ||
    fail "acme eab delete: $(cat "$T/del.out")"
grep -q "^deleted $kid1\$" "$T/del.out" || fail "delete says nothing"
"$CERTGW" acme eab list --dir "$d" >"$T/list2.out"
if grep -q "^$kid1 " "$T/list2.out"; then
	fail "deleted key still listed"
fi
grep -q "^$kid2 " "$T/list2.out" || fail "the other key went too"
[ "$(eab_count)" = $((keys - 1)) ] || fail "delete: key count"
"$CERTGW" audit --dir "$d" --json | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["action"] == "acme-eab-delete"]
assert len(rows) == 1 and rows[0]["target"] == sys.argv[1], rows
assert rows[0]["actor"].startswith("cli:"), rows
' "$kid1" || fail "delete audit row"
for k in "$kid1" kid-unknown; do
	set +e
	"$CERTGW" acme eab delete --dir "$d" "$k" >"$T/del2.out" 2>"$T/del2.err"
	rc=$?
	set -e
	[ "$rc" = 1 ] || fail "delete $k: exit $rc, not 1"
	grep -q "no EAB key '$k'" "$T/del2.err" ||
	    fail "delete $k: message: $(cat "$T/del2.err")"
done
[ "$(eab_count)" = $((keys - 1)) ] || fail "a failed delete changed keys"
pass "delete removes one key; unknown key ids are refused"
