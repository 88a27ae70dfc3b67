#!/bin/sh
# tests/bench/client_auth_cost.sh - what the per-request client-certificate
# check costs (docs/performance.md, "Client-certificate check").  One kept-
# alive TLS connection per series; the median latency of GET /ca.crt (an
# ignore route: no check) against GET /whoami (an accept route: the chain,
# dates, revocation in the store, the identity) with a certificate this CA
# issued, and with a pinned self-signed one.  Reported as differences and
# ratios within each round, so a busy machine shifts both sides.
#
# usage: tests/bench/client_auth_cost.sh [BUILD_DIR]   (default build/plain)
# Environment: N (requests per series, default 3000), ROUNDS (default 3).
set -eu

PATH=/usr/bin:/bin:$PATH
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/plain}
N=${N:-3000}
ROUNDS=${ROUNDS:-3}
C=$BUILD/certgw
[ -x "$C" ] || { echo "client_auth_cost: no $C (build first)" >&2; exit 2; }
T=$(mktemp -d)
SP=""
cleanup() {
	[ -z "$SP" ] || { kill -TERM "$SP" 2>/dev/null; wait "$SP" || true; }
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
P1=$(port)
P2=$(port)
cd "$T"
"$C" init --dir gw --https "127.0.0.1:$P1" --http "127.0.0.1:$P2" \
    >init.log 2>&1 || { cat init.log >&2; exit 1; }
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout dev.key -subj /CN=dev-1 -out dev.csr 2>/dev/null
"$C" issue --dir gw --profile device --csr dev.csr --out dev.pem >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout self.key -subj /CN=pinned -days 2 \
    -addext extendedKeyUsage=clientAuth \
    -addext basicConstraints=critical,CA:FALSE -out self.pem 2>/dev/null
"$C" user add alice --dir gw >/dev/null
"$C" user import-cert alice self.pem --dir gw >/dev/null
"$C" serve --config gw/certgw.json 2>serve.log &
SP=$!
python3 - "$P1" "$N" "$ROUNDS" <<'PY'
import http.client, ssl, statistics, sys, time
port, n, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for _ in range(100):
    try:
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
        break
    except OSError:
        time.sleep(0.1)

def series(cert, key, path):
    ctx = ssl.create_default_context(cafile="gw/ca/chain.pem")
    ctx.load_cert_chain(cert, key)
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    ts = []
    for i in range(n + 200):
        t = time.perf_counter_ns()
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            sys.exit("%s: HTTP %d" % (path, r.status))
        if i >= 200:
            ts.append(time.perf_counter_ns() - t)
    c.close()
    return statistics.median(ts) / 1000

for i in range(rounds):
    a = series("dev.pem", "dev.key", "/ca.crt")
    b = series("dev.pem", "dev.key", "/whoami")
    s = series("self.pem", "self.key", "/whoami")
    print("round=%d n=%d ignore_us=%.1f issued_us=%.1f issued_extra_us=%.1f "
          "issued_ratio=%.2f pinned_us=%.1f pinned_extra_us=%.1f "
          "pinned_ratio=%.2f" % (i, n, a, b, b - a, b / a, s, s - a, s / a))
PY
