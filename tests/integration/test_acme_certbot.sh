#!/bin/bash
# ACME with unmodified certbot against certgw serve: register, certonly with
# the standalone http-01 server, dns-01 through manual hooks that put TXT
# records in the DNS stub (a wildcard too), --csr, an external account
# binding made by `certgw acme eab new`, renew, and revoke.  Every
# certificate verifies with `openssl verify`; revoked ones reach the CRL.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
. "$CERTGW_SRC/tests/integration/acme_lib.sh"
need certbot certbot

d=$T/ca
start_dns_stub
acme_ca "$d"
start_serve "$d"
dns_txt_hook "$T/txt"
export REQUESTS_CA_BUNDLE=$d/ca/root.pem

# cb NAME ARGS...: certbot with its own state under $T/cb, against the
# default directory unless ARGS name another --server.
cb() {
	local name=$1
	shift
	timeout 120 certbot --non-interactive --config-dir "$T/cb/conf" \
	    --work-dir "$T/cb/work" --logs-dir "$T/cb/logs" "$@" \
	    >"$T/certbot-$name.log" 2>&1 ||
	    fail "certbot $name: $(tail -n 15 "$T/certbot-$name.log")"
}
live=$T/cb/conf/live

# --- register, then http-01 with certbot's standalone server.
cb register register --server "$ACME_DIR" --agree-tos -m admin@example.test
grep -q 'Account registered' "$T/certbot-register.log" ||
    fail "register: no account"
cb http01 certonly --server "$ACME_DIR" --standalone \
    --http-01-address 127.0.0.1 --http-01-port "$HTTP01_PORT" \
    -d www.example.test -d api.example.test --cert-name web
verify_cert "$d" "$live/web/cert.pem"
names=$(cert_names "$live/web/cert.pem")
[ "$names" = "DNS:api.example.test,DNS:www.example.test" ] ||
    [ "$names" = "DNS:www.example.test,DNS:api.example.test" ] ||
    fail "http-01: names are $names"
cmp -s "$live/web/fullchain.pem" <(cat "$live/web/cert.pem" \
    "$live/web/chain.pem") || fail "fullchain is not cert + chain"
grep -q 'BEGIN CERTIFICATE' "$live/web/chain.pem" || fail "empty chain"
pass "http-01 (standalone), two names, chain verifies"

# --- dns-01 through manual hooks, a wildcard with its base name.
cat >"$T/auth-hook" <<HOOK
#!/bin/sh
exec "$T/txt" add "_acme-challenge.\$CERTBOT_DOMAIN" "\$CERTBOT_VALIDATION"
HOOK
cat >"$T/cleanup-hook" <<HOOK
#!/bin/sh
exec "$T/txt" del "_acme-challenge.\$CERTBOT_DOMAIN"
HOOK
chmod 755 "$T/auth-hook" "$T/cleanup-hook"
cb dns01 certonly --server "$ACME_DIR" --manual --preferred-challenges dns \
    --manual-auth-hook "$T/auth-hook" --manual-cleanup-hook "$T/cleanup-hook" \
    -d '*.wild.example.test' -d wild.example.test --cert-name wild
verify_cert "$d" "$live/wild/cert.pem"
cert_names "$live/wild/cert.pem" | grep -q 'DNS:\*\.wild\.example\.test' ||
    fail "dns-01: no wildcard in $(cert_names "$live/wild/cert.pem")"
pass "dns-01 with manual hooks, wildcard"

# --- --csr: the client's own key and request.
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/own.key" \
    -subj /CN=own.example.test -addext subjectAltName=DNS:own.example.test \
    -out "$T/own.csr" 2>/dev/null || fail "cannot make a CSR"
cb csr certonly --server "$ACME_DIR" --standalone \
    --http-01-address 127.0.0.1 --http-01-port "$HTTP01_PORT" \
    --csr "$T/own.csr" --cert-path "$T/own.pem" \
    --fullchain-path "$T/own-full.pem" --chain-path "$T/own-chain.pem"
verify_cert "$d" "$T/own.pem"
[ "$(openssl x509 -in "$T/own.pem" -noout -pubkey)" = \
    "$(openssl pkey -in "$T/own.key" -pubout)" ] ||
    fail "--csr: the certificate is not for the CSR's key"
pass "--csr keeps the client's key"

# --- renew: a new certificate for the same names.
old=$(cert_serial "$live/web/cert.pem")
cb renew renew --force-renewal --no-random-sleep-on-renew --cert-name web
new=$(cert_serial "$live/web/cert.pem")
[ "$old" != "$new" ] || fail "renew: same serial $old"
verify_cert "$d" "$live/web/cert.pem"
pass "renew gives a new certificate"

# --- revoke by the account; the serial reaches the CRL.
cb revoke revoke --server "$ACME_DIR" --cert-path "$live/web/cert.pem" \
    --reason keycompromise --no-delete-after-revoke
crl_has "$new"
"$CERTGW" cert show "$new" --dir "$d" >"$T/show.txt" 2>&1 ||
    fail "cert show $new: $(cat "$T/show.txt")"
grep -qi 'revoked' "$T/show.txt" || fail "store does not show $new revoked"
pass "revoke: serial $new in the CRL"

# --- EAB: the "eab" directory refuses plain accounts, takes a bound one.
EAB_DIR=https://127.0.0.1:$HTTPS_PORT/acme/eab/directory
if timeout 60 certbot --non-interactive --config-dir "$T/cb2/conf" \
    --work-dir "$T/cb2/work" --logs-dir "$T/cb2/logs" register \
    --server "$EAB_DIR" --agree-tos -m admin@example.test \
    >"$T/certbot-noeab.log" 2>&1; then
	fail "EAB directory accepted an account without a binding"
fi
grep -qi 'externalAccountRequired\|external account' "$T/certbot-noeab.log" ||
    fail "no externalAccountRequired: $(tail -n 5 "$T/certbot-noeab.log")"
"$CERTGW" acme eab new --config "$d/certgw.json" --directory eab --json \
    >"$T/eab.json" 2>"$T/eab.err" || fail "eab new: $(cat "$T/eab.err")"
kid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kid"])' "$T/eab.json")
hmac=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hmac_key"])' "$T/eab.json")
cb eab certonly --server "$EAB_DIR" --agree-tos -m admin@example.test \
    --eab-kid "$kid" --eab-hmac-key "$hmac" --standalone \
    --http-01-address 127.0.0.1 --http-01-port "$HTTP01_PORT" \
    -d eab.example.test --cert-name eab
verify_cert "$d" "$live/eab/cert.pem"
"$CERTGW" acme eab list --config "$d/certgw.json" >"$T/eab.list" 2>&1
grep "$kid" "$T/eab.list" | grep -qv ' - ' ||
    fail "eab list does not show $kid bound: $(cat "$T/eab.list")"
pass "EAB: required, then bound by certbot"

# Every issuance went through ACME and is recorded as such.
n=$("$CERTGW" cert list --dir "$d" --json | python3 -c '
import json, sys
print(sum(1 for c in json.load(sys.stdin) if c["protocol"] == "acme"))')
[ "$n" -ge 5 ] || fail "only $n ACME certificates recorded"
pass "$n certificates recorded with protocol acme"
