#!/bin/bash
# certgw trust, user import-cert, user issue, holding, user rule and user
# remove-cert against a store made by init:
# - trust add takes a CA certificate (PEM or DER) once and refuses a leaf;
#   list shows it; remove stops the trust (a certificate from that CA no
#   longer imports);
# - import-cert pins a self-signed certificate by SHA-256, maps one from a
#   trusted CA by SHA-256 and common name (SHA-256 only with
#   --thumbprint-only), refuses one from an untrusted CA with the exact
#   message and stores nothing, and refuses files with a private key;
# - user issue writes a 0600 PKCS#12 (AES-256-CBC under PBKDF2, MAC
#   SHA-256) that openssl opens with the printed password or the password
#   file, whose key matches its certificate, which verifies against the
#   CA and is mapped to the identity; an existing file is not replaced;
# - holding list, accept --user (mapping made, pinned when self-signed),
#   reject, and a second decision refused;
# - rules added at positions, listed in order, removed;
# - every change audited.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need python3 python3

d=$T/ca
init_ca "$d"
# cg ARGS...: certgw ARGS... on this store.
cg() {
	"$CERTGW" "$@" --dir "$d"
}

# map_count: rows in ident_maps.
map_count() {
	python3 - "$d/certgw.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute(
    "SELECT count(*) FROM ident_maps").fetchone()[0])
PY
}

# fp FILE: lower-case hex SHA-256 of a PEM certificate.
fp() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

# self_signed OUT CN: a self-signed client certificate (not a CA) and key.
self_signed() {
	cat >"$1.cnf" <<CNF
[req]
distinguished_name = dn
x509_extensions = v3
[dn]
[v3]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
CNF
	openssl req -x509 -new -config "$1.cnf" -newkey ec \
	    -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
	    -subj "/CN=$2" -days 30 -out "$1.pem" 2>"$T/openssl.log" ||
	    fail "self-signed: $(cat "$T/openssl.log")"
}

for n in alice bob carol dave frank; do
	cg user add "$n" >/dev/null || fail "user add $n"
done

# --- trust.
test_ca "$T/ext" "External CA"
test_ca "$T/other" "Other CA"
test_leaf "$T/ext" "$T/bob" bob client
test_leaf "$T/ext" "$T/dave" dave client
test_leaf "$T/other" "$T/eve" eve client
if cg trust add "$T/bob.pem" >/dev/null 2>"$T/leaf.err"; then
	fail "trust add took a leaf certificate"
fi
grep -q 'is not a CA certificate' "$T/leaf.err" ||
    fail "leaf refusal: $(cat "$T/leaf.err")"
openssl x509 -in "$T/ext/ca.pem" -outform DER -out "$T/ext/ca.der"
cg trust add "$T/ext/ca.der" --json >"$T/trust-add.json" ||
    fail "trust add (DER)"
if cg trust add "$T/ext/ca.pem" >/dev/null 2>"$T/again.err"; then
	fail "a CA was trusted twice"
fi
grep -q 'already trusted' "$T/again.err" ||
    fail "second trust add: $(cat "$T/again.err")"
cg trust add "$T/other/ca.pem" >"$T/other.out" || fail "trust add other"
other_id=$(sed -n 's/.*(id \([0-9]*\),.*/\1/p' "$T/other.out")
[ -n "$other_id" ] || fail "trust add printed no id: $(cat "$T/other.out")"
cg trust remove "$other_id" >/dev/null || fail "trust remove"
[ "$(exit_of cg trust remove "$other_id")" = 1 ] ||
    fail "removing a removed CA did not fail"
cg trust list --json >"$T/trust.json" || fail "trust list"
python3 - "$T/trust.json" "$(fp "$T/ext/ca.pem")" <<'PY' || fail "trust list"
import json, sys
l = json.load(open(sys.argv[1]))
assert len(l) == 1, l
assert l[0]["sha256"] == sys.argv[2] and l[0]["subject"] == "CN=External CA", l
assert l[0]["not_after"].endswith("Z") and l[0]["id"] > 0, l
PY
pass "trust add (DER, once), leaf refused, list, remove"

# --- import-cert.
self_signed "$T/carol" carol-laptop
cg user import-cert carol "$T/carol.pem" >"$T/imp-self.out" 2>&1 ||
    fail "import self-signed: $(cat "$T/imp-self.out")"
grep -q 'pinned self-signed' "$T/imp-self.out" ||
    fail "import self-signed: $(cat "$T/imp-self.out")"
cg user import-cert bob "$T/bob.pem" >"$T/imp-bob.out" 2>&1 ||
    fail "import CA-signed: $(cat "$T/imp-bob.out")"
cg user import-cert dave "$T/dave.pem" --thumbprint-only >/dev/null 2>&1 ||
    fail "import --thumbprint-only"
before=$(map_count)
if cg user import-cert alice "$T/eve.pem" >"$T/eve.out" 2>"$T/eve.err"; then
	fail "a certificate from an untrusted CA was imported"
fi
[ "$(exit_of cg user import-cert alice "$T/eve.pem")" = 1 ] ||
    fail "untrusted issuer: exit status is not 1"
[ "$(cat "$T/eve.err")" = 'certgw: import-cert: the issuing CA "CN=Other CA" is not trusted; trust it first with: certgw trust add CA.pem' ] ||
    fail "untrusted issuer message: $(cat "$T/eve.err")"
cat "$T/bob.key" "$T/bob.pem" >"$T/with-key.pem"
if cg user import-cert alice "$T/with-key.pem" >/dev/null 2>"$T/key.err"
then
	fail "a file with a private key was imported"
fi
grep -q 'holds a private key' "$T/key.err" ||
    fail "private key refusal: $(cat "$T/key.err")"
[ "$(map_count)" = "$before" ] || fail "a refused import stored a mapping"
for n in carol bob dave; do
	cg user show "$n" --json >"$T/show-$n.json" || fail "user show $n"
done
python3 - "$T" "$(fp "$T/carol.pem")" "$(fp "$T/bob.pem")" \
    "$(fp "$T/dave.pem")" <<'PY' || fail "import-cert mappings"
import json, sys
t, carol, bob, dave = sys.argv[1:]
def maps(n):
    return sorted((m["kind"], m["value"], m["pinned"], m["source"])
                  for m in json.load(open(f"{t}/show-{n}.json"))["mappings"])
assert maps("carol") == [("sha256", carol, True, "import")], maps("carol")
assert maps("bob") == [("cn", "bob", False, "import"),
                       ("sha256", bob, False, "import")], maps("bob")
assert maps("dave") == [("sha256", dave, False, "import")], maps("dave")
PY
pass "import-cert: self-signed pinned, trusted CA mapped by SHA-256 and CN," \
    "untrusted CA and private keys refused"

# --- user issue.
cg user add grace --email grace@corp.example >/dev/null || fail "add grace"
cg user issue grace --profile device --out "$T/grace.p12" >"$T/issue.out" ||
    fail "user issue: $(cat "$T/issue.out")"
pw=$(sed -n 's/^password: //p' "$T/issue.out")
[ ${#pw} = 24 ] || fail "no 24-character password printed: $(cat "$T/issue.out")"
grep -q 'shown only once' "$T/issue.out" ||
    fail "user issue did not say the password is shown once"
[ "$(stat -c %a "$T/grace.p12")" = 600 ] || fail "the PKCS#12 is not 0600"
openssl pkcs12 -in "$T/grace.p12" -passin "pass:$pw" -nodes \
    -out "$T/grace.all" 2>"$T/p12.err" ||
    fail "openssl cannot open the PKCS#12: $(cat "$T/p12.err")"
openssl pkcs12 -in "$T/grace.p12" -passin "pass:$pw" -clcerts -nokeys \
    -out "$T/grace.pem" 2>/dev/null || fail "pkcs12 -clcerts"
openssl pkcs12 -in "$T/grace.p12" -passin "pass:$pw" -nocerts -nodes \
    -out "$T/grace.key" 2>/dev/null || fail "pkcs12 -nocerts"
[ "$(openssl pkey -in "$T/grace.key" -pubout)" = \
    "$(openssl x509 -in "$T/grace.pem" -noout -pubkey)" ] ||
    fail "the key in the PKCS#12 does not match its certificate"
openssl verify -CAfile "$d/ca/chain.pem" "$T/grace.pem" >/dev/null 2>&1 ||
    fail "the issued certificate does not verify against the CA"
openssl x509 -in "$T/grace.pem" -noout -subject | grep -q 'CN *= *grace' ||
    fail "subject is not CN=grace"
openssl x509 -in "$T/grace.pem" -noout -ext subjectAltName |
    grep -q 'email:grace@corp.example' || fail "no email SAN"
openssl pkcs12 -in "$T/grace.p12" -passin "pass:$pw" -info -noout \
    >"$T/info.out" 2>&1 || fail "pkcs12 -info"
grep -q '^Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC' "$T/info.out" ||
    fail "key not AES-256-CBC/PBKDF2: $(cat "$T/info.out")"
grep -q '^PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC' "$T/info.out" ||
    fail "certificates not AES-256-CBC/PBKDF2: $(cat "$T/info.out")"
grep -q '^MAC: sha256' "$T/info.out" || fail "MAC not SHA-256"
if openssl pkcs12 -in "$T/grace.p12" -passin pass:wrong -nodes \
    >/dev/null 2>&1; then
	fail "the PKCS#12 opened with a wrong password"
fi
cg user show grace --json >"$T/show-grace.json" || fail "user show grace"
python3 - "$T/show-grace.json" "$(fp "$T/grace.pem")" <<'PY' ||
import json, sys
m = json.load(open(sys.argv[1]))["mappings"]
assert [(x["kind"], x["value"], x["source"]) for x in m] == \
    [("sha256", sys.argv[2], "issue")], m
PY
    fail "issued certificate not mapped"
serial=$(openssl x509 -in "$T/grace.pem" -noout -serial | sed 's/.*=//')
cg cert show "$serial" >/dev/null 2>&1 || fail "issuance not recorded"
sum=$(sha256sum "$T/grace.p12")
[ "$(exit_of cg user issue grace --profile device --out "$T/grace.p12")" = 1 ] ||
    fail "an existing PKCS#12 was not refused"
[ "$(sha256sum "$T/grace.p12")" = "$sum" ] || fail "the PKCS#12 was replaced"
printf 'Correct-Horse-7\n' >"$T/pw"
cg user issue grace --profile device --key-type rsa-2048 \
    --out "$T/grace2.p12" --password-file "$T/pw" >"$T/issue2.out" ||
    fail "user issue --password-file"
if grep -q 'password' "$T/issue2.out"; then
	fail "a password was printed with --password-file"
fi
openssl pkcs12 -in "$T/grace2.p12" -passin pass:Correct-Horse-7 -nodes \
    -clcerts -nokeys 2>/dev/null | openssl x509 -noout -text |
    grep -q 'rsaEncryption' || fail "--password-file/--key-type rsa-2048"
: >"$T/empty"
[ "$(exit_of cg user issue grace --profile device --out "$T/g3.p12" \
    --password-file "$T/empty")" = 1 ] || fail "an empty password was taken"
[ ! -e "$T/g3.p12" ] || fail "a PKCS#12 was written with an empty password"
if cg user import-cert alice "$T/grace.p12" >/dev/null 2>"$T/p12imp.err"
then
	fail "a PKCS#12 file was imported"
fi
grep -q 'PKCS#12' "$T/p12imp.err" || fail "p12 import: $(cat "$T/p12imp.err")"
pass "user issue: PKCS#12 AES-256-CBC/PBKDF2/SHA-256 MAC, 0600, opens," \
    "key matches, verifies, mapped; no overwrite; password file"

# --- holding tank, filled directly (the gateway fills it at request time).
self_signed "$T/held1" kiosk-1
test_leaf "$T/ext" "$T/held2" printer-9 client
python3 - "$d/certgw.db" "$T/held1.pem" "$T/held2.pem" <<'PY' ||
import hashlib, sqlite3, ssl, sys, time
db = sqlite3.connect(sys.argv[1])
now = int(time.time())
for i, (path, subj, iss) in enumerate(((sys.argv[2], "CN=kiosk-1", "CN=kiosk-1"),
                                     (sys.argv[3], "CN=printer-9",
                                      "CN=External CA"))):
    der = ssl.PEM_cert_to_DER_cert(open(path).read())
    db.execute("INSERT INTO holding (sha256, subject, issuer, der, not_after,"
               " first_seen, last_seen, source, count, status, decided_by,"
               " decided_at) VALUES (?,?,?,?,?,?,?,?,?,0,'',0)",
               (hashlib.sha256(der).hexdigest(), subj, iss, der,
                now + 86400, now - 60, now, "192.0.2.%d" % (i + 1), i + 1))
db.commit()
PY
    fail "cannot fill the holding tank"
cg holding list --json >"$T/hold.json" || fail "holding list"
read -r h1 h2 < <(python3 - "$T/hold.json" "$(fp "$T/held1.pem")" <<'PY'
import json, sys
l = json.load(open(sys.argv[1]))
assert [h["status"] for h in l] == ["pending", "pending"], l
assert l[0]["sha256"] == sys.argv[2] and l[0]["subject"] == "CN=kiosk-1", l
assert l[1]["issuer"] == "CN=External CA" and l[1]["count"] == 2, l
assert l[1]["source"] == "192.0.2.2" and l[0]["first_seen"] < l[0]["last_seen"]
print(l[0]["id"], l[1]["id"])
PY
) || fail "holding list: $(cat "$T/hold.json")"
[ -n "${h2:-}" ] || fail "holding list: $(cat "$T/hold.json")"
if cg holding accept "$h2" --user nobody >/dev/null 2>"$T/nobody.err"; then
	fail "accepted for an unknown identity"
fi
grep -q 'no identity nobody' "$T/nobody.err" ||
    fail "unknown user: $(cat "$T/nobody.err")"
cg holding accept "$h1" --user frank >"$T/acc.out" ||
    fail "holding accept: $(cat "$T/acc.out")"
if cg holding accept "$h1" --user frank >/dev/null 2>"$T/acc2.err"; then
	fail "a held certificate was accepted twice"
fi
grep -q 'accepted already' "$T/acc2.err" ||
    fail "second accept: $(cat "$T/acc2.err")"
[ "$(exit_of cg holding accept 9999 --user frank)" = 1 ] ||
    fail "an unknown held id was accepted"
cg holding reject "$h2" >/dev/null || fail "holding reject"
[ "$(exit_of cg holding accept "$h2" --user frank)" = 1 ] ||
    fail "a rejected certificate was accepted"
[ "$(exit_of cg holding reject "$h2")" = 1 ] || fail "rejected twice"
cg holding list --json >"$T/hold-p.json" || fail "holding list pending"
cg holding list --status all --json >"$T/hold-a.json" || fail "list all"
cg user show frank --json >"$T/show-frank.json" || fail "user show frank"
python3 - "$T" "$(fp "$T/held1.pem")" <<'PY' || fail "holding decisions"
import json, sys
t, sha = sys.argv[1:]
assert json.load(open(f"{t}/hold-p.json")) == []
st = {h["sha256"][:8]: (h["status"], h["decided_by"])
      for h in json.load(open(f"{t}/hold-a.json"))}
assert sorted(s for s, _ in st.values()) == ["accepted", "rejected"], st
assert all(by.startswith("cli:") for _, by in st.values()), st
m = json.load(open(f"{t}/show-frank.json"))["mappings"]
assert [(x["kind"], x["value"], x["pinned"], x["source"]) for x in m] == \
    [("sha256", sha, True, "holding")], m
PY
pass "holding: list, accept --user (pinned mapping), reject, no second decision"

# --- rules.
cg user rule add alice --subject "O=Sales,OU=East" >/dev/null || fail "rule 1"
cg user rule add bob --issuer "CN=External CA" >/dev/null || fail "rule 2"
cg user rule add carol --subject "O=HR" --position 1 >"$T/r3.out" ||
    fail "rule at position 1"
r3=$(sed -n 's/^added rule \([0-9]*\) .*/\1/p' "$T/r3.out")
[ -n "$r3" ] || fail "rule add printed no id: $(cat "$T/r3.out")"
[ "$(exit_of cg user rule add alice)" = 2 ] ||
    fail "a rule matching everything was not a usage error"
[ "$(exit_of cg user rule add alice --subject Bogus)" = 2 ] ||
    fail "a malformed --subject was not a usage error"
[ "$(exit_of cg user rule add nobody --subject O=X)" = 1 ] ||
    fail "a rule for an unknown identity was added"
cg user rule list --json >"$T/rules1.json" || fail "rule list"
cg user rule remove "$r3" >/dev/null || fail "rule remove"
[ "$(exit_of cg user rule remove "$r3")" = 1 ] || fail "removed twice"
cg user rule list --json >"$T/rules2.json" || fail "rule list 2"
python3 - "$T" <<'PY' || fail "rule order"
import json, sys
t = sys.argv[1]
def order(f):
    return [(r["position"], r["identity"], r["issuer"], r["subject"])
            for r in json.load(open(f"{t}/{f}"))]
assert order("rules1.json") == [(1, "carol", "", "O=HR"),
                                (2, "alice", "", "O=Sales,OU=East"),
                                (3, "bob", "CN=External CA", "")], order("rules1.json")
assert order("rules2.json") == [(1, "alice", "", "O=Sales,OU=East"),
                                (2, "bob", "CN=External CA", "")], order("rules2.json")
PY
pass "rules: added at positions, listed in order, removed"

# --- remove-cert.
cn_map=$(python3 -c '
import json, sys
print([m["id"] for m in json.load(open(sys.argv[1]))["mappings"]
       if m["kind"] == "cn"][0])' "$T/show-bob.json")
[ "$(exit_of cg user remove-cert alice "$cn_map")" = 1 ] ||
    fail "removed another identity's mapping"
cg user remove-cert bob "$cn_map" >/dev/null || fail "remove-cert"
cg user show bob --json | python3 -c '
import json, sys
assert [m["kind"] for m in json.load(sys.stdin)["mappings"]] == ["sha256"]' ||
    fail "remove-cert left the mapping"
pass "remove-cert"

cg audit --json >"$T/audit.json" || fail "audit"
python3 - "$T/audit.json" <<'PY' || fail "audit log"
import json, sys
acts = [r["action"] for r in json.load(open(sys.argv[1]))]
for a, n in (("trust-add", 2), ("trust-remove", 1), ("user-import-cert", 3),
             ("user-issue", 2), ("holding-accept", 1), ("holding-reject", 1),
             ("user-rule-add", 3), ("user-rule-remove", 1),
             ("user-unmap", 1)):
    assert acts.count(a) == n, (a, acts.count(a), acts)
PY
pass "every change audited"
