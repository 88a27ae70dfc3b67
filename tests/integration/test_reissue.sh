#!/bin/bash
# Renewal status and operator reissue: `certgw cert list|show` call a
# valid certificate update-needed inside its own profile's window (two
# profiles with different windows, and the window moving with the
# config), `--status update-needed` lists exactly those; renew_before_days
# out of range is a config error naming the profile.  `certgw cert
# reissue` issues a new certificate with the same key (same public key,
# subject and SANs, new serial, verifies, audited with the old serial),
# or with a new key as PKCS#12 that opens with the printed password or
# the one from --password-file; an identity mapping follows the
# certificate; --revoke-old revokes the old one as superseded; revoked
# and unknown serials are refused and issue nothing.  ACME renewal-info
# suggests a window that starts where update-needed starts.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need python3 python3

d=$T/ca
init_ca "$d" --intermediate
# "long": 60 days, due 10 days before the end; "daily": one day, due from
# the start (the default window, a third of a day, is at least one day).
json_set "$d/certgw.json" '
c["profiles"]["long"] = dict(c["profiles"]["server"])
c["profiles"]["long"]["validity_days"] = 60
c["profiles"]["long"]["renew_before_days"] = 10
c["profiles"]["daily"] = dict(c["profiles"]["server"])
c["profiles"]["daily"]["validity_days"] = 1'
"$CERTGW" check-config "$d/certgw.json" >"$T/check.log" 2>&1 ||
    fail "config does not check: $(cat "$T/check.log")"

# issue PROFILE NAME KEYTYPE: issue a certificate; prints its serial.
issue() {
	make_csr "$3" "$2" "$T/$2.csr" "DNS:$2,DNS:www.$2,IP:192.0.2.9"
	"$CERTGW" issue --dir "$d" --profile "$1" --csr "$T/$2.csr" \
	    --out "$T/$2.pem" 2>"$T/issue.log" ||
	    fail "issue $2: $(cat "$T/issue.log")"
	sed -n 's/^issued serial=\([0-9A-F]*\) .*/\1/p' "$T/issue.log"
}
# field SERIAL KEY: one field of `cert show --json`.
field() {
	"$CERTGW" cert show --dir "$d" --json "$1" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
# due: the serials `cert list --status update-needed` prints, sorted.
due() {
	"$CERTGW" cert list --dir "$d" --status update-needed --json |
	    python3 -c 'import json,sys
rows = json.load(sys.stdin)
assert all(r["status"] == "update-needed" for r in rows), rows
print(" ".join(sorted(r["serial"] for r in rows)))'
}
sorted() {
	printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'
}

a=$(issue long a.example ec-p256)
b=$(issue daily b.example ec-p256)
c=$(issue server c.example ec-p256)
[ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] || fail "no serials"

# --- update-needed.
[ "$(due)" = "$b" ] || fail "update-needed: '$(due)', expected '$b'"
[ "$(field "$b" status)" = update-needed ] || fail "show b: not update-needed"
[ "$(field "$a" status)" = valid ] || fail "show a: not valid"
"$CERTGW" cert show --dir "$d" "$b" | grep -q '^status:     update-needed$' ||
    fail "cert show text: no update-needed"
"$CERTGW" cert list --dir "$d" | grep "^$b " | grep -q ' update-needed ' ||
    fail "cert list text: b not update-needed"
"$CERTGW" cert list --dir "$d" | grep "^$a " | grep -q ' valid ' ||
    fail "cert list text: a not valid"
# renew_after: notAfter - renew_before_days (long: 10 days).
python3 - "$(field "$a" renew_after)" "$(field "$a" not_after)" <<'PY' ||
import datetime, sys
f = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
assert f(sys.argv[2]) - f(sys.argv[1]) == datetime.timedelta(days=10), sys.argv
PY
    fail "renew_after of a is not 10 days before not_after"
# The window is the profile's as configured now: a's profile grows one
# that covers it (not_after - 90 days is in the past); server's does not.
json_set "$d/certgw.json" '
c["profiles"]["long"]["validity_days"] = 120
c["profiles"]["long"]["renew_before_days"] = 90'
[ "$(due)" = "$(sorted "$a" "$b")" ] ||
    fail "after the change: '$(due)', expected a and b"
[ "$(field "$c" status)" = valid ] || fail "server certificate became due"
n=$("$CERTGW" cert list --dir "$d" --status update-needed --limit 1 --json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 1 ] || fail "--limit 1 gave $n rows"
[ "$(exit_of "$CERTGW" cert list --dir "$d" --status soon)" = 2 ] ||
    fail "a bad --status was not a usage error"
pass "update-needed per profile in list, show and --json"

# --- ACME renewal-info starts its window where update-needed starts.
python3 -c 'import cryptography' 2>/dev/null ||
    fail "python3 module cryptography is missing (apt-get install python3-cryptography)"
json_set "$d/certgw.json" '
c["acme"] = {"directories": {"default": {"profile": "server"}}}'
start_serve "$d"
# ari SERIAL PEM: compare renewalInfo's window with `cert show --json`.
ari() {
	PYTHONPATH=$CERTGW_SRC/tests/integration python3 - \
	    "https://127.0.0.1:$HTTPS_PORT/acme/directory" "$d/ca/root.pem" \
	    "$2" "$(field "$1" renew_after)" "$(field "$1" not_after)" <<'PY'
import datetime, json, ssl, sys, urllib.request
import acme_client as ac
from cryptography import x509
url, root, pem, renew_after, not_after = sys.argv[1:]
ctx = ssl.create_default_context(cafile=root)
get = lambda u: urllib.request.urlopen(u, context=ctx, timeout=10).read()
cert = x509.load_pem_x509_certificate(open(pem, "rb").read())
ri = json.loads(get(url))["renewalInfo"]
w = json.loads(get(ri + "/" + ac.cert_id(cert)))["suggestedWindow"]
t = lambda s: datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
assert t(w["start"]) == t(renew_after), (w, renew_after)
assert t(w["start"]) < t(w["end"]) < t(not_after), (w, not_after)
PY
}
for s in "$a:a.example" "$b:b.example" "$c:c.example"; do
	ari "${s%%:*}" "$T/${s#*:}.pem" ||
	    fail "ARI window of ${s#*:} does not start at its renew_after"
done
kill -TERM "$SERVE_PID" && wait "$SERVE_PID" 2>/dev/null || true
pass "ACME renewal-info agrees with update-needed"

# --- renew_before_days out of range names the profile.
cp "$d/certgw.json" "$d/bad.json"
json_set "$d/bad.json" 'c["profiles"]["long"]["renew_before_days"] = 120'
if "$CERTGW" check-config "$d/bad.json" >"$T/bad.log" 2>&1; then
	fail "renew_before_days = validity_days was accepted"
fi
grep -q "profiles.long.renew_before_days: expected an integer between 1 and 119 (less than validity_days) for profile 'long'" \
    "$T/bad.log" || fail "config error: $(cat "$T/bad.log")"
pass "renew_before_days out of range refused"

# --- reissue with the same key.
count0=$(cert_count "$d")
"$CERTGW" cert reissue --dir "$d" "$c" --out "$T/c2.pem" 2>"$T/re.log" ||
    fail "reissue: $(cat "$T/re.log")"
c2=$(sed -n 's/^reissued serial=\([0-9A-F]*\) old=.*/\1/p' "$T/re.log")
[ -n "$c2" ] && [ "$c2" != "$c" ] || fail "reissue: serial '$c2'"
grep -q "old=$c profile=server .*key=same" "$T/re.log" ||
    fail "reissue line: $(cat "$T/re.log")"
pub() { openssl x509 -in "$1" -noout -pubkey; }
[ "$(pub "$T/c2.pem")" = "$(pub "$T/c.example.pem")" ] ||
    fail "reissue: the public key changed"
for w in "-subject" "-ext subjectAltName"; do
	# shellcheck disable=SC2086
	o1=$(openssl x509 -in "$T/c.example.pem" -noout $w)
	# shellcheck disable=SC2086
	o2=$(openssl x509 -in "$T/c2.pem" -noout $w)
	[ "$o1" = "$o2" ] || fail "reissue: $w differs: $o1 / $o2"
done
openssl x509 -in "$T/c2.pem" -noout -text | grep -q "DNS:www.c.example" ||
    fail "reissue: SANs lost"
[ "$(openssl x509 -in "$T/c2.pem" -noout -serial | cut -d= -f2 | sed "s/^0*//")" = "$c2" ] ||
    fail "reissue: the PEM is not the new serial"
openssl verify -CAfile "$d/ca/root.pem" -untrusted "$d/ca/issuing.pem" \
    "$T/c2.pem" >/dev/null || fail "reissue: openssl verify"
[ "$(field "$c2" profile)" = server ] || fail "reissue: profile"
[ "$(field "$c2" protocol)" = cli ] || fail "reissue: protocol"
[ "$(field "$c" status)" = valid ] || fail "reissue revoked the old one"
[ "$(cert_count "$d")" = $((count0 + 1)) ] || fail "reissue: not one new row"
"$CERTGW" audit --dir "$d" --json | python3 -c '
import json, sys
c2, c = sys.argv[1], sys.argv[2]
rows = json.load(sys.stdin)
r = [x for x in rows if x["action"] == "reissue" and x["target"] == c2]
assert len(r) == 1 and "old=" + c in r[0]["detail"] and \
    r[0]["outcome"] == "ok", r
assert any(x["action"] == "issue" and x["target"] == c2 for x in rows)
' "$c2" "$c" || fail "audit: no reissue row naming the old serial"
# --json without --out carries the PEM; --profile changes the profile.
"$CERTGW" cert reissue --dir "$d" "$c" --profile long --json \
    >"$T/re.json" 2>/dev/null || fail "reissue --json"
python3 - "$T/re.json" "$c" <<'PY' >"$T/c3.pem" || fail "reissue --json: $(cat "$T/re.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["old_serial"] == sys.argv[2] and j["key"] == "same", j
assert j["profile"] == "long" and j["serial"] != sys.argv[2], j
assert not j["old_revoked"] and "password" not in j, j
print(j["pem"], end="")
PY
[ "$(pub "$T/c3.pem")" = "$(pub "$T/c.example.pem")" ] ||
    fail "reissue --json: the public key changed"
days=$(( ($(date -d "$(openssl x509 -in "$T/c3.pem" -noout -enddate |
    cut -d= -f2)" +%s) - $(date +%s)) / 86400 ))
[ "$days" -ge 119 ] && [ "$days" -le 120 ] ||
    fail "reissue --profile long: $days days, not 120"
# An existing --out is refused before anything is issued.
count1=$(cert_count "$d")
[ "$(exit_of "$CERTGW" cert reissue --dir "$d" "$c" --out "$T/c2.pem")" = 1 ] ||
    fail "reissue over an existing file was not refused"
[ "$(cert_count "$d")" = "$count1" ] || fail "a refused reissue issued"
"$CERTGW" cert reissue --dir "$d" "$c" --out "$T/c2.pem" --force \
    2>/dev/null || fail "reissue --force"
[ "$(pub "$T/c2.pem")" = "$(pub "$T/c.example.pem")" ] || fail "--force PEM"
pass "reissue with the same key: new serial, same key and names, audited"

# --- --revoke-old, and what is refused.
"$CERTGW" cert reissue --dir "$d" "$a" --revoke-old --out "$T/a2.pem" \
    2>"$T/re.log" || fail "reissue --revoke-old: $(cat "$T/re.log")"
[ "$(field "$a" status)" = revoked ] || fail "--revoke-old: a not revoked"
[ "$(field "$a" revocation_reason)" = superseded ] ||
    fail "--revoke-old: reason $(field "$a" revocation_reason)"
count1=$(cert_count "$d")
if "$CERTGW" cert reissue --dir "$d" "$a" >/dev/null 2>"$T/rev.err"; then
	fail "a revoked certificate was reissued"
fi
grep -q "certificate $a is revoked; a revoked certificate is not reissued" \
    "$T/rev.err" || fail "revoked: $(cat "$T/rev.err")"
if "$CERTGW" cert reissue --dir "$d" 0ABCDEF >/dev/null 2>"$T/unk.err"; then
	fail "an unknown serial was reissued"
fi
grep -q "no certificate has serial or SHA-256 thumbprint 0ABCDEF" \
    "$T/unk.err" || fail "unknown: $(cat "$T/unk.err")"
[ "$(exit_of "$CERTGW" cert reissue --dir "$d" "$c" --profile nope)" = 1 ] ||
    fail "an unknown --profile was not refused"
[ "$(exit_of "$CERTGW" cert reissue --dir "$d" "$c" --new-key)" = 2 ] ||
    fail "--new-key without --out was not a usage error"
[ "$(cert_count "$d")" = "$count1" ] || fail "a refusal issued something"
pass "--revoke-old revokes as superseded; revoked and unknown refused"

# --- a new key, as PKCS#12, with the identity mapping following.
dev=$(issue device dev-7.example ec-p384)
rsa=$(issue server r.example rsa-2048)
"$CERTGW" user add alice --dir "$d" >/dev/null 2>&1 || fail "user add"
for s in "$dev" "$rsa"; do
	"$CERTGW" user add-cert alice --thumbprint "$(field "$s" sha256)" \
	    --dir "$d" >/dev/null 2>&1 || fail "user add-cert $s"
done
# maps: "sha256 source" of alice's mappings, one per line, sorted.
maps() {
	python3 - "$d/certgw.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for v, s in sorted(db.execute("SELECT m.value, m.source FROM ident_maps m "
        "JOIN identities i ON i.id = m.identity_id WHERE i.name = 'alice'")):
    print(v, s)
PY
}
"$CERTGW" cert reissue --dir "$d" "$dev" --new-key --out "$T/dev.p12" \
    >"$T/p12.out" 2>"$T/re.log" || fail "reissue --new-key: $(cat "$T/re.log")"
pw=$(sed -n 's/^password: //p' "$T/p12.out")
[ ${#pw} -ge 20 ] || fail "no printed password: $(cat "$T/p12.out")"
new=$(sed -n 's/^reissued serial=\([0-9A-F]*\) .*key=new.*/\1/p' "$T/re.log")
[ -n "$new" ] || fail "reissue --new-key line: $(cat "$T/re.log")"
[ "$(stat -c %a "$T/dev.p12")" = 600 ] || fail "PKCS#12 is not mode 0600"
openssl pkcs12 -in "$T/dev.p12" -passin "pass:$pw" -nodes -out "$T/dev-all.pem" \
    2>"$T/p12.log" || fail "PKCS#12 does not open: $(cat "$T/p12.log")"
openssl pkcs12 -in "$T/dev.p12" -passin "pass:wrong" -nodes -out /dev/null \
    2>/dev/null && fail "PKCS#12 opens with a wrong password"
openssl x509 -in "$T/dev-all.pem" -out "$T/dev2.pem"
openssl pkey -in "$T/dev-all.pem" -pubout -out "$T/dev2.pub"
[ "$(cat "$T/dev2.pub")" = "$(pub "$T/dev2.pem")" ] ||
    fail "PKCS#12: key and certificate do not match"
[ "$(pub "$T/dev2.pem")" != "$(pub "$T/dev-7.example.pem")" ] ||
    fail "--new-key kept the old key"
openssl pkey -in "$T/dev-all.pem" -noout -text | grep -q "NIST CURVE: P-384" ||
    fail "--new-key: not a P-384 key like the old one"
[ "$(openssl x509 -in "$T/dev2.pem" -noout -serial | cut -d= -f2 | sed "s/^0*//")" = "$new" ] ||
    fail "PKCS#12 holds another certificate"
[ "$(openssl x509 -in "$T/dev2.pem" -noout -subject)" = \
    "$(openssl x509 -in "$T/dev-7.example.pem" -noout -subject)" ] ||
    fail "--new-key: subject changed"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/dev-all.pem")" = 3 ] ||
    fail "PKCS#12 lacks the chain"
openssl verify -CAfile "$d/ca/root.pem" -untrusted "$d/ca/issuing.pem" \
    "$T/dev2.pem" >/dev/null || fail "--new-key: openssl verify"
[ "$(field "$new" profile)" = device ] || fail "--new-key: profile"
maps | grep -q "^$(field "$new" sha256) reissue$" ||
    fail "no mapping for the new certificate: $(maps)"
maps | grep -q "^$(field "$dev" sha256) " ||
    fail "the old mapping went without --revoke-old"
# --password-file and --revoke-old: the mapping moves; RSA stays RSA.
printf 'correct horse battery\n' >"$T/pw"
"$CERTGW" cert reissue --dir "$d" "$rsa" --new-key --out "$T/r.p12" \
    --password-file "$T/pw" --revoke-old --json >"$T/r.json" 2>/dev/null ||
    fail "reissue --new-key --password-file"
python3 - "$T/r.json" <<'PY' || fail "--new-key --json: $(cat "$T/r.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["key"] == "new" and j["old_revoked"] and "password" not in j, j
assert "pem" not in j, j
PY
r2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["serial"])' "$T/r.json")
openssl pkcs12 -in "$T/r.p12" -passin "pass:correct horse battery" -nodes \
    -out "$T/r-all.pem" 2>"$T/p12.log" ||
    fail "PKCS#12 does not open with the file's password: $(cat "$T/p12.log")"
openssl pkey -in "$T/r-all.pem" -noout -text | grep -q "2048 bit" ||
    fail "--new-key: not an RSA 2048 key"
[ "$(field "$rsa" status)" = revoked ] || fail "--revoke-old with --new-key"
maps | grep -q "^$(field "$r2" sha256) reissue$" || fail "mapping not moved"
if maps | grep -q "^$(field "$rsa" sha256) "; then
	fail "the revoked certificate is still mapped"
fi
[ "$(exit_of "$CERTGW" cert reissue --dir "$d" "$dev" --new-key \
    --out "$T/dev.p12")" = 1 ] || fail "an existing PKCS#12 was replaced"
pass "reissue with a new key: PKCS#12 opens, key differs, mapping follows"
