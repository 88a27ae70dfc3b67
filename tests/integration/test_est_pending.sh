#!/bin/bash
# EST with manual approval (RFC 7030 §4.2.3): a label whose profile has
# "approval": "manual" answers 202 with Retry-After; `certgw pending list`
# shows the request; after `certgw pending approve` the same request gets
# 200 and the certificate; after `certgw pending reject` another gets 403.
# serverkeygen is refused on such a label (a new key every time could never
# be approved).
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3

d=$T/ca
init_ca "$d" --intermediate
pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$pw" >"$T/est.password"
hash=$("$CERTGW" passwd --iterations 1000 --password-file "$T/est.password")
json_set "$d/certgw.json" '
c["profiles"]["held"] = dict(c["profiles"]["device"])
c["profiles"]["held"]["approval"] = "manual"
c["est"] = {"users": {"est": {"password_hash": "'"$hash"'"}},
  "labels": {"default": {"profile": "device"},
    "held": {"profile": "held", "retry_after_s": 7}}}'
start_serve "$d"
base=$(cert_count "$d")
U=https://127.0.0.1:$HTTPS_PORT/.well-known/est/held
CURL="curl -s --cacert $d/ca/root.pem -u est:$pw"

# enroll NAME: POST NAME's CSR; sets CODE, headers $T/hdr, body $T/out.
enroll() {
	CODE=$($CURL -H 'Content-Type: application/pkcs10' -D "$T/hdr" \
	    --data-binary @"$T/$1.b64" -o "$T/out" -w '%{http_code}' \
	    "$U/${2:-simpleenroll}")
}

make_csr ec-p256 held-1 "$T/held-1.csr" "DNS:held-1.example"
openssl req -in "$T/held-1.csr" -outform DER | base64 >"$T/held-1.b64"
enroll held-1
[ "$CODE" = 202 ] || fail "first request: $CODE $(cat "$T/out")"
grep -qi '^retry-after: 7' "$T/hdr" || fail "202 without Retry-After: 7"
grep -q "waiting for approval" "$T/out" || fail "202 text: $(cat "$T/out")"
enroll held-1
[ "$CODE" = 202 ] || fail "repeat while waiting: $CODE"
pass "manual approval: 202 with Retry-After, twice"

"$CERTGW" pending list --dir "$d" --json >"$T/pending.json"
id=$(python3 - "$T/pending.json" <<'PY'
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["status"] == "waiting"]
assert len(rows) == 1, rows
r = rows[0]
assert r["protocol"] == "est" and r["profile"] == "held", r
assert r["requester"] == "est:basic:est", r
assert "held-1" in r["subject"], r
print(r["id"])
PY
) || fail "pending list does not show the request"
[ "$(cert_count "$d")" = "$base" ] || fail "issued before approval"
pass "pending list shows request $id"

"$CERTGW" pending approve --dir "$d" "$id" >"$T/approve.log" 2>&1 ||
    fail "pending approve: $(cat "$T/approve.log")"
enroll held-1
[ "$CODE" = 200 ] || fail "after approval: $CODE $(cat "$T/out")"
openssl base64 -d -in "$T/out" | openssl pkcs7 -inform DER -print_certs \
    -out "$T/held-1.pem" || fail "after approval: not PKCS#7"
openssl verify -CAfile "$d/ca/root.pem" -untrusted "$d/ca/issuing.pem" \
    "$T/held-1.pem" >/dev/null || fail "approved certificate does not verify"
cmp -s <(openssl x509 -in "$T/held-1.pem" -noout -pubkey) \
    <(openssl pkey -in "$T/held-1.key" -pubout) || fail "wrong key"
"$CERTGW" cert list --dir "$d" --json >"$T/list.json"
python3 - "$T/list.json" <<'PY' || fail "approved certificate not recorded as est"
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if "held-1" in r["subject"]]
assert len(rows) == 1, rows
assert rows[0]["protocol"] == "est" and rows[0]["requester"] == "est:basic:est", rows
PY
pass "approved: the same request now gets its certificate"

make_csr ec-p256 held-2 "$T/held-2.csr" "DNS:held-2.example"
openssl req -in "$T/held-2.csr" -outform DER | base64 >"$T/held-2.b64"
enroll held-2
[ "$CODE" = 202 ] || fail "held-2: $CODE"
"$CERTGW" pending list --dir "$d" --json >"$T/pending.json"
id2=$(python3 -c 'import json,sys; print([r["id"] for r in json.load(open(sys.argv[1])) if r["status"] == "waiting"][0])' "$T/pending.json")
"$CERTGW" pending reject --dir "$d" "$id2" >/dev/null 2>&1 ||
    fail "pending reject"
enroll held-2
[ "$CODE" = 403 ] || fail "after rejection: $CODE"
grep -q "request rejected by an administrator" "$T/out" ||
    fail "rejection text: $(cat "$T/out")"
pass "rejected: 403 request rejected by an administrator"

enroll held-2 serverkeygen
[ "$CODE" = 403 ] || fail "serverkeygen on a held label: $CODE"
grep -q "not available with manual approval" "$T/out" ||
    fail "serverkeygen text: $(cat "$T/out")"
pass "serverkeygen refused on a manual-approval label"

n=$(cert_count "$d")
[ "$n" = $((base + 1)) ] || fail "expected $((base + 1)) certificates, found $n"
pass "one certificate issued in all"
