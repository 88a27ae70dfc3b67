#!/bin/sh
# tests/bench/dist_load.sh - reproduce the distribution throughput numbers
# in one run (docs/performance.md, "Distribution throughput").  Init a
# fresh EC P-256 CA on disk, start a private redis-server (no persistence)
# on a free port, make a throwaway client CA and client certificate for the
# pushes and a throwaway CA and server certificate for the receiver, add a
# redis section and a distribution rule that matches every certificate and
# pushes it to certgw-bench's receiver, start certgw serve, then run
# certgw-bench dist twice: (a) 500 enrollments/s for RATE_COUNT
# certificates, for issuance-to-delivery latency, and (b) as fast as
# possible for PEAK_COUNT certificates, for peak deliveries/s.  Print a
# markdown table; stop everything.
#
# usage: tests/bench/dist_load.sh [BUILD_DIR]	(default build/plain)
#
# Environment: RATE (enrollments/s of run a, default 500), RATE_COUNT
# (default 5000, 10 s at 500/s), PEAK_COUNT (run b, default 20000), WORKERS
# (distribution.workers, default 2), OUT (where the JSON lines go, default
# BUILD_DIR/dist-load-<date>.jsonl), TMPDIR (the work directory goes there
# unless it is tmpfs; then under BUILD_DIR).
# Exit status 0 on success (missing or duplicate deliveries are reported,
# not fatal), 1 on any failure, 2 on bad usage.
set -u

# Debian's python3 first; only its standard library is used.
PATH=/usr/bin:/bin:$PATH
export PATH

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/plain}
RATE=${RATE:-500}
RATE_COUNT=${RATE_COUNT:-5000}
PEAK_COUNT=${PEAK_COUNT:-20000}
WORKERS=${WORKERS:-2}
T_SETUP=60			# init, check-config, openssl: seconds each
T_READY=30			# server up and answering /healthz
T_STOP=40			# SIGTERM to exit (shutdown_grace_s is 20)
T_DRAIN=30			# certgw-bench's drain timeout, s

NAME=dist_load
# shellcheck source=tests/bench/load_lib.sh
. "$ROOT/tests/bench/load_lib.sh"

positive RATE "$RATE"
positive RATE_COUNT "$RATE_COUNT"
positive PEAK_COUNT "$PEAK_COUNT"
positive WORKERS "$WORKERS"
[ -d "$BUILD" ] || { echo "dist_load: no build directory $BUILD" >&2; exit 2; }
BUILD=$(cd "$BUILD" && pwd)
CERTGW=$BUILD/certgw
BENCH=$BUILD/tests/certgw-bench
[ -x "$CERTGW" ] || die "$CERTGW is missing; build first"
[ -x "$BENCH" ] || die "$BENCH is missing; build first"
for tool in python3 curl openssl timeout redis-server redis-cli; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
OUT=${OUT:-$BUILD/dist-load-$(date +%Y%m%d-%H%M%S).jsonl}

REDIS_PID=""

stop_redis() {
	[ -n "$REDIS_PID" ] || return 0
	kill -TERM "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=""
}

cleanup_hook() {
	stop_redis
}

bench_start

# ------------------------------------------------------ throwaway PKI

# make_ca DIR CN: a P-256 CA key (0600) and certificate.
make_ca() {
	mkdir -p "$1"
	cat >"$1/ca.cnf" <<CNF
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
	(umask 077 && timeout "$T_SETUP" openssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-256 -out "$1/ca.key") \
	    2>"$TMP/openssl.log" || { log_tail "$TMP/openssl.log";
	    die "openssl: CA key"; }
	timeout "$T_SETUP" openssl req -new -x509 -config "$1/ca.cnf" \
	    -key "$1/ca.key" -subj "/CN=$2" -days 2 -out "$1/ca.pem" \
	    2>"$TMP/openssl.log" || { log_tail "$TMP/openssl.log";
	    die "openssl: CA certificate"; }
}

# make_leaf CADIR OUT CN serverAuth|clientAuth SAN: OUT.key (0600), OUT.pem.
make_leaf() {
	cat >"$2.ext" <<EXT
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = $4
subjectAltName = $5
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EXT
	(umask 077 && timeout "$T_SETUP" openssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-256 -out "$2.key") \
	    2>"$TMP/openssl.log" || { log_tail "$TMP/openssl.log";
	    die "openssl: leaf key"; }
	# Either step failing dies.
	# shellcheck disable=SC2015
	timeout "$T_SETUP" openssl req -new -config "$1/ca.cnf" \
	    -key "$2.key" -subj "/CN=$3" -out "$2.csr" \
	    2>"$TMP/openssl.log" && timeout "$T_SETUP" openssl x509 -req \
	    -in "$2.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" \
	    -CAserial "$1/ca.srl" -CAcreateserial -days 2 \
	    -extfile "$2.ext" -out "$2.pem" 2>"$TMP/openssl.log" ||
	    { log_tail "$TMP/openssl.log"; die "openssl: leaf $3"; }
	rm -f "$2.csr" "$2.ext"
}

# ----------------------------------------------------------------- setup

ports=$(free_ports 4) || die "cannot pick free ports"
# shellcheck disable=SC2086 # four words, split on purpose
set -- $ports
HTTPS=$1 HTTP=$2 REDIS_PORT=$3 LISTEN=$4
dir=$TMP/ca
cfg=$dir/certgw.json
log=$TMP/serve.log

echo "==> init (https 127.0.0.1:$HTTPS, redis 127.0.0.1:$REDIS_PORT," \
    "receiver 127.0.0.1:$LISTEN, $FS)" >&2
timeout "$T_SETUP" "$CERTGW" init --dir "$dir" --key-type ec-p256 \
    --https "127.0.0.1:$HTTPS" --http "127.0.0.1:$HTTP" \
    >"$TMP/init.log" 2>&1 ||
    { log_tail "$TMP/init.log"; die "certgw init failed"; }

mkdir -p "$TMP/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode yes \
    --save '' --appendonly no --dir "$TMP/redis" --daemonize no \
    >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
i=0
until [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
do
	kill -0 "$REDIS_PID" 2>/dev/null ||
	    { REDIS_PID=""; log_tail "$TMP/redis.log"; die "redis-server exited"; }
	i=$((i + 1))
	[ "$i" -lt 100 ] || die "redis-server did not answer within 10s"
	sleep 0.1
done

make_ca "$TMP/pushca" "Bench Push Client CA"
make_leaf "$TMP/pushca" "$TMP/push" "certgw push" clientAuth "DNS:certgw-push"
make_ca "$TMP/rcvca" "Bench Receiver CA"
make_leaf "$TMP/rcvca" "$TMP/rcv" "127.0.0.1" serverAuth \
    "IP:127.0.0.1,DNS:localhost"

# One log line per request or delivery at info would be part of the
# numbers: warn.  One rule that matches every certificate.
python3 - "$cfg" "$REDIS_PORT" "$LISTEN" "$TMP" "$WORKERS" <<'EOF' ||
import json, sys
path, rport, listen, tmp, workers = sys.argv[1:]
with open(path) as f:
    c = json.load(f)
c.setdefault("log", {})["level"] = "warn"
c["redis"] = {"url": f"redis://127.0.0.1:{rport}/0", "key_prefix": "bench:"}
c["distribution"] = {"workers": int(workers), "rules": [{
    "name": "bench", "match": {},
    "url": f"https://127.0.0.1:{listen}/certs/{{serial}}",
    "tls": {"client_cert": f"{tmp}/push.pem", "client_key": f"{tmp}/push.key",
            "ca_file": f"{tmp}/rcvca/ca.pem"}}]}
with open(path, "w") as f:
    json.dump(c, f, indent=2)
    f.write("\n")
EOF
    die "cannot write the redis and distribution sections"
timeout "$T_SETUP" "$CERTGW" check-config "$cfg" >"$TMP/check.log" 2>&1 ||
    { log_tail "$TMP/check.log"; die "check-config refused the config"; }

"$CERTGW" serve --config "$cfg" 2>"$log" &
SERVER_PID=$!
i=0
until curl -fsS --max-time 2 --cacert "$dir/ca/root.pem" \
    "https://127.0.0.1:$HTTPS/healthz" >/dev/null 2>&1; do
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		wait "$SERVER_PID"
		SERVER_PID=""
		log_tail "$log"
		die "certgw serve exited"
	fi
	i=$((i + 1))
	[ "$i" -lt "$T_READY" ] || { log_tail "$log";
	    die "/healthz did not answer within ${T_READY}s"; }
	sleep 1
done

# ------------------------------------------------------------------ runs

# run_bench LABEL RATE COUNT
run_bench() {
	echo "==> $1: rate $2, count $3" >&2
	run_wait timeout $((T_DRAIN + 600)) "$BENCH" dist \
	    --est-url "https://127.0.0.1:$HTTPS/.well-known/est/" \
	    --cacert "$dir/ca/root.pem" --user est \
	    --password-file "$dir/secrets/est.password" \
	    --listen "127.0.0.1:$LISTEN" --cert "$TMP/rcv.pem" \
	    --key "$TMP/rcv.key" --client-ca "$TMP/pushca/ca.pem" \
	    --rate "$2" --count "$3" --json >"$TMP/run.json" 2>"$TMP/run.err"
	st=$?
	if [ "$st" -ne 0 ] || [ ! -s "$TMP/run.json" ]; then
		cat "$TMP/run.err" >&2
		log_tail "$log"
		die "certgw-bench dist ($1) exited $st"
	fi
	[ -s "$TMP/run.err" ] && sed "s/^/  /" "$TMP/run.err" >&2
	cat "$TMP/run.json" >>"$OUT"
}

run_bench "latency" "$RATE" "$RATE_COUNT"
run_bench "peak" 0 "$PEAK_COUNT"

echo "==> stopping the server" >&2
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" HGETALL bench:stats \
    >"$TMP/stats.txt" 2>&1
stop_server || { log_tail "$log"; die "certgw serve did not stop cleanly"; }
if grep -q . "$log"; then
	echo "  server log, warnings and errors (first 20 lines):" >&2
	sed -n "1,20s/^/  /p" "$log" >&2
fi
echo "  redis $(tr '\n' ' ' <"$TMP/stats.txt")" >&2

python3 - "$OUT" <<'EOF' || exit 1
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print()
print("| run | enrolled | enroll/s | delivered | deliveries/s "
      "| p50 ms | p90 ms | p99 ms | max ms | dup | missing |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in runs:
    name = f"rate {r['rate']}" if r["rate"] else "rate 0 (peak)"
    lat = r["latency_ms"]
    e = r["enroll"]
    print(f"| {name}, count {r['count']} | {e['ok']} | "
          f"{e['enrollments_per_s']:.1f} | {r['delivered']} | "
          f"{r['deliveries_per_s']:.1f} | {lat['p50']:.1f} | "
          f"{lat['p90']:.1f} | {lat['p99']:.1f} | {lat['max']:.1f} | "
          f"{r['duplicates']} | {r['missing']} |")
    if e["failed"] or r["missing"] or r["duplicates"] or r["unmatched"]:
        print(f"dist_load: warning: {name}: failed enrollments "
              f"{e['failed']} {e['errors']}, missing {r['missing']}, "
              f"duplicates {r['duplicates']}, unmatched {r['unmatched']}",
              file=sys.stderr)
EOF
echo >&2
echo "raw JSON lines: $OUT" >&2
