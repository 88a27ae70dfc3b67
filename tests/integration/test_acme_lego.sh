#!/bin/bash
# ACME with unmodified lego against certgw serve: http-01 and tls-alpn-01
# with lego's own servers, dns-01 with the exec provider writing TXT
# records into the DNS stub (and --dns.resolvers pointing at it), an
# external account binding from `certgw acme eab new`, renew and revoke.
# Every certificate verifies with `openssl verify`; revoked ones reach the
# CRL.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
. "$CERTGW_SRC/tests/integration/acme_lib.sh"
need lego lego

d=$T/ca
start_dns_stub
acme_ca "$d"
start_serve "$d"
dns_txt_hook "$T/txt"
export LEGO_CA_CERTIFICATES=$d/ca/root.pem

# lg NAME ARGS...: lego with its state in $LEGO_PATH ($T/lego), against
# $LEGO_SERVER (the default directory).
lg() {
	local name=$1
	shift
	timeout 120 lego --server "${LEGO_SERVER:-$ACME_DIR}" --accept-tos \
	    --email admin@example.test --path "${LEGO_PATH:-$T/lego}" "$@" \
	    >"$T/lego-$name.log" 2>&1 ||
	    fail "lego $name: $(tail -n 15 "$T/lego-$name.log")"
}
crt=$T/lego/certificates

# --- http-01 with lego's server.
lg http01 --domains web.example.test --http --http.port "127.0.0.1:$HTTP01_PORT" run
verify_cert "$d" "$crt/web.example.test.crt"
pass "http-01"

# --- tls-alpn-01 with lego's server (RFC 8737).
lg alpn --domains alpn.example.test --tls --tls.port "127.0.0.1:$ALPN_PORT" run
verify_cert "$d" "$crt/alpn.example.test.crt"
grep -q 'tls-alpn-01' "$T/lego-alpn.log" || fail "lego did not use tls-alpn-01"
pass "tls-alpn-01"

# --- dns-01 with the exec provider; lego finds the zone through the stub
# (--dns.resolvers).  Its propagation check would then ask the zone's
# name servers on port 53, which a loopback test cannot serve, so it is
# off (--dns.disable-cp); certgw's own lookup is the check that counts.
cat >"$T/exec-hook" <<HOOK
#!/bin/sh
# lego exec: present|cleanup FQDN VALUE (FQDN ends in a dot).
name=\${2%.}
case "\$1" in
present) exec "$T/txt" add "\$name" "\$3" ;;
cleanup) exec "$T/txt" del "\$name" ;;
esac
HOOK
chmod 755 "$T/exec-hook"
EXEC_PATH=$T/exec-hook EXEC_PROPAGATION_TIMEOUT=20 EXEC_POLLING_INTERVAL=1 \
    lg dns01 --domains dns.example.test --domains '*.dns.example.test' \
    --dns exec --dns.resolvers "127.0.0.1:$DNS_PORT" --dns.disable-cp run
verify_cert "$d" "$crt/dns.example.test.crt"
cert_names "$crt/dns.example.test.crt" | grep -q 'DNS:\*\.dns\.example\.test' ||
    fail "dns-01: no wildcard"
pass "dns-01 with the exec provider, wildcard"

# --- renew: a new certificate.
old=$(cert_serial "$crt/web.example.test.crt")
lg renew --domains web.example.test --http --http.port "127.0.0.1:$HTTP01_PORT" \
    renew --days 1000 --no-random-sleep
new=$(cert_serial "$crt/web.example.test.crt")
[ "$old" != "$new" ] || fail "renew: same serial"
verify_cert "$d" "$crt/web.example.test.crt"
pass "renew gives a new certificate"

# --- revoke; the serial reaches the CRL.
lg revoke --domains web.example.test revoke
crl_has "$new"
pass "revoke: serial $new in the CRL"

# --- EAB: a bound account on the "eab" directory.  lego keeps accounts by
# server host and port, so this account gets a state directory of its own.
"$CERTGW" acme eab new --config "$d/certgw.json" --directory eab --json \
    >"$T/eab.json" 2>"$T/eab.err" || fail "eab new: $(cat "$T/eab.err")"
kid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kid"])' "$T/eab.json")
hmac=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hmac_key"])' "$T/eab.json")
LEGO_SERVER=https://127.0.0.1:$HTTPS_PORT/acme/eab/directory \
    LEGO_PATH=$T/lego-eab lg eab --eab --kid "$kid" --hmac "$hmac" --domains eab.example.test \
    --http --http.port "127.0.0.1:$HTTP01_PORT" run
verify_cert "$d" "$T/lego-eab/certificates/eab.example.test.crt"
pass "EAB account issues"
