#!/bin/bash
# EST under concurrency: 24 curl clients enroll at once.  Enrollments go
# through the gateway's group commit (many certificates per store
# transaction); every client gets its certificate, every certificate
# verifies with openssl and is in the store, and at SIGTERM the committer
# reports exactly that many certificates recorded -- nothing answered that
# was not recorded, nothing recorded twice.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3

N=24
d=$T/ca
init_ca "$d"
start_serve "$d"
U=https://127.0.0.1:$HTTPS_PORT/.well-known/est
base=$(cert_count "$d")

for i in $(seq 1 "$N"); do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/c$i.key" -subj "/CN=dev-$i" -outform DER \
	    -out "$T/c$i.der" 2>/dev/null || fail "openssl req $i"
	openssl base64 -in "$T/c$i.der" -out "$T/c$i.b64"
done
pids=()
for i in $(seq 1 "$N"); do
	curl -s --cacert "$d/ca/root.pem" -u "est:$(cat "$d/secrets/est.password")" \
	    -H "Content-Type: application/pkcs10" \
	    --data-binary "@$T/c$i.b64" -o "$T/r$i.b64" \
	    -w '%{http_code}' "$U/simpleenroll" >"$T/code$i" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "a curl client failed"
done

"$CERTGW" cert list --dir "$d" --json >"$T/list.json" || fail "cert list"
for i in $(seq 1 "$N"); do
	[ "$(cat "$T/code$i")" = 200 ] || fail "client $i got $(cat "$T/code$i")"
	openssl base64 -d -in "$T/r$i.b64" | openssl pkcs7 -inform DER \
	    -print_certs -out "$T/r$i.pem" 2>/dev/null ||
	    fail "client $i: not a PKCS#7 certs-only response"
	openssl verify -CAfile "$d/ca/root.pem" "$T/r$i.pem" >/dev/null ||
	    fail "client $i: certificate does not verify"
	# The certificate holds the client's own key.
	[ "$(openssl x509 -in "$T/r$i.pem" -noout -pubkey)" = \
	    "$(openssl pkey -in "$T/c$i.key" -pubout)" ] ||
	    fail "client $i: certificate is not for its key"
	serial=$(openssl x509 -in "$T/r$i.pem" -noout -serial | cut -d= -f2)
	python3 - "$T/list.json" "$serial" "dev-$i" <<'PY' ||
import json, sys
rows = json.load(open(sys.argv[1]))
want = sys.argv[2].upper().lstrip("0")	# the store keeps no leading 0
hit = [r for r in rows if r["serial"].upper().lstrip("0") == want]
sys.exit(0 if len(hit) == 1 and hit[0]["protocol"] == "est" and
         sys.argv[3] in hit[0]["subject"] else 1)
PY
	    fail "client $i: serial $serial is not recorded once as est"
done
[ "$(cert_count "$d")" = $((base + N)) ] ||
    fail "store holds $(cert_count "$d") certificates, want $((base + N))"
pass "$N concurrent enrollments: all answered, verified and recorded"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve did not exit 0"
line=$(grep 'event=group_commit' "$T/serve.log") ||
    fail "no group commit summary in the log"
echo "  $line"
case $line in
*" certificates=$N "*) ;;
*) fail "the committer recorded other than $N certificates: $line" ;;
esac
pass "the committer recorded each certificate once"
