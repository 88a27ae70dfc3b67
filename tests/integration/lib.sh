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
