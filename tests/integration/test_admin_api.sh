#!/bin/bash
# The admin API (docs/admin-api.md): identities admin, op and aud with
# client certificates from the gateway's CA, an unmapped certificate and
# none.  whoami for each role; the auditor reads but may not revoke; the
# operator revokes (and `certgw cert show` sees it); the admin creates an
# identity; the refusals' JSON errors; audit rows for the calls;
# `certgw --server` against the API; every endpoint the server registers
# in the OpenAPI description.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3

d=$T/ca
init_ca "$d"
base=https://127.0.0.1:$HTTPS_PORT/admin/v1
cacert=$d/ca/chain.pem

# client NAME: a key and a certificate from the gateway's CA (profile
# device: clientAuth) as $T/NAME.key and $T/NAME.pem; prints the SHA-256.
client() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$1.key" -subj "/CN=$1-client" -out "$T/$1.csr" \
	    2>/dev/null || fail "openssl req $1"
	"$CERTGW" issue --dir "$d" --profile device --csr "$T/$1.csr" \
	    --out "$T/$1.pem" 2>"$T/issue.log" ||
	    fail "issue $1: $(cat "$T/issue.log")"
	openssl x509 -in "$T/$1.pem" -noout -fingerprint -sha256 |
	    cut -d= -f2 | tr -d : | tr A-F a-f
}

for who in admin:admin op:operator aud:auditor; do
	name=${who%%:*}
	role=${who#*:}
	"$CERTGW" user add "$name" --role "$role" --dir "$d" >/dev/null ||
	    fail "user add $name"
	fp=$(client "$name")
	"$CERTGW" user add-cert "$name" --thumbprint "$fp" --dir "$d" \
	    >/dev/null || fail "user add-cert $name"
done
client stranger >/dev/null
# A certificate to revoke.
victim_fp=$(client victim)
victim=$("$CERTGW" cert show "$victim_fp" --dir "$d" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["serial"])')

# A label whose profile needs manual approval, for /pending.
json_set "$d/certgw.json" '
c["profiles"]["held"] = dict(c["profiles"]["device"])
c["profiles"]["held"]["approval"] = "manual"
c["est"]["labels"]["held"] = {"profile": "held", "auth": ["basic"]}
c["listeners"]["https"]["client_cert_policy"] = {"/whoami": "accept-self-signed"}'
start_serve "$d"

# api WHO METHOD PATH [JSON]: the HTTP status; the body in $T/body.
api() {
	local who=$1 method=$2 path=$3 auth=()
	[ "$who" = none ] || auth=(--cert "$T/$who.pem" --key "$T/$who.key")
	if [ $# -ge 4 ]; then
		curl -s -o "$T/body" -w '%{http_code}' --cacert "$cacert" \
		    "${auth[@]}" -X "$method" -H 'Content-Type: application/json' \
		    --data-binary "$4" "$base$path" || true
	else
		curl -s -o "$T/body" -w '%{http_code}' --cacert "$cacert" \
		    "${auth[@]}" -X "$method" "$base$path" || true
	fi
}

# field EXPR: a Python expression over the last body (as b).
field() {
	python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
	    "$T/body" "$1" || fail "body is not JSON: $(cat "$T/body")"
}

# --- whoami for each role
for who in admin:admin op:operator aud:auditor; do
	[ "$(api "${who%%:*}" GET /whoami)" = 200 ] ||
	    fail "whoami ${who%%:*}: $(cat "$T/body")"
	[ "$(field 'b["name"]+"/"+b["role"]')" = "${who%%:*}/${who#*:}" ] ||
	    fail "whoami ${who%%:*}: $(cat "$T/body")"
done
pass "whoami names the identity and role of each certificate"

# --- unmapped certificate, no certificate
[ "$(api stranger GET /whoami)" = 403 ] || fail "unmapped not 403"
[ "$(field 'b["error"]')" = client_cert_unmapped ] ||
    fail "unmapped error: $(cat "$T/body")"
[ "$(api stranger GET /certificates)" = 403 ] || fail "unmapped list"
[ "$(api none GET /whoami)" = 403 ] || fail "no certificate not 403"
grep -qi 'client.cert' "$T/body" || fail "no-cert body: $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$cacert" \
    -H 'Accept: application/json' "$base/whoami")
[ "$code" = 403 ] || fail "no certificate (JSON) not 403"
[ "$(field 'b["error"]')" = client_cert_required ] ||
    fail "no-cert JSON: $(cat "$T/body")"
pass "unmapped certificate 403 client_cert_unmapped, none 403"

# --- auditor reads, may not revoke
[ "$(api aud GET '/certificates?limit=1000')" = 200 ] ||
    fail "auditor list: $(cat "$T/body")"
python3 - "$T/body" "$victim" <<'PY' || fail "list lacks the victim"
import json, sys
b = json.load(open(sys.argv[1]))
assert any(c["serial"] == sys.argv[2] and c["status"] == "valid"
           for c in b["certificates"]), b
PY
[ "$(api aud GET "/certificates?q=victim-client")" = 200 ] || fail "search"
[ "$(field 'len(b["certificates"])')" = 1 ] || fail "q=: $(cat "$T/body")"
[ "$(api aud GET "/certificates/$victim")" = 200 ] || fail "auditor show"
pem=$(field 'b["pem"]')
case $pem in *"BEGIN CERTIFICATE"*) ;; *) fail "show lacks PEM" ;; esac
[ "$(api aud POST "/certificates/$victim/revoke" '{"reason":"keyCompromise"}')" = 403 ] ||
    fail "auditor revoke not 403: $(cat "$T/body")"
[ "$(field 'b["error"]')" = forbidden ] || fail "auditor revoke error"
detail=$(field 'b["detail"]')
case $detail in *operator*) ;; *) fail "403 does not name the role" ;; esac
for p in /identities /rules /trust /pending /holding /distribution \
    '/audit?limit=5' '/pending?status=all' '/holding?status=all'; do
	[ "$(api aud GET "$p")" = 200 ] || fail "auditor GET $p: $(cat "$T/body")"
done
[ "$(api aud GET '/notifications?limit=10')" = 200 ] ||
    fail "notifications: $(cat "$T/body")"
[ "$(field 'b["notifications"]')" = "[]" ] || fail "notifications list"
pass "auditor: every GET; revoke 403 forbidden naming the operator role"

# --- trust anchors: admin adds and removes, others may not
test_ca "$T/partner" "Partner Issuing CA"
test_leaf "$T/partner" "$T/pleaf" partner-1 client
jpem() {
	python3 -c 'import json,sys; print(json.dumps({"pem": open(sys.argv[1]).read()}))' "$1"
}
[ "$(api op POST /trust "$(jpem "$T/partner/ca.pem")")" = 403 ] ||
    fail "operator trust add not 403: $(cat "$T/body")"
[ "$(api admin POST /trust "$(jpem "$T/pleaf.pem")")" = 422 ] ||
    fail "leaf as trust anchor not 422: $(cat "$T/body")"
[ "$(field 'b["error"]')" = bad_certificate ] || fail "leaf error"
case $(field 'b["detail"]') in *"not a CA certificate"*) ;;
	*) fail "leaf detail: $(cat "$T/body")" ;; esac
[ "$(api admin POST /trust "$(jpem "$T/partner/ca.pem")")" = 201 ] ||
    fail "admin trust add: $(cat "$T/body")"
tid=$(field 'b["id"]')
[ "$(field 'b["subject"]')" = "CN=Partner Issuing CA" ] || fail "trust add body"
[ "$(api admin POST /trust "$(jpem "$T/partner/ca.pem")")" = 409 ] ||
    fail "second trust add not 409: $(cat "$T/body")"
[ "$(field 'b["error"]')" = already_trusted ] || fail "409 error"
"$CERTGW" trust list --dir "$d" | grep -q "CN=Partner Issuing CA" ||
    fail "the API's trust anchor is not in the store"
[ "$(api aud DELETE "/trust/$tid")" = 403 ] || fail "auditor trust delete"
[ "$(api admin DELETE "/trust/$tid")" = 200 ] ||
    fail "admin trust delete: $(cat "$T/body")"
[ "$(api admin DELETE "/trust/$tid")" = 404 ] || fail "second delete not 404"
"$CERTGW" trust list --dir "$d" | grep -q "CN=Partner Issuing CA" &&
    fail "trust anchor still there after DELETE"
pass "trust: admin adds (201) and removes; leaf 422, twice 409; operator and auditor 403"

# --- reissue with the same key: operator yes, auditor no; revoked 409
client re1 >/dev/null
rs=$(openssl x509 -in "$T/re1.pem" -noout -serial | cut -d= -f2 | sed "s/^0*//")
[ "$(api aud POST "/certificates/$rs/reissue" '{}')" = 403 ] ||
    fail "auditor reissue not 403: $(cat "$T/body")"
[ "$(api op POST "/certificates/$rs/reissue" '{"revoke_old":true}')" = 201 ] ||
    fail "operator reissue: $(cat "$T/body")"
[ "$(field 'b["old_serial"]')" = "$rs" ] || fail "reissue old_serial"
field 'b["pem"]' >"$T/re1-new.pem"
openssl verify -CAfile "$cacert" "$T/re1-new.pem" >/dev/null ||
    fail "the reissued certificate does not verify"
[ "$(openssl x509 -in "$T/re1-new.pem" -noout -pubkey)" = \
    "$(openssl x509 -in "$T/re1.pem" -noout -pubkey)" ] ||
    fail "reissue changed the key"
"$CERTGW" cert show "$rs" --dir "$d" | grep -q "^status: *revoked" ||
    fail "revoke_old did not revoke the old certificate"
[ "$(api op POST "/certificates/$rs/reissue" '{}')" = 409 ] ||
    fail "reissue of a revoked certificate not 409: $(cat "$T/body")"
[ "$(api op POST "/certificates/$rs/reissue" '{"profile":"nope"}')" = 409 ] ||
    fail "revoked first, then the profile: $(cat "$T/body")"
# update-needed: the API filters as `certgw cert list --status` does.
[ "$(api aud GET '/certificates?status=update-needed&limit=1000')" = 200 ] ||
    fail "status=update-needed: $(cat "$T/body")"
"$CERTGW" cert list --status update-needed --json --dir "$d" >"$T/un.json" ||
    fail "cert list --status update-needed"
python3 - "$T/body" "$T/un.json" <<'PY' || fail "update-needed differs"
import json, sys
a = json.load(open(sys.argv[1]))["certificates"]
b = json.load(open(sys.argv[2]))
b = b if isinstance(b, list) else b.get("certificates", b)
assert sorted(c["serial"] for c in a) == sorted(c["serial"] for c in b), (a, b)
assert all(c["status"] == "update-needed" for c in a)
PY
pass "reissue: operator 201 same key, old revoked; auditor 403; revoked 409; update-needed as the CLI"

# --- import a user's certificate: admin only, the checks of import-cert
# selfsigned OUT CN: a self-signed client certificate (no CA) as OUT.pem.
selfsigned() {
	printf '[req]\ndistinguished_name = dn\nx509_extensions = v3\n[dn]\n[v3]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n' >"$1.cnf"
	openssl req -x509 -new -config "$1.cnf" -newkey ec \
	    -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
	    -subj "/CN=$2" -days 30 -out "$1.pem" 2>/dev/null ||
	    fail "self-signed $2"
}
sha() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 |
	    tr -d : | tr A-F a-f
}
# jimport FILE [true|false]: the body of an import.
jimport() {
	python3 -c 'import json,sys; print(json.dumps({"pem": open(sys.argv[1]).read(), "thumbprint_only": sys.argv[2] == "true"}))' "$1" "${2:-false}"
}
"$CERTGW" user add imp --dir "$d" >/dev/null || fail "user add imp"
selfsigned "$T/ss" imp-laptop
[ "$(api op POST /identities/imp/certificates "$(jimport "$T/ss.pem")")" = 403 ] ||
    fail "operator import not 403: $(cat "$T/body")"
[ "$(api admin POST /identities/nobody/certificates "$(jimport "$T/ss.pem")")" = 404 ] ||
    fail "import for an unknown identity not 404: $(cat "$T/body")"
# The partner CA is not trusted (its anchor was removed above).
[ "$(api admin POST /identities/imp/certificates "$(jimport "$T/pleaf.pem")")" = 422 ] ||
    fail "import from an untrusted CA not 422: $(cat "$T/body")"
[ "$(field 'b["error"]')" = untrusted_certificate ] || fail "untrusted error"
[ "$(field 'b["detail"]')" = 'the issuing CA "CN=Partner Issuing CA" is not trusted; trust it first with: certgw trust add CA.pem' ] ||
    fail "untrusted detail: $(cat "$T/body")"
[ "$(api admin POST /identities/imp/certificates "$(jimport "$T/partner/ca.pem")")" = 422 ] ||
    fail "import of a CA not 422: $(cat "$T/body")"
case $(field 'b["detail"]') in *"is a CA certificate"*) ;;
	*) fail "CA import detail: $(cat "$T/body")" ;; esac
cat "$T/ss.key" "$T/ss.pem" >"$T/sswithkey.pem"
[ "$(api admin POST /identities/imp/certificates "$(jimport "$T/sswithkey.pem")")" = 422 ] ||
    fail "import with a key not 422: $(cat "$T/body")"
case $(field 'b["detail"]') in *"private key"*) ;;
	*) fail "key import detail: $(cat "$T/body")" ;; esac
[ "$(api admin POST /identities/imp/certificates '{"pem":"x","thumbprint_only":"yes"}')" = 400 ] ||
    fail "thumbprint_only as a string not 400"
"$CERTGW" user show imp --json --dir "$d" >"$T/imp.json" || fail "user show imp"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["mappings"]))' "$T/imp.json")" = 0 ] ||
    fail "a refused import left a mapping: $(cat "$T/imp.json")"
[ "$(api admin POST /identities/imp/certificates "$(jimport "$T/ss.pem")")" = 201 ] ||
    fail "admin import of a self-signed certificate: $(cat "$T/body")"
[ "$(field 'b["pinned"]')" = True ] || fail "self-signed not pinned"
[ "$(field 'b["mappings"][0]["value"]')" = "$(sha "$T/ss.pem")" ] ||
    fail "pinned sha256: $(cat "$T/body")"
[ "$(api admin POST /identities/imp/certificates "$(jimport "$T/ss.pem")")" = 409 ] ||
    fail "second import not 409: $(cat "$T/body")"
# Once the partner CA is trusted, its certificate maps by SHA-256 and CN.
[ "$(api admin POST /trust "$(jpem "$T/partner/ca.pem")")" = 201 ] ||
    fail "trust partner again: $(cat "$T/body")"
tid=$(field 'b["id"]')
[ "$(api admin POST /identities/imp/certificates "$(jimport "$T/pleaf.pem")")" = 201 ] ||
    fail "import from a trusted CA: $(cat "$T/body")"
[ "$(field 'b["pinned"]')" = False ] || fail "CA-signed import pinned"
[ "$(field '[m["kind"]+"="+m["value"] for m in b["mappings"]]')" = \
    "['sha256=$(sha "$T/pleaf.pem")', 'cn=partner-1']" ] ||
    fail "CA-signed import mappings: $(cat "$T/body")"
[ "$(api admin DELETE "/trust/$tid")" = 200 ] || fail "untrust partner"
"$CERTGW" user show imp --json --dir "$d" >"$T/imp.json" || fail "user show imp"
python3 - "$T/imp.json" "$(sha "$T/ss.pem")" "$(sha "$T/pleaf.pem")" <<'PY' ||
import json, sys
b = json.load(open(sys.argv[1]))
got = sorted((m["kind"], m["value"], m["pinned"], m["source"])
             for m in b["mappings"])
want = sorted([("sha256", sys.argv[2], True, "import"),
               ("sha256", sys.argv[3], False, "import"),
               ("cn", "partner-1", False, "import")])
assert got == want, got
PY
    fail "the store's mappings after the API imports"
"$CERTGW" audit --json --dir "$d" >"$T/audit.json" ||
    fail "audit after imports"
python3 - "$T/audit.json" "$(sha "$T/ss.pem")" <<'PY' || fail "import audit rows"
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))
        if r["action"] == "admin.identities.import"]
assert any(r["actor"] == "api:admin" and r["target"] == "imp" and
           r["outcome"] == "ok" and "sha256=" + sys.argv[2] in r["detail"]
           for r in rows), rows
assert any(r["actor"] == "api:op" and r["outcome"] == "refused"
           for r in rows), rows
assert any("status=422" in r["detail"] and "untrusted_certificate" in
           r["detail"] for r in rows), rows
PY
pass "import: admin 201 (self-signed pinned; trusted CA by SHA-256 and CN); operator 403; untrusted issuer 422 'trust it first'; CA, key 422; twice 409"

# --- errors
[ "$(api aud GET /no-such-thing)" = 404 ] || fail "unknown endpoint"
[ "$(field 'b["error"]')" = not_found ] || fail "404 error"
[ "$(api aud DELETE /certificates)" = 405 ] || fail "DELETE not 405"
curl -s -D "$T/hdr" -o /dev/null --cacert "$cacert" --cert "$T/aud.pem" \
    --key "$T/aud.key" -X DELETE "$base/certificates"
grep -qi '^allow: GET, HEAD' "$T/hdr" || fail "405 without Allow"
[ "$(api aud GET '/certificates?limit=5000')" = 400 ] || fail "limit 5000"
[ "$(api aud GET '/certificates?bogus=1')" = 400 ] || fail "unknown param"
[ "$(api aud GET /certificates/ABCDEF0123)" = 404 ] || fail "unknown serial"
code=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$cacert" \
    --cert "$T/op.pem" --key "$T/op.key" -H 'Content-Type: text/plain' \
    --data-binary 'reason=x' "$base/certificates/$victim/revoke")
[ "$code" = 415 ] || fail "text/plain body not 415: $code"
[ "$(api op POST "/certificates/$victim/revoke" '{"reason":"nonsense"}')" = 400 ] ||
    fail "bad reason not 400"
[ "$(api op POST "/certificates/$victim/revoke" '{"why":"x"}')" = 400 ] ||
    fail "unknown member not 400"
[ "$(api op POST "/certificates/$victim/revoke" '[1]')" = 400 ] ||
    fail "array body not 400"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
code=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$cacert" \
    --cert "$T/op.pem" --key "$T/op.key" -H 'Content-Type: application/json' \
    --data-binary "@$T/big.json" "$base/certificates/$victim/revoke")
[ "$code" = 413 ] || fail "70 kB body not 413: $code"
pass "404, 405 with Allow, 400, 413, 415 as JSON errors"

# --- operator revokes
[ "$(api op POST "/certificates/$victim/revoke" '{"reason":"keyCompromise"}')" = 200 ] ||
    fail "operator revoke: $(cat "$T/body")"
[ "$(field 'b["status"]+"/"+b["revocation_reason"]')" = revoked/keyCompromise ] ||
    fail "revoke answer: $(cat "$T/body")"
"$CERTGW" cert show "$victim" --dir "$d" | grep -q "^status: *revoked" ||
    fail "cert show does not see the revocation"
[ "$(api op POST "/certificates/$victim/revoke" '{}')" = 409 ] ||
    fail "second revoke not 409"
[ "$(api op POST /identities '{"name":"x","role":"admin"}')" = 403 ] ||
    fail "operator may create identities"
pass "operator revokes; certgw cert show sees it; again 409"

# --- pending requests: EST on the manual label, decided through the API
# held N: an EST request for CN held-N; prints the HTTP status.
held() {
	[ -f "$T/held-$1.b64" ] || {
		make_csr ec-p256 "held-$1" "$T/held-$1.csr"
		openssl req -in "$T/held-$1.csr" -outform DER |
		    base64 >"$T/held-$1.b64"
	}
	curl -s -o /dev/null -w '%{http_code}' --cacert "$cacert" \
	    -u "est:$(cat "$d/secrets/est.password")" \
	    -H 'Content-Type: application/pkcs10' \
	    --data-binary "@$T/held-$1.b64" \
	    "https://127.0.0.1:$HTTPS_PORT/.well-known/est/held/simpleenroll"
}
[ "$(held 1)" = 202 ] || fail "held 1 not 202"
[ "$(held 2)" = 202 ] || fail "held 2 not 202"
[ "$(api aud GET /pending)" = 200 ] || fail "pending list"
[ "$(field 'len(b["pending"])')" = 2 ] || fail "pending: $(cat "$T/body")"
p1=$(field '[r["id"] for r in b["pending"] if "held-1" in r["subject"]][0]')
p2=$(field '[r["id"] for r in b["pending"] if "held-2" in r["subject"]][0]')
[ "$(api aud POST "/pending/$p1/approve")" = 403 ] || fail "auditor approves"
[ "$(api op POST "/pending/$p1/approve")" = 200 ] ||
    fail "approve: $(cat "$T/body")"
[ "$(field 'b["status"]')" = approved ] || fail "approve: $(cat "$T/body")"
s1=$(field 'b["cert_serial"]')
"$CERTGW" cert show "$s1" --dir "$d" >/dev/null || fail "no certificate $s1"
[ "$(held 1)" = 200 ] || fail "approved request not 200 on repeat"
[ "$(api op POST "/pending/$p2/reject" '{"reason":"unknown host"}')" = 200 ] ||
    fail "reject: $(cat "$T/body")"
[ "$(field 'b["status"]+"/"+b["decided_by"]')" = rejected/api:op ] ||
    fail "reject: $(cat "$T/body")"
[ "$(api op POST "/pending/$p2/approve")" = 409 ] || fail "approve after reject"
[ "$(held 2)" = 403 ] || fail "rejected request not 403 on repeat"
[ "$(api op POST /pending/999999/approve)" = 404 ] || fail "unknown id"
pass "pending: operator approves (certificate issued) and rejects; auditor 403"

# --- admin manages identities
[ "$(api admin POST /identities '{"name":"carol","email":"c@example.org","role":"auditor"}')" = 201 ] ||
    fail "admin create: $(cat "$T/body")"
[ "$(field 'b["name"]+"/"+b["role"]')" = carol/auditor ] || fail "create"
[ "$(api admin POST /identities '{"name":"carol"}')" = 409 ] ||
    fail "duplicate not 409"
"$CERTGW" user show carol --dir "$d" | grep -q "^role: *auditor" ||
    fail "certgw user show does not see carol"
[ "$(api admin POST /identities/carol/mappings '{"kind":"cn","value":"carol-device"}')" = 201 ] ||
    fail "mapping: $(cat "$T/body")"
mid=$(field 'b["id"]')
[ "$(api admin POST /identities/carol '{"role":"operator","disabled":true}')" = 200 ] ||
    fail "update: $(cat "$T/body")"
[ "$(field 'b["role"]+"/"+str(b["disabled"])')" = operator/True ] ||
    fail "update answer: $(cat "$T/body")"
[ "$(api aud GET /identities/carol)" = 200 ] || fail "show carol"
[ "$(field 'b["mappings"][0]["value"]')" = carol-device ] ||
    fail "show lacks mapping"
[ "$(api admin DELETE "/identities/carol/mappings/$mid")" = 200 ] ||
    fail "delete mapping: $(cat "$T/body")"
[ "$(api admin DELETE "/identities/carol/mappings/$mid")" = 404 ] ||
    fail "second delete not 404"
pass "admin creates, updates, maps and unmaps an identity"

# --- holding tank: a self-signed certificate seen on an accept route
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/self.key" -subj "/CN=self-device" -days 2 \
    -addext "extendedKeyUsage=clientAuth" -out "$T/self.pem" 2>/dev/null ||
    fail "openssl req -x509"
self_fp=$(openssl x509 -in "$T/self.pem" -noout -fingerprint -sha256 |
    cut -d= -f2 | tr -d : | tr A-F a-f)
curl -s -o /dev/null --cacert "$cacert" --cert "$T/self.pem" \
    --key "$T/self.key" "https://127.0.0.1:$HTTPS_PORT/whoami" ||
    fail "/whoami with a self-signed certificate"
[ "$(api self GET /whoami)" = 403 ] || fail "self-signed before accept"
[ "$(api aud GET /holding)" = 200 ] || fail "holding list"
hid=$(field '[h["id"] for h in b["holding"] if h["sha256"] == "'"$self_fp"'"][0]') ||
    fail "holding lacks the certificate: $(cat "$T/body")"
[ "$(api admin POST /identities '{"name":"dev1","role":"auditor"}')" = 201 ] ||
    fail "create dev1"
[ "$(api aud POST "/holding/$hid/accept" '{"user":"dev1"}')" = 403 ] ||
    fail "auditor accepts"
[ "$(api op POST "/holding/$hid/accept" '{}')" = 400 ] || fail "no user"
[ "$(api op POST "/holding/$hid/accept" '{"user":"dev1"}')" = 200 ] ||
    fail "accept: $(cat "$T/body")"
[ "$(field 'b["pinned"]')" = True ] || fail "not pinned: $(cat "$T/body")"
[ "$(api op POST "/holding/$hid/reject")" = 409 ] || fail "decided twice"
[ "$(api self GET /whoami)" = 200 ] ||
    fail "accepted certificate: $(cat "$T/body")"
[ "$(field 'b["name"]')" = dev1 ] || fail "accepted maps to $(cat "$T/body")"
pass "holding: operator accepts a self-signed certificate, pinned to dev1"

# --- a disabled caller
"$CERTGW" user disable op --dir "$d" >/dev/null
[ "$(api op GET /whoami)" = 403 ] || fail "disabled op not refused"
[ "$(field 'b["error"]')" = identity_disabled ] || fail "disabled error"
"$CERTGW" user enable op --dir "$d" >/dev/null
pass "a disabled identity gets 403 identity_disabled"

# --- audit rows
"$CERTGW" audit --json --dir "$d" >"$T/audit.json"
python3 - "$T/audit.json" "$victim" <<'PY' || fail "audit rows missing"
import json, sys
rows = json.load(open(sys.argv[1]))
def has(actor, action, outcome):
    return any(r["actor"] == actor and r["action"] == action and
               r["outcome"] == outcome for r in rows)
assert has("api:op", "admin.certificates.revoke", "ok"), "op revoke"
assert has("api:aud", "admin.certificates.revoke", "refused"), "aud revoke"
assert has("api:-", "admin.whoami.show", "refused"), "unmapped"
assert has("api:admin", "admin.identities.create", "ok"), "create"
assert has("api:aud", "admin.certificates.list", "ok"), "list"
r = [r for r in rows if r["action"] == "admin.certificates.revoke" and
     r["outcome"] == "ok"][0]
assert r["target"] == sys.argv[2], r
assert "/admin/v1/certificates/" in r["detail"] and "status=200" in r["detail"], r
PY
pass "every call leaves an audit row (actor, action, outcome, path)"

# --- certgw --server
client victim2 >/dev/null
remote=("$CERTGW" --server "https://127.0.0.1:$HTTPS_PORT" --cert "$T/admin.pem"
    --key "$T/admin.key" --cacert "$cacert")
"${remote[@]}" cert list --json --limit 1000 >"$T/remote.json" ||
    fail "certgw --server cert list"
[ "$(api admin GET '/certificates?limit=1000')" = 200 ] || fail "list"
python3 - "$T/remote.json" "$T/body" <<'PY' || fail "--server differs from the API"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a == b, (a, b)
PY
v2=$(python3 -c 'import json,sys; print([c["serial"] for c in json.load(open(sys.argv[1]))["certificates"] if c["subject"]=="CN=victim2-client"][0])' "$T/remote.json")
"${remote[@]}" cert revoke "$v2" --reason superseded >"$T/out" ||
    fail "certgw --server cert revoke"
grep -q "^revoked $v2 reason=superseded" "$T/out" || fail "revoke output"
"$CERTGW" cert show "$v2" --dir "$d" | grep -q "^status: *revoked" ||
    fail "--server revoke did not revoke"
rc=$(exit_of "${remote[@]}" cert revoke "$v2")
[ "$rc" = 1 ] || fail "second --server revoke exited $rc"
"${remote[@]}" cert revoke "$v2" 2>&1 | grep -q "already_revoked" ||
    fail "--server does not print the API error"
"${remote[@]}" whoami | grep -q "^role: *admin" || fail "--server whoami"
CERTGW_SERVER=https://127.0.0.1:$HTTPS_PORT CERTGW_CLIENT_CERT=$T/aud.pem \
    CERTGW_CLIENT_KEY=$T/aud.key CERTGW_CACERT=$cacert \
    "$CERTGW" whoami --json >"$T/out" || fail "whoami from the environment"
grep -q '"role": "auditor"' "$T/out" || fail "env whoami: $(cat "$T/out")"
# The environment sends only the API's commands; the rest stay local.
CERTGW_SERVER=https://127.0.0.1:$HTTPS_PORT "$CERTGW" notify list --dir "$d" \
    >"$T/out" 2>&1 || fail "notify list with CERTGW_SERVER: $(cat "$T/out")"
# trust over --server: the file is judged locally (a key never leaves).
"${remote[@]}" trust add "$T/partner/ca.pem" >"$T/out" ||
    fail "--server trust add"
grep -q "^trusted CN=Partner Issuing CA" "$T/out" || fail "trust add output"
rid=$("${remote[@]}" trust list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["trust"][0]["id"])')
"$CERTGW" trust list --dir "$d" | grep -q "CN=Partner Issuing CA" ||
    fail "--server trust add did not reach the store"
cat "$T/pleaf.key" "$T/pleaf.pem" >"$T/withkey.pem"
rc=$(exit_of "${remote[@]}" trust add "$T/withkey.pem")
[ "$rc" = 1 ] || fail "--server trust add of a file with a key exited $rc"
"${remote[@]}" trust remove "$rid" >/dev/null || fail "--server trust remove"
client re2 >/dev/null
rs2=$(openssl x509 -in "$T/re2.pem" -noout -serial | cut -d= -f2 | sed "s/^0*//")
"${remote[@]}" cert reissue "$rs2" >"$T/out" || fail "--server cert reissue"
grep -q "^reissued serial=.* old=$rs2 " "$T/out" ||
    fail "reissue output (old=$rs2): $(head -1 "$T/out")"
openssl x509 -in "$T/out" -noout >/dev/null 2>&1 ||
    fail "--server cert reissue printed no certificate"
rc=$(exit_of "${remote[@]}" cert reissue "$rs2" --new-key)
[ "$rc" = 2 ] || fail "--server cert reissue --new-key exited $rc"
"${remote[@]}" cert reissue "$rs2" --new-key 2>&1 |
    grep -q "never travels through the API" ||
    fail "--server cert reissue --new-key does not say why"
"$CERTGW" trust list --dir "$d" | grep -q "CN=Partner Issuing CA" &&
    fail "--server trust remove did not remove"
rc=$(exit_of "${remote[@]}" crl)
[ "$rc" = 2 ] || fail "a command the API lacks exited $rc"
# The server is verified: without the CA file the call fails.
rc=$(exit_of "$CERTGW" --server "https://127.0.0.1:$HTTPS_PORT" \
    --cert "$T/admin.pem" --key "$T/admin.key" whoami)
[ "$rc" = 1 ] || fail "unverified server accepted ($rc)"
# import-cert over --server: judged locally, then the API's checks.
"$CERTGW" user add imp2 --dir "$d" >/dev/null || fail "user add imp2"
selfsigned "$T/ss2" imp2-phone
"${remote[@]}" user import-cert imp2 "$T/ss2.pem" >"$T/out" ||
    fail "--server user import-cert"
grep -q "^pinned self-signed certificate sha256 $(sha "$T/ss2.pem") to imp2 " \
    "$T/out" || fail "--server import-cert output: $(cat "$T/out")"
"$CERTGW" user show imp2 --dir "$d" | grep -q "$(sha "$T/ss2.pem")" ||
    fail "--server import-cert did not reach the store"
cat "$T/ss.key" "$T/ss2.pem" >"$T/ss2key.pem"
rc=$(exit_of "${remote[@]}" user import-cert imp2 "$T/ss2key.pem")
[ "$rc" = 1 ] || fail "--server import-cert of a file with a key exited $rc"
"${remote[@]}" user import-cert imp2 "$T/pleaf.pem" >/dev/null 2>"$T/err" &&
    fail "--server import-cert from an untrusted CA succeeded"
grep -q 'trust it first' "$T/err" || fail "--server untrusted: $(cat "$T/err")"
"${remote[@]}" user add dave --role auditor >/dev/null || fail "--server user add"
"${remote[@]}" user list | grep -q "^dave  *auditor" || fail "--server user list"
pass "certgw --server: cert list --json equals the API; revoke, whoami, user, trust, reissue, import-cert"

# --- the OpenAPI description names every endpoint the server registers
spec=$CERTGW_SRC/docs/admin-api.openapi.json
python3 - "$spec" "$CERTGW_SRC"/gateway/gw_admin.c <<'PY' || fail "OpenAPI"
import json, re, sys
spec = json.load(open(sys.argv[1]))
assert spec["openapi"].startswith("3.0"), spec["openapi"]
src = open(sys.argv[2]).read()
table = src[src.index("eps[] = {"):]
eps = re.findall(r'\{ GW_M_(\w+), "(/admin/v1/[^"]*)"', table)
assert len(eps) >= 20, eps
for method, path in eps:
    p = path[len("/admin/v1"):]
    assert p in spec["paths"], "missing path " + p
    assert method.lower() in spec["paths"][p], "missing %s %s" % (method, p)
PY
pass "docs/admin-api.openapi.json describes every endpoint"

kill -TERM "$SERVE_PID"
set +e
wait "$SERVE_PID"
rc=$?
set -e
[ "$rc" = 0 ] || fail "serve exited $rc on SIGTERM"
