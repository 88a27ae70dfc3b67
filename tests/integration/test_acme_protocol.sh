#!/bin/bash
# ACME protocol checks (RFC 8555, RFC 8737/8738, RFC 9773, the ACME
# profiles draft) that certbot and lego do not make, with the small client
# in acme_client.py: directory and nonces, JWS refusals, accounts, EAB,
# key rollover, orders with an IP identifier and http-01, profiles, ARI,
# revocation and the CRL, rate limits, CAA (with dns_stub.py) and manual
# approval.  The cases are acme_protocol.py; this script sets up the CA,
# the directories they expect, and the gateway.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3
python3 -c 'import cryptography' 2>/dev/null ||
    fail "python3 cannot import cryptography" \
	"(apt-get install python3-cryptography)"

d=$T/ca
init_ca "$d" --intermediate
VPORT=$(_free_port_not "$HTTPS_PORT" "$HTTP_PORT")

# The DNS stub answers CAA (and A) queries when it is there.
DNS_ARGS=()
RESOLVER=None
stub=$CERTGW_SRC/tests/integration/dns_stub.py
if [ -f "$stub" ]; then
	/usr/bin/python3 -c 'import dnslib' 2>/dev/null ||
	    fail "python3 cannot import dnslib (apt-get install python3-dnslib)"
	DNS_PORT=$(_free_port_not "$HTTPS_PORT" "$HTTP_PORT" "$VPORT")
	DNS_CTL=$(_free_port_not "$HTTPS_PORT" "$HTTP_PORT" "$VPORT" \
	    "$DNS_PORT")
	start_bg dns /usr/bin/python3 "$stub" --port "$DNS_PORT" \
	    --control-port "$DNS_CTL" --a-address 127.0.0.1
	i=0
	until grep -q ready "$T/dns.log" 2>/dev/null; do
		[ $i -lt 100 ] || fail "dns_stub.py did not say ready"
		kill -0 "$LAST_PID" 2>/dev/null ||
		    fail "dns_stub.py exited: $(cat "$T/dns.log")"
		sleep 0.1
		i=$((i + 1))
	done
	RESOLVER="\"127.0.0.1:$DNS_PORT\""
	DNS_ARGS=(--dns-ctl "$DNS_CTL")
fi

# Directories (acme_protocol.py relies on these names and settings):
#   default  ToS, website, CAA identities, the "short" profile, ARI 50-75%
#   eab      external account binding required
#   http     http-01 only, no authorization reuse, no ToS
#   lim      2 orders per account; acctlim 2 accounts per address;
#   faillim  1 failed validation per account
#   caa      CAA checked; manual  manual approval
json_set "$d/certgw.json" '
c["ca"]["crl_refresh_s"] = 1
c["profiles"]["short"] = dict(c["profiles"]["server"])
c["profiles"]["short"]["validity_days"] = 7
c["profiles"]["server"]["renew_before_days"] = 30
resolver = '"$RESOLVER"'
val = {"http_port": '"$VPORT"', "timeout_ms": 3000, "in_flight": 8}
if resolver:
    val["resolver"] = resolver
c["acme"] = {"nonce_lifetime_s": 600, "retry_after_s": 1,
  "validation": val,
  "directories": {
    "default": {"profile": "server",
      "profiles": {"short": {"profile": "short",
        "description": "7-day certificates"}},
      "terms_of_service": "https://certgw.test/tos",
      "website": "https://certgw.test/",
      "caa_identities": ["certgw.test"]},
    "eab": {"profile": "server", "eab_required": True},
    "http": {"profile": "server", "challenges": ["http-01"],
      "authz_reuse_s": 0},
    "lim": {"profile": "server",
      "rate_limits": {"orders_per_account": 2}},
    "acctlim": {"profile": "server",
      "rate_limits": {"accounts_per_ip": 2}},
    "faillim": {"profile": "server",
      "rate_limits": {"failed_validations": 1}},
    "caa": {"profile": "server", "challenges": ["http-01"],
      "caa_identities": ["certgw.test"], "caa_check": True},
    "manual": {"profile": "server", "manual_approval": True}}}'
"$CERTGW" check-config "$d/certgw.json" >"$T/check.log" 2>&1 ||
    fail "config does not check: $(cat "$T/check.log")"
start_serve "$d"

# The checks trust the root only; the chain comes from the server.
PYTHONPATH=$CERTGW_SRC/tests/integration timeout 500 /usr/bin/python3 \
    "$CERTGW_SRC/tests/integration/acme_protocol.py" \
    --base "https://127.0.0.1:$HTTPS_PORT" --cafile "$d/ca/root.pem" \
    --http-port "$VPORT" --crl-url "http://127.0.0.1:$HTTP_PORT/crl" \
    --certgw "$CERTGW" --config "$d/certgw.json" "${DNS_ARGS[@]}" \
    "$@" 2>&1 | tee "$T/protocol.log"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || fail "ACME protocol checks failed: $(grep '^cases:' \
    "$T/protocol.log")"
kill -0 "$SERVE_PID" 2>/dev/null || fail "certgw serve died"
pass "$(grep -c '^ok:' "$T/protocol.log") ACME protocol checks"
