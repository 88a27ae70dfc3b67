# lib.sh - shared helpers for integration tests.  Source it; it sets
# "set -eu", creates $T (a temporary directory removed on exit, with every
# process started through start_bg stopped) and checks that the tools a test
# names are installed, failing with what to install when one is not.

set -eu
: "${CERTGW:?CERTGW must point at the certgw binary}"
: "${CERTGW_SRC:?CERTGW_SRC must point at the source tree}"

# Debian's tools first: python3 modules the tests use (cryptography) come
# from Debian packages that scripts/test installs, not from whatever other
# python3 may be first on PATH.
PATH=/usr/bin:/bin:$PATH
export PATH

T=$(mktemp -d "${TMPDIR:-/tmp}/certgw-it.XXXXXX")
BG_PIDS=""
TEST_NAME=$(basename "$0" .sh)

cleanup() {
	rc=$?
	for p in $BG_PIDS; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $BG_PIDS; do
		wait "$p" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ] && [ -d "$T" ]; then
		echo "--- $TEST_NAME failed; logs:" >&2
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f" >&2
			tail -n 40 "$f" >&2
		done
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

pass() {
	echo "ok: $TEST_NAME: $*"
}

# exit_of CMD...: its exit status, without stopping the suite (set -e).
exit_of() {
	"$@" >/dev/null 2>&1 && echo 0 || echo $?
}

# need TOOL PACKAGE: fail loudly when a tool is missing.
need() {
	command -v "$1" >/dev/null 2>&1 ||
	    fail "'$1' is not installed (apt-get install $2)"
}

# free_port: print a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_bg NAME CMD...: run CMD in the background, output to $T/NAME.log;
# sets LAST_PID.
start_bg() {
	name=$1
	shift
	"$@" >"$T/$name.log" 2>&1 &
	LAST_PID=$!
	BG_PIDS="$BG_PIDS $LAST_PID"
}

# wait_http URL [SECONDS]: wait until URL answers 200 (curl -k).
wait_http() {
	i=0
	limit=$(( ${2:-15} * 10 ))
	while [ $i -lt $limit ]; do
		if curl -ks -o /dev/null -w '%{http_code}' "$1" 2>/dev/null |
		    grep -q '^200$'; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	fail "$1 did not answer within ${2:-15}s"
}

# init_ca DIR [init options...]: certgw init on free loopback ports;
# sets HTTPS_PORT and HTTP_PORT.
init_ca() {
	dir=$1
	shift
	HTTPS_PORT=$(free_port)
	HTTP_PORT=$(free_port)
	"$CERTGW" init --dir "$dir" --https "127.0.0.1:$HTTPS_PORT" \
	    --http "127.0.0.1:$HTTP_PORT" "$@" >"$T/init.log" 2>&1 ||
	    fail "certgw init failed: $(cat "$T/init.log")"
}

# start_serve DIR: start certgw serve on DIR/certgw.json and wait for it;
# sets SERVE_PID.
start_serve() {
	start_bg serve "$CERTGW" serve --config "$1/certgw.json"
	SERVE_PID=$LAST_PID
	wait_http "https://127.0.0.1:$HTTPS_PORT/healthz"
}

# cert_count DIR: number of certificates in DIR's store.
cert_count() {
	"$CERTGW" cert list --dir "$1" --json |
	    python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# make_csr KEYTYPE NAME OUT.csr [SAN]: openssl req with a fresh key
# (OUT.key beside it).  KEYTYPE: ec-p256 ec-p384 ec-p521 rsa-N ed25519.
make_csr() {
	kt=$1 cn=$2 out=$3 san=${4:-DNS:$2}
	case $kt in
	ec-p256) kopt="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
	ec-p384) kopt="-newkey ec -pkeyopt ec_paramgen_curve:P-384" ;;
	ec-p521) kopt="-newkey ec -pkeyopt ec_paramgen_curve:P-521" ;;
	rsa-*) kopt="-newkey rsa:${kt#rsa-}" ;;
	ed25519) kopt="-newkey ed25519" ;;
	*) fail "make_csr: unknown key type $kt" ;;
	esac
	# shellcheck disable=SC2086
	openssl req -new $kopt -nodes -keyout "${out%.csr}.key" -out "$out" \
	    -subj "/CN=$cn" -addext "subjectAltName=$san" 2>"$T/openssl.log" ||
	    fail "openssl req failed: $(cat "$T/openssl.log")"
}

# json_set FILE PY-EXPR: edit a JSON file in place; the expression sees
# the document as c, e.g. json_set f 'c["limits"]["read_timeout_s"]=2'.
json_set() {
	python3 - "$1" "$2" <<'PY'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
with open(path) as f:
    c = json.load(f)
exec(expr)
with open(path, "w") as f:
    json.dump(c, f, indent=2)
PY
}

# cm_start DIR: certmonger without D-Bus on the private socket DIR/sock,
# its state (requests, CAs, keys) under DIR; getcert finds it through
# CERTMONGER_PVT_ADDRESS.  cleanup stops it.
cm_start() {
	mkdir -p "$1/req" "$1/cas" "$1/tmp" "$1/local" "$1/keys"
	export CERTMONGER_REQUESTS_DIR=$1/req CERTMONGER_CAS_DIR=$1/cas \
	    CERTMONGER_TMPDIR=$1/tmp CERTMONGER_LOCAL_CA_DIR=$1/local \
	    CERTMONGER_PVT_ADDRESS=unix:path=$1/sock
	start_bg certmonger certmonger -n -L -P "$1/sock" -d 1
	_i=0
	while [ ! -S "$1/sock" ] && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	[ -S "$1/sock" ] || fail "certmonger did not open its socket"
}

# --- Distribution fixtures: throwaway TLS material, Redis, IdM receiver ---

# _bg_forget PID: drop PID from the processes cleanup stops (it has exited).
_bg_forget() {
	local p keep=""
	for p in $BG_PIDS; do
		[ "$p" = "$1" ] || keep="$keep $p"
	done
	BG_PIDS=$keep
}

# _free_port_not PORT...: a free port that is none of the ones given.
_free_port_not() {
	local p x again
	while :; do
		p=$(free_port)
		again=0
		for x in "$@"; do
			[ "$p" = "$x" ] && again=1
		done
		[ $again = 0 ] && break
	done
	echo "$p"
}

# test_ca DIR CN: a throwaway EC P-256 CA in DIR: DIR/ca.pem and
# DIR/ca.key (0600).  Clients and servers the tests make are signed by it.
test_ca() {
	local dir=$1 cn=$2
	need openssl openssl
	mkdir -p "$dir"
	cat >"$dir/ca.cnf" <<CNF
[req]
distinguished_name = dn
x509_extensions = v3
[dn]
[v3]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF
	(umask 077 && openssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key") \
	    2>"$T/openssl.log" || fail "test_ca: $(cat "$T/openssl.log")"
	openssl req -new -x509 -config "$dir/ca.cnf" -key "$dir/ca.key" \
	    -subj "/CN=$cn" -days 30 -out "$dir/ca.pem" 2>"$T/openssl.log" ||
	    fail "test_ca: $(cat "$T/openssl.log")"
}

# test_leaf CADIR OUT CN server|client [SAN]: a key (OUT.key, 0600) and a
# certificate (OUT.pem) signed by the CA test_ca made in CADIR, with the
# TLS server or client extended key usage.  SAN defaults to DNS:CN.
test_leaf() {
	local cadir=$1 out=$2 cn=$3 kind=$4 san=${5:-DNS:$3} eku
	case $kind in
	server) eku=serverAuth ;;
	client) eku=clientAuth ;;
	*) fail "test_leaf: kind must be server or client, not $kind" ;;
	esac
	cat >"$out.ext" <<EXT
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = $eku
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EXT
	(umask 077 && openssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-256 -out "$out.key") \
	    2>"$T/openssl.log" || fail "test_leaf: $(cat "$T/openssl.log")"
	openssl req -new -config "$cadir/ca.cnf" -key "$out.key" \
	    -subj "/CN=$cn" -out "$out.csr" 2>"$T/openssl.log" ||
	    fail "test_leaf: $(cat "$T/openssl.log")"
	openssl x509 -req -in "$out.csr" -CA "$cadir/ca.pem" \
	    -CAkey "$cadir/ca.key" -CAserial "$cadir/ca.srl" -CAcreateserial \
	    -days 30 -extfile "$out.ext" -out "$out.pem" 2>"$T/openssl.log" ||
	    fail "test_leaf: $(cat "$T/openssl.log")"
	rm -f "$out.csr" "$out.ext"
}

# rcli ARGS...: redis-cli against the Redis that start_redis started,
# authenticated through the environment (never argv) when REDIS_PASSWORD
# is set.
rcli() {
	if [ -n "${REDIS_PASSWORD:-}" ]; then
		REDISCLI_AUTH=$REDIS_PASSWORD redis-cli --no-auth-warning \
		    -h 127.0.0.1 -p "$REDIS_PORT" "$@"
	else
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
	fi
}

# _redis_launch: run redis-server on REDIS_PORT, wait (10 s at most) for
# PING to answer PONG; sets REDIS_PID.  Returns 1 when the server exited
# before answering (the port was taken, say); fails on a timeout.
_redis_launch() {
	local i=0
	echo "--- redis-server on 127.0.0.1:$REDIS_PORT" >>"$T/redis.log"
	redis-server "$T/redis/redis.conf" --port "$REDIS_PORT" \
	    --bind 127.0.0.1 --protected-mode yes --save '' \
	    --appendonly no --dir "$T/redis" --daemonize no \
	    >>"$T/redis.log" 2>&1 &
	REDIS_PID=$!
	BG_PIDS="$BG_PIDS $REDIS_PID"
	while [ $i -lt 100 ]; do
		if [ "$(rcli ping 2>/dev/null)" = PONG ]; then
			return 0
		fi
		if ! kill -0 "$REDIS_PID" 2>/dev/null; then
			wait "$REDIS_PID" 2>/dev/null || true
			_bg_forget "$REDIS_PID"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	fail "redis-server on port $REDIS_PORT did not answer PING within 10s"
}

# start_redis: a private redis-server on 127.0.0.1 and a free port, with
# no persistence, its files in $T/redis and its output in $T/redis.log;
# requires REDIS_PASSWORD when that is set.  Sets REDIS_PORT and REDIS_PID;
# cleanup stops it.  Talk to it with rcli.  The system's redis service,
# if any, is never used.
start_redis() {
	local try
	need redis-server redis-server
	need redis-cli redis-tools
	mkdir -p "$T/redis"
	# The password goes in a 0600 file, not on the command line.
	(umask 077 && : >"$T/redis/redis.conf")
	if [ -n "${REDIS_PASSWORD:-}" ]; then
		case $REDIS_PASSWORD in
		*[!A-Za-z0-9._~+/=-]*)
			fail "REDIS_PASSWORD: letters, digits and ._~+/=- only"
			;;
		esac
		printf 'requirepass "%s"\n' "$REDIS_PASSWORD" \
		    >"$T/redis/redis.conf"
	fi
	for try in 1 2 3; do
		REDIS_PORT=$(free_port)
		_redis_launch && return 0
	done
	fail "redis-server did not start (see $T/redis.log)"
}

# stop_redis: stop the Redis start_redis started (SIGTERM, then wait), so
# the port refuses connections until restart_redis.
stop_redis() {
	[ -n "${REDIS_PID:-}" ] || fail "stop_redis: no redis running"
	kill -TERM "$REDIS_PID" 2>/dev/null || true
	wait "$REDIS_PID" 2>/dev/null || true
	_bg_forget "$REDIS_PID"
	REDIS_PID=""
}

# restart_redis: stop Redis if it runs and start it again on the same
# port, empty (no persistence): "Redis went down and came back".
restart_redis() {
	[ -n "${REDIS_PORT:-}" ] || fail "restart_redis: start_redis first"
	[ -z "${REDIS_PID:-}" ] || stop_redis
	_redis_launch ||
	    fail "redis-server did not restart on port $REDIS_PORT"
}

# _receiver_ca: the throwaway "Receiver CA" in $T/rcv, made once; every
# receiver's server certificate is signed by it.
_receiver_ca() {
	[ -f "$T/rcv/ca.pem" ] || test_ca "$T/rcv" "Receiver CA"
}

# start_receiver DIR CA_PEM: start idm_receiver.py, a stand-in identity
# manager, on TLS port RECV_PORT of 127.0.0.1 with a server certificate
# (DIR/server.pem, for 127.0.0.1 and localhost) signed by the Receiver CA,
# requiring client certificates that chain to CA_PEM.  Its control port
# (plain HTTP, 127.0.0.1) is RECV_CTL_PORT.  Sets RECV_PORT, RECV_CTL_PORT,
# RECV_PID, RECV_CA (the Receiver CA certificate: what a client must
# trust), RECV_CERT and RECV_LOG (DIR/requests.jsonl, one JSON line per
# request).  Output goes to $T/recv-<basename DIR>.log.  For a second
# receiver, save these variables first; the recv_* helpers use
# RECV_CTL_PORT.
start_receiver() {
	local dir=$1 ca=$2 name try i
	need openssl openssl
	need python3 python3
	need curl curl
	[ -f "$ca" ] || fail "start_receiver: no client CA file $ca"
	mkdir -p "$dir"
	_receiver_ca
	RECV_CA=$T/rcv/ca.pem
	test_leaf "$T/rcv" "$dir/server" localhost server \
	    "IP:127.0.0.1,DNS:localhost"
	RECV_CERT=$dir/server.pem
	RECV_LOG=$dir/requests.jsonl
	name=recv-$(basename "$dir")
	for try in 1 2 3; do
		RECV_PORT=$(free_port)
		RECV_CTL_PORT=$(_free_port_not "$RECV_PORT")
		start_bg "$name" /usr/bin/python3 \
		    "$CERTGW_SRC/tests/integration/idm_receiver.py" \
		    --port "$RECV_PORT" --control-port "$RECV_CTL_PORT" \
		    --cert "$dir/server.pem" --key "$dir/server.key" \
		    --client-ca "$ca" --record "$RECV_LOG"
		RECV_PID=$LAST_PID
		i=0
		while [ $i -lt 100 ]; do
			if curl -s -o /dev/null -w '%{http_code}' 2>/dev/null \
			    "http://127.0.0.1:$RECV_CTL_PORT/count" |
			    grep -q '^200$'; then
				return 0
			fi
			kill -0 "$RECV_PID" 2>/dev/null || break
			sleep 0.1
			i=$((i + 1))
		done
		kill -0 "$RECV_PID" 2>/dev/null &&
		    fail "idm_receiver did not listen within 10s"
		wait "$RECV_PID" 2>/dev/null || true
		_bg_forget "$RECV_PID"
		# Exit status 2 is "cannot listen": another port may do.
		grep -q "cannot listen" "$T/$name.log" ||
		    fail "idm_receiver exited: $(cat "$T/$name.log")"
	done
	fail "idm_receiver found no free ports"
}

# stop_receiver: SIGTERM the receiver and wait; fails unless it exits 0.
stop_receiver() {
	local rc=0
	kill -TERM "$RECV_PID" 2>/dev/null || true
	wait "$RECV_PID" || rc=$?
	_bg_forget "$RECV_PID"
	[ $rc = 0 ] || fail "idm_receiver exited with $rc on SIGTERM"
}

# _recv_ctl METHOD PATH [JSON]: one request to the receiver's control
# port; the answer goes to stdout.
_recv_ctl() {
	local data=()
	[ $# -lt 3 ] || data=(-H 'Content-Type: application/json'
	    --data-binary "$3")
	curl -sS -f -X "$1" "${data[@]}" \
	    "http://127.0.0.1:$RECV_CTL_PORT$2" 2>"$T/recv-ctl.err" ||
	    fail "receiver control $1 $2: $(cat "$T/recv-ctl.err")"
}

# recv_mode [-s SLEEP_MS] [-r RETRY_AFTER] STATUS... THEN: the receiver
# answers the STATUSes in order to the next requests, then THEN to every
# later one; -s delays each answer, -r adds Retry-After to non-2xx
# answers.  recv_mode 201 is the default mode.
recv_mode() {
	local sleep_ms=0 retry="" json
	while [ $# -gt 0 ]; do
		case $1 in
		-s) sleep_ms=$2; shift 2 ;;
		-r) retry=$2; shift 2 ;;
		*) break ;;
		esac
	done
	[ $# -gt 0 ] || fail "recv_mode: no status"
	json=$(python3 -c '
import json, sys
sleep_ms, retry, codes = sys.argv[1], sys.argv[2], sys.argv[3:]
m = {"statuses": [int(c) for c in codes[:-1]], "then": int(codes[-1]),
     "sleep_ms": int(sleep_ms), "retry_after": None}
if retry:
    m["retry_after"] = int(retry) if retry.isdigit() else retry
print(json.dumps(m))' "$sleep_ms" "$retry" "$@") ||
	    fail "recv_mode: bad arguments: $*"
	_recv_ctl POST /mode "$json" >/dev/null
}

# recv_count: print how many requests the receiver has recorded.
recv_count() {
	_recv_ctl GET /count
}

# recv_requests: print the receiver's record, one JSON object a line.
recv_requests() {
	_recv_ctl GET /requests
}

# recv_reset: forget the record and go back to answering 201.
recv_reset() {
	_recv_ctl POST /reset >/dev/null
}

# recv_wait_count N [SECONDS]: wait until the receiver has recorded at
# least N requests (default 15 s).
recv_wait_count() {
	local i=0 limit=$(( ${2:-15} * 10 ))
	while [ $i -lt $limit ]; do
		[ "$(recv_count)" -ge "$1" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	fail "receiver saw $(recv_count) requests, not $1, within ${2:-15}s"
}

# est_enroll DIR N: one EST simpleenroll with HTTP Basic as the user "est"
# that init made, against the serve started on DIR, with a fresh P-256 key
# and CN dev-N.  Leaves $T/eN.key and the certificate as $T/rN.pem; fails
# unless the answer is 200 with a PKCS#7 certs-only body.
est_enroll() {
	local dir=$1 n=$2 code
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/e$n.key" -subj "/CN=dev-$n" -outform DER \
	    -out "$T/e$n.der" 2>/dev/null || fail "openssl req $n"
	openssl base64 -in "$T/e$n.der" -out "$T/e$n.b64"
	code=$(curl -s --cacert "$dir/ca/root.pem" \
	    -u "est:$(cat "$dir/secrets/est.password")" \
	    -H "Content-Type: application/pkcs10" --data-binary "@$T/e$n.b64" \
	    -o "$T/r$n.b64" -w '%{http_code}' \
	    "https://127.0.0.1:$HTTPS_PORT/.well-known/est/simpleenroll")
	[ "$code" = 200 ] || fail "enrollment $n: $code"
	openssl base64 -d -in "$T/r$n.b64" | openssl pkcs7 -inform DER \
	    -print_certs -out "$T/r$n.pem" 2>/dev/null ||
	    fail "enrollment $n: not a PKCS#7 certs-only answer"
}
