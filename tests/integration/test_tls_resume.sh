#!/bin/bash
# TLS session resumption on the HTTPS listener: a client that reconnects
# (a device enrolling once per connection) resumes with the ticket it got
# -- TLS 1.3 and TLS 1.2 -- and a TLS 1.3 handshake hands out exactly one
# ticket.  Checked with openssl s_client, so a real client agrees.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl

d=$T/ca
init_ca "$d"
start_serve "$d"

# One request over a fresh connection; the session goes to $2, or is
# resumed from $3 when given.  s_client's report goes to stdout.  Its exit
# status is not used: the server closes the connection without a TLS
# close_notify (libevent 2.1 does not send one), which s_client reports.
hit() {
	local ver=$1 out=$2 in=${3:-}
	printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
	    timeout 20 openssl s_client -connect "127.0.0.1:$HTTPS_PORT" \
	    -CAfile "$d/ca/chain.pem" -verify_return_error "$ver" \
	    -sess_out "$out" ${in:+-sess_in "$in"} -ign_eof 2>&1
	return 0
}

for ver in -tls1_3 -tls1_2; do
	hit "$ver" "$T/s1.pem" >"$T/first.txt" || fail "$ver: first connection"
	grep -q "^New, TLSv1" "$T/first.txt" ||
	    fail "$ver: first connection was not a full handshake"
	grep -q "^HTTP/1.1 200" "$T/first.txt" || fail "$ver: no 200"
	[ -s "$T/s1.pem" ] || fail "$ver: no session to keep"
	hit "$ver" "$T/s2.pem" "$T/s1.pem" >"$T/second.txt" ||
	    fail "$ver: second connection"
	grep -q "^Reused, TLSv1" "$T/second.txt" || {
		cat "$T/second.txt" >&2
		fail "$ver: the session was not resumed"
	}
	grep -q "^HTTP/1.1 200" "$T/second.txt" || fail "$ver: no 200 resumed"
done
pass "TLS 1.3 and 1.2 sessions resume"

# TLS 1.3: one NewSessionTicket per handshake, not OpenSSL's default two.
hit -tls1_3 "$T/s3.pem" >"$T/t13.txt" || fail "TLS 1.3 connection"
n=$(grep -c "Post-Handshake New Session Ticket arrived" "$T/t13.txt" || true)
[ "$n" = 1 ] || fail "TLS 1.3 handshake sent $n tickets, want 1"
pass "one ticket per TLS 1.3 handshake"
