# acme_lib.sh - what the ACME integration tests share, sourced after
# lib.sh: a CA with an "acme" section on free loopback ports, the DNS stub
# (tests/integration/dns_stub.py) that answers every name with 127.0.0.1
# and serves the TXT and CAA records the tests put in it, and checks on
# issued certificates (openssl verify, the CRL).

need openssl openssl
need curl curl
need python3 python3
python3 -c 'import dnslib' 2>/dev/null ||
    fail "python3 module dnslib is missing (apt-get install python3-dnslib)"

# start_dns_stub: sets DNS_PORT and DNS_CTL (the control API's base URL).
start_dns_stub() {
	local i=0
	DNS_PORT=$(free_port)
	DNS_CTL_PORT=$(_free_port_not "$DNS_PORT")
	start_bg dns python3 "$CERTGW_SRC/tests/integration/dns_stub.py" \
	    --port "$DNS_PORT" --control-port "$DNS_CTL_PORT"
	DNS_CTL=http://127.0.0.1:$DNS_CTL_PORT
	while [ $i -lt 100 ]; do
		grep -q ready "$T/dns.log" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	fail "the DNS stub did not start: $(cat "$T/dns.log")"
}

# acme_ca DIR: init_ca with an intermediate, an "acme" section whose
# validation ports and resolver are ours, a CRL refreshed every second.
# Sets HTTP01_PORT, ALPN_PORT, ACME_DIR (the default directory URL).
acme_ca() {
	init_ca "$1" --intermediate
	HTTP01_PORT=$(_free_port_not "$HTTPS_PORT" "$HTTP_PORT" "$DNS_PORT")
	ALPN_PORT=$(_free_port_not "$HTTPS_PORT" "$HTTP_PORT" "$DNS_PORT" \
	    "$HTTP01_PORT")
	json_set "$1/certgw.json" '
c["ca"]["crl_refresh_s"] = 1
c["acme"] = {"retry_after_s": 1,
  "validation": {"http_port": '"$HTTP01_PORT"', "tls_alpn_port": '"$ALPN_PORT"',
    "resolver": "127.0.0.1:'"$DNS_PORT"'", "timeout_ms": 5000},
  "directories": {"default": {"profile": "server"},
    "eab": {"profile": "server", "eab_required": True}}}'
	ACME_DIR=https://127.0.0.1:$HTTPS_PORT/acme/directory
}

# dns_txt_hook FILE: a script that adds (add NAME VALUE) or removes
# (del NAME) TXT records in the stub; certbot and lego hooks call it.
dns_txt_hook() {
	cat >"$1" <<HOOK
#!/bin/sh
set -e
case "\$1" in
add) curl -sf -X POST -H 'Content-Type: application/json' \\
	-d "{\"name\": \"\$2\", \"value\": \"\$3\"}" $DNS_CTL/txt ;;
del) curl -sf -X DELETE "$DNS_CTL/txt?name=\$2" ;;
esac
HOOK
	chmod 755 "$1"
}

# verify_cert CADIR PEM: the leaf in PEM chains to the root.
verify_cert() {
	openssl verify -CAfile "$1/ca/root.pem" -untrusted "$1/ca/issuing.pem" \
	    "$2" >"$T/verify.log" 2>&1 || fail "openssl verify $2: $(cat "$T/verify.log")"
}

# cert_serial PEM: the serial in upper-case hex.
cert_serial() {
	openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'
}

# cert_names PEM: the SAN line.
cert_names() {
	openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2 |
	    tr -d ' '
}

# crl_has SERIAL [SECONDS]: wait until the CRL at /crl lists SERIAL.
crl_has() {
	local i=0 limit=$(( ${2:-10} * 10 ))
	while [ $i -lt $limit ]; do
		curl -s -o "$T/crl.der" "http://127.0.0.1:$HTTP_PORT/crl" &&
		    openssl crl -inform DER -in "$T/crl.der" -noout -text \
		    2>/dev/null | grep -qi "Serial Number: *$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	fail "serial $1 is not in the CRL after ${2:-10}s"
}

# count_in_log FILE PATTERN: lines matching.
count_in_log() {
	grep -c -- "$2" "$1" || true
}
