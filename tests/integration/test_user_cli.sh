#!/bin/bash
# certgw user add|list|show|disable|enable|role|add-cert against a store
# made by init: identities are added once (a second add of a name, a bad
# name and a bad role are refused and write nothing); add-cert maps a
# SHA-256 or SHA-1 thumbprint as pasted (colons, upper case) or a common
# name, warns that this does not make the certificate trusted, and refuses
# a certificate already mapped and a malformed thumbprint; show and list
# give the same facts in text and JSON; every change is in the audit log.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need python3 python3

d=$T/ca
init_ca "$d"
# user ARGS...: certgw user ARGS... on this store.
user() {
	"$CERTGW" user "$@" --dir "$d"
}

ident_count() {
	python3 - "$d/certgw.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM identities").fetchone()[0],
      db.execute("SELECT count(*) FROM ident_maps").fetchone()[0])
PY
}

# --- add, and what is refused.
user add alice --email alice@corp.example --org Corp --role admin \
    >"$T/add.out" 2>&1 || fail "user add: $(cat "$T/add.out")"
grep -q 'added identity alice' "$T/add.out" || fail "add: $(cat "$T/add.out")"
user add printer-7 >/dev/null 2>&1 || fail "user add printer-7"
before=$(ident_count)
if user add alice >/dev/null 2>"$T/dup.err"; then
	fail "a second alice was added"
fi
grep -q 'exists' "$T/dup.err" || fail "duplicate: $(cat "$T/dup.err")"
[ "$(exit_of user add 'no spaces')" = 1 ] ||
    fail "a bad name was not refused with exit 1"
[ "$(exit_of user add carol --role root)" = 2 ] ||
    fail "a bad role was not a usage error"
[ "$(ident_count)" = "$before" ] || fail "a refused add wrote something"
pass "user add once; duplicate, bad name and bad role refused"

# --- add-cert.
sha256=$(python3 -c 'print(":".join(["AB"] * 32))')
user add-cert alice --thumbprint "$sha256" >"$T/map.out" 2>&1 ||
    fail "add-cert sha256: $(cat "$T/map.out")"
grep -q "mapped sha256 $(printf 'ab%.0s' $(seq 32)) to alice" "$T/map.out" ||
    fail "add-cert: $(cat "$T/map.out")"
grep -q 'does not make the certificate trusted' "$T/map.out" ||
    fail "add-cert did not say it trusts nothing"
user add-cert printer-7 --thumbprint "$(printf 'CD%.0s' $(seq 20))" \
    >/dev/null 2>&1 || fail "add-cert sha1"
user add-cert printer-7 --cn printer-7.corp.example >/dev/null 2>&1 ||
    fail "add-cert cn"
before=$(ident_count)
if user add-cert printer-7 --thumbprint "$sha256" >/dev/null \
    2>"$T/map-dup.err"; then
	fail "one certificate was mapped to two identities"
fi
grep -q 'mapped already' "$T/map-dup.err" ||
    fail "map duplicate: $(cat "$T/map-dup.err")"
[ "$(exit_of user add-cert alice --thumbprint abcd)" = 2 ] ||
    fail "a short thumbprint was not a usage error"
[ "$(exit_of user add-cert alice --thumbprint "$sha256" --cn x)" = 2 ] ||
    fail "--thumbprint with --cn was not a usage error"
if user add-cert nobody --cn x >/dev/null 2>&1; then
	fail "a mapping to an unknown identity was made"
fi
[ "$(ident_count)" = "$before" ] || fail "a refused add-cert wrote something"
pass "add-cert by SHA-256, SHA-1 and CN; duplicates and bad input refused"

# --- show, list, disable, role.
user disable printer-7 >/dev/null || fail "user disable"
user role printer-7 operator >/dev/null || fail "user role"
user show printer-7 --json >"$T/show.json" || fail "user show --json"
user list --json >"$T/list.json" || fail "user list --json"
python3 - "$T/show.json" "$T/list.json" <<'PY' || fail "show/list JSON"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["name"] == "printer-7" and s["disabled"] is True, s
assert s["role"] == "operator", s
kinds = sorted((m["kind"], m["value"]) for m in s["mappings"])
assert kinds == [("cn", "printer-7.corp.example"), ("sha1", "cd" * 20)], kinds
assert all(m["source"] == "manual" and not m["pinned"] for m in s["mappings"])
l = {i["name"]: i for i in json.load(open(sys.argv[2]))}
assert sorted(l) == ["alice", "printer-7"], l
assert l["alice"]["role"] == "admin" and not l["alice"]["disabled"], l
assert l["alice"]["email"] == "alice@corp.example", l
PY
user enable printer-7 >/dev/null || fail "user enable"
user show printer-7 | grep -q '^state: *enabled' ||
    fail "enable did not stick"
if user show nobody >/dev/null 2>&1; then
	fail "show of an unknown identity succeeded"
fi
pass "show and list, text and JSON; disable, enable, role"

"$CERTGW" audit --dir "$d" --json >"$T/audit.json" || fail "audit"
python3 - "$T/audit.json" <<'PY' || fail "audit log"
import json, sys
acts = [r["action"] for r in json.load(open(sys.argv[1]))]
for a, n in (("user-add", 2), ("user-map", 3), ("user-disable", 1),
             ("user-enable", 1), ("user-role", 1)):
    assert acts.count(a) == n, (a, acts)
PY
pass "every change audited"
