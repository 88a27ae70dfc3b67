#!/bin/bash
# certgw scep ra-init and scep challenge new|list against a CA made by init:
# ra-init makes an RSA key (mode 0600) and a certificate that openssl
# verifies against the CA chain, with digitalSignature and keyEncipherment
# and no extendedKeyUsage, and refuses to overwrite them without --force;
# challenge new prints 32 hex characters once, stores only their SHA-256
# and audits the row id; list shows the challenge unused and never a hash;
# the challenge text is in no store column and no log; a service without
# dynamic challenges, an unknown service, a bad --subject-regex and a bad
# --ttl are refused and write nothing.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need python3 python3
need openssl openssl

d=$T/ca
init_ca "$d" --intermediate
db=$d/certgw.db

chall_count() {
	python3 - "$db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute(
    "SELECT count(*) FROM scep_challenges").fetchone()[0])
PY
}

# ------------------------------------------------------------- ra-init
"$CERTGW" --verbose scep ra-init --dir "$d" >"$T/ra.out" 2>"$T/ra.log" ||
    fail "scep ra-init: $(cat "$T/ra.log")"
[ -f "$d/scep/ra.key" ] && [ -f "$d/scep/ra.pem" ] ||
    fail "ra-init did not write scep/ra.key and scep/ra.pem"
[ "$(stat -c %a "$d/scep/ra.key")" = 600 ] ||
    fail "ra.key has mode $(stat -c %a "$d/scep/ra.key"), not 600"
grep -q '"ra_cert": "scep/ra.pem"' "$T/ra.out" ||
    fail "ra-init printed no config snippet: $(cat "$T/ra.out")"
openssl verify -CAfile "$d/ca/chain.pem" "$d/scep/ra.pem" >"$T/verify.log" \
    2>&1 || fail "openssl verify refused the RA certificate"
openssl x509 -in "$d/scep/ra.pem" -noout -text >"$T/ra.txt"
grep -A1 'X509v3 Key Usage' "$T/ra.txt" | grep -q \
    'Digital Signature, Key Encipherment' ||
    fail "RA keyUsage is not digitalSignature + keyEncipherment"
! grep -q 'Extended Key Usage' "$T/ra.txt" || fail "the RA cert has an EKU"
grep -q 'Public-Key: (3072 bit)' "$T/ra.txt" || fail "RA key is not RSA-3072"
subj=$(openssl x509 -in "$d/scep/ra.pem" -noout -subject -nameopt RFC2253)
echo "$subj" | grep -q 'SCEP RA$' || fail "RA subject '$subj'"
openssl pkey -in "$d/scep/ra.key" -pubout >"$T/k.pub" 2>/dev/null ||
    fail "ra.key is not a readable private key"
openssl x509 -in "$d/scep/ra.pem" -noout -pubkey >"$T/c.pub"
cmp -s "$T/k.pub" "$T/c.pub" || fail "ra.key does not match ra.pem"
# Never past the issuing CA.
python3 - "$d/scep/ra.pem" "$d/ca/issuing.pem" <<'PY' ||
import subprocess, sys
def end(p):
    return subprocess.check_output(["openssl", "x509", "-in", p, "-noout",
        "-enddate", "-dateopt", "iso_8601"]).decode().split("=", 1)[1]
assert end(sys.argv[1]) <= end(sys.argv[2])
PY
    fail "the RA certificate outlives its CA"
pass "ra-init makes a verified RA certificate and a 0600 key"

sum=$(sha256sum "$d/scep/ra.pem")
if "$CERTGW" scep ra-init --dir "$d" >"$T/ra2.out" 2>"$T/ra2.err"; then
	fail "ra-init overwrote the RA files without --force"
fi
grep -q 'use --force' "$T/ra2.err" || fail "no clear refusal: $(cat "$T/ra2.err")"
[ "$(sha256sum "$d/scep/ra.pem")" = "$sum" ] || fail "ra.pem changed"
"$CERTGW" scep ra-init --dir "$d" --force --days 10 >"$T/ra3.out" \
    2>"$T/ra3.log" || fail "ra-init --force: $(cat "$T/ra3.log")"
[ "$(sha256sum "$d/scep/ra.pem")" != "$sum" ] || fail "--force kept ra.pem"
[ "$(stat -c %a "$d/scep/ra.key")" = 600 ] || fail "replaced key not 0600"
openssl x509 -in "$d/scep/ra.pem" -noout -checkend $((11 * 86400)) \
    >/dev/null && fail "--days 10 gave a certificate valid past 11 days"
pass "ra-init refuses to overwrite, and --force replaces"

# ----------------------------------------------------------- the config
python3 - "$d/certgw.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["scep"] = {"ra_cert": "scep/ra.pem", "ra_key": "scep/ra.key",
    "services": {
        "default": {"profile": "device", "challenge": {"dynamic": True}},
        "static": {"profile": "device",
                   "challenge": {"static_env": "SCEP_STATIC"}}}}
json.dump(c, open(p, "w"), indent=2)
PY
"$CERTGW" check-config "$d/certgw.json" >"$T/check.log" 2>&1 ||
    fail "the config with scep does not check: $(cat "$T/check.log")"

# ------------------------------------------------------ challenge new
"$CERTGW" --verbose scep challenge new --dir "$d" --ttl 30m \
    >"$T/new1.out" 2>"$T/new1.log" ||
    fail "scep challenge new: $(cat "$T/new1.log")"
[ "$(wc -l <"$T/new1.out")" = 2 ] || fail "new printed more than two lines"
ch=$(sed -n 's/^challenge: //p' "$T/new1.out")
exp=$(sed -n 's/^expires: //p' "$T/new1.out")
echo "$ch" | grep -Eq '^[0-9a-f]{32}$' ||
    fail "challenge '$ch' is not 32 lower-case hex characters"
echo "$exp" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' ||
    fail "expires '$exp' is not RFC 3339"

# The store holds its SHA-256, the 30-minute expiry, and nothing else of it.
python3 - "$db" "$ch" <<'PY' || fail "stored challenge row is wrong"
import hashlib, sqlite3, sys
db, ch = sys.argv[1:]
row = sqlite3.connect(db).execute(
    "SELECT hash, service, expires_at - created_at, used_at, used_by, "
    "subject_regex FROM scep_challenges").fetchall()
assert len(row) == 1, row
h, svc, ttl, used_at, used_by, rx = row[0]
assert h == hashlib.sha256(ch.encode()).hexdigest(), h
assert (svc, ttl, used_at, used_by, rx) == ("default", 1800, None, None, ""), row
PY

# --json, with a subject regex, on the default TTL.
"$CERTGW" scep challenge new --dir "$d" --json \
    --subject-regex '^CN=dev-[0-9]+$' >"$T/new2.out" 2>"$T/new2.log" ||
    fail "challenge new --json: $(cat "$T/new2.log")"
ch2=$(python3 -c 'import json,sys; o=json.load(open(sys.argv[1]));
assert o["service"] == "default" and o["id"] > 0, o
print(o["challenge"])' "$T/new2.out") || fail "bad --json output"
echo "$ch2" | grep -Eq '^[0-9a-f]{32}$' || fail "json challenge not 32 hex"
[ "$ch" != "$ch2" ] || fail "two challenges are the same"
pass "challenge new prints 32 hex characters once and stores the hash"

# ----------------------------------------------------- challenge list
"$CERTGW" scep challenge list --dir "$d" >"$T/list.out" 2>"$T/list.log" ||
    fail "challenge list: $(cat "$T/list.log")"
[ "$(grep -c ' unused ' "$T/list.out")" = 2 ] ||
    fail "list does not show two unused challenges: $(cat "$T/list.out")"
grep -q 'CN=dev-' "$T/list.out" || fail "list does not show the regex"
"$CERTGW" scep challenge list --dir "$d" --json --service default \
    >"$T/list.json" 2>>"$T/list.log" || fail "challenge list --json"
python3 - "$T/list.json" <<'PY' || fail "list --json is wrong"
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 2, rows
for r in rows:
    assert r["state"] == "unused" and r["used_at"] is None, r
    assert r["used_by"] is None, r
    assert "hash" not in r and "challenge" not in r, r
PY
pass "challenge list shows both unused, without hashes"

# The challenge text is nowhere but in what `new` printed.
python3 - "$db" "$ch" "$ch2" <<'PY' || fail "a challenge text is in the store"
import sqlite3, sys
db, texts = sys.argv[1], sys.argv[2:]
con = sqlite3.connect(db)
for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'"):
    for row in con.execute(f'SELECT * FROM "{t}"'):
        for v in row:
            s = v.decode("latin-1") if isinstance(v, bytes) else str(v)
            for x in texts:
                assert x not in s, (t, row)
PY
for f in "$T"/*.log "$T/list.out" "$T/list.json" "$T/ra.out"; do
	if grep -q -e "$ch" -e "$ch2" "$f"; then
		fail "a challenge text is in $f"
	fi
done
for h in $(printf %s "$ch" | sha256sum | cut -c1-64) \
    $(printf %s "$ch2" | sha256sum | cut -c1-64); do
	! grep -q "$h" "$T/list.out" "$T/list.json" || fail "list shows a hash"
done
"$CERTGW" audit --dir "$d" --json >"$T/audit.json"
python3 - "$T/audit.json" "$ch" "$ch2" <<'PY' || fail "audit is wrong"
import json, sys
rows = json.load(open(sys.argv[1]))
text = json.dumps(rows)
assert sys.argv[2] not in text and sys.argv[3] not in text
new = [r for r in rows if r["action"] == "scep-challenge-new"]
assert len(new) == 2, new
assert all(r["target"].isdigit() and r["outcome"] == "ok" for r in new), new
PY
pass "the challenge text is in no store column, log or audit row"

# ------------------------------------------------------------ refusals
n=$(chall_count)
if "$CERTGW" scep challenge new --dir "$d" --service static \
    >"$T/r1.out" 2>"$T/r1.err"; then
	fail "challenge new for a service without dynamic succeeded"
fi
grep -q 'does not take one-time challenges' "$T/r1.err" ||
    fail "no clear message for a static service: $(cat "$T/r1.err")"
if "$CERTGW" scep challenge new --dir "$d" --service nope \
    >"$T/r2.out" 2>"$T/r2.err"; then
	fail "challenge new for an unknown service succeeded"
fi
grep -q "no SCEP service 'nope'" "$T/r2.err" || fail "$(cat "$T/r2.err")"
if "$CERTGW" scep challenge new --dir "$d" --subject-regex '(' \
    >"$T/r3.out" 2>"$T/r3.err"; then
	fail "challenge new with a bad regex succeeded"
fi
grep -q 'not a POSIX extended regular expression' "$T/r3.err" ||
    fail "no clear message for a bad regex: $(cat "$T/r3.err")"
if "$CERTGW" scep challenge new --dir "$d" --ttl 10s \
    >"$T/r4.out" 2>"$T/r4.err"; then
	fail "challenge new with a 10 s TTL succeeded"
fi
for f in r1 r2 r3 r4; do
	[ ! -s "$T/$f.out" ] || fail "$f printed something: $(cat "$T/$f.out")"
done
[ "$(chall_count)" = "$n" ] || fail "a refused challenge new wrote a row"
pass "static or unknown services, bad regexes and TTLs are refused"
