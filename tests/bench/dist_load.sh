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
# possible for PEAK_COUNT certificates, for peak deliveries/s.
#
# Both are bounded by the issuance rate.  The third run, "drain", measures
# the push workers apart from it, on a queue filled beforehand: serve again
# with distribution.workers 0 (relay only; a second config file, same store
# and Redis), certgw-bench dist --no-deliveries enrolls DRAIN_COUNT
# certificates as fast as it can, the script waits until XLEN of
# bench:jobs has grown by the number issued, and stops serve.  Then
# certgw-bench dist --receive-only listens for that many keys, and the
# workers start: (a) certgw serve with distribution.workers DRAIN_WORKERS
# (audit rows written, as in production), and, unless DRAIN_WORKER=0,
# after a second fill (b) certgw worker alone (no store, no audit rows).
# Print a markdown table; stop everything.
#
# usage: tests/bench/dist_load.sh [BUILD_DIR]	(default build/plain)
#
# Environment: RATE (enrollments/s of run a, default 500), RATE_COUNT
# (default 5000, 10 s at 500/s), PEAK_COUNT (run b, default 20000), WORKERS
# (distribution.workers, default 2), DRAIN_COUNT (certificates per drain,
# default 20000), DRAIN_WORKERS (distribution.workers of the drains,
# default WORKERS), DRAIN_WORKER (1: also drain with certgw worker, the
# default; 0: only with serve), OUT (where the JSON lines go, default
# BUILD_DIR/dist-load-<date>.jsonl; each line gets a "label"), TMPDIR (the
# work directory goes there unless it is tmpfs; then under BUILD_DIR).
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
DRAIN_COUNT=${DRAIN_COUNT:-20000}
DRAIN_WORKERS=${DRAIN_WORKERS:-$WORKERS}
DRAIN_WORKER=${DRAIN_WORKER:-1}
T_SETUP=60			# init, check-config, openssl: seconds each
T_READY=30			# server up and answering /healthz
T_STOP=40			# SIGTERM to exit (shutdown_grace_s is 20)
T_DRAIN=30			# certgw-bench's drain timeout, s
T_FILL=120			# jobs of a fill all in Redis, after enrolling

NAME=dist_load
# shellcheck source=tests/bench/load_lib.sh
. "$ROOT/tests/bench/load_lib.sh"

positive RATE "$RATE"
positive RATE_COUNT "$RATE_COUNT"
positive PEAK_COUNT "$PEAK_COUNT"
positive WORKERS "$WORKERS"
positive DRAIN_COUNT "$DRAIN_COUNT"
positive DRAIN_WORKERS "$DRAIN_WORKERS"
case $DRAIN_WORKER in
0|1) ;;
*) echo "dist_load: DRAIN_WORKER must be 0 or 1" >&2; exit 2 ;;
esac
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
RCV_PID=""

stop_redis() {
	[ -n "$REDIS_PID" ] || return 0
	kill -TERM "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=""
}

# The receive-only certgw-bench of a drain, through its timeout wrapper.
stop_receiver() {
	[ -n "$RCV_PID" ] || return 0
	kill -TERM "$RCV_PID" 2>/dev/null
	wait "$RCV_PID" 2>/dev/null
	RCV_PID=""
}

cleanup_hook() {
	stop_receiver
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
# numbers: warn.  One rule that matches every certificate.  Two more
# files for the drains: relay only (distribution.workers 0), and the
# pushers (DRAIN_WORKERS) for serve and for certgw worker.
cfg_relay=$dir/certgw-relay.json
cfg_push=$dir/certgw-push.json
python3 - "$cfg" "$REDIS_PORT" "$LISTEN" "$TMP" "$WORKERS" \
    "$cfg_relay" "$cfg_push" "$DRAIN_WORKERS" <<'EOF' ||
import json, sys
path, rport, listen, tmp, workers, relay, push, dworkers = sys.argv[1:]
with open(path) as f:
    c = json.load(f)
c.setdefault("log", {})["level"] = "warn"
c["redis"] = {"url": f"redis://127.0.0.1:{rport}/0", "key_prefix": "bench:"}
c["distribution"] = {"workers": int(workers), "rules": [{
    "name": "bench", "match": {},
    "url": f"https://127.0.0.1:{listen}/certs/{{serial}}",
    "tls": {"client_cert": f"{tmp}/push.pem", "client_key": f"{tmp}/push.key",
            "ca_file": f"{tmp}/rcvca/ca.pem"}}]}
for p, w in ((path, workers), (relay, 0), (push, dworkers)):
    c["distribution"]["workers"] = int(w)
    with open(p, "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
EOF
    die "cannot write the redis and distribution sections"
for f in "$cfg" "$cfg_relay" "$cfg_push"; do
	timeout "$T_SETUP" "$CERTGW" check-config "$f" >"$TMP/check.log" 2>&1 ||
	    { log_tail "$TMP/check.log"; die "check-config refused $f"; }
done

# start_serve CONFIG LOG: certgw serve in the background (SERVER_PID),
# answering /healthz.
start_serve() {
	log=$2
	"$CERTGW" serve --config "$1" 2>"$log" &
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
}

# stop_checked WHAT: SIGTERM serve or worker (SERVER_PID), show the
# warnings and errors of its log.
stop_checked() {
	stop_server || { log_tail "$log"; die "$1 did not stop cleanly"; }
	if grep -q . "$log"; then
		echo "  $1 log, warnings and errors (first 20 lines):" >&2
		sed -n "1,20s/^/  /p" "$log" >&2
	fi
}

rcli() {
	redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

# record LABEL FILE: the JSON line of FILE, with "label", onto OUT.
record() {
	python3 - "$1" "$2" >>"$OUT" <<'EOF' || die "bad JSON from certgw-bench"
import json, sys
r = json.loads(open(sys.argv[2]).readline())
r["label"] = sys.argv[1]
print(json.dumps(r, separators=(",", ":")))
EOF
}

start_serve "$cfg" "$TMP/serve.log"

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
	record "$1" "$TMP/run.json"
}

run_bench "latency" "$RATE" "$RATE_COUNT"
run_bench "peak" 0 "$PEAK_COUNT"

echo "==> stopping the server" >&2
stop_checked "certgw serve"

# fill LABEL: serve relays but does not push; DRAIN_COUNT enrollments as
# fast as they go; wait until Redis holds their jobs; stop serve.  Sets
# FILLED, the certificates issued.
fill() {
	echo "==> $1: fill: serve with distribution.workers 0," \
	    "$DRAIN_COUNT enrollments" >&2
	start_serve "$cfg_relay" "$TMP/serve-$1-fill.log"
	base=$(rcli XLEN bench:jobs) || die "redis-cli XLEN failed"
	[ "$base" -eq 0 ] ||
	    echo "  warning: bench:jobs holds $base entries already" >&2
	run_wait timeout $((T_DRAIN + 600)) "$BENCH" dist --no-deliveries \
	    --est-url "https://127.0.0.1:$HTTPS/.well-known/est/" \
	    --cacert "$dir/ca/root.pem" --user est \
	    --password-file "$dir/secrets/est.password" \
	    --rate 0 --count "$DRAIN_COUNT" --json >"$TMP/run.json" \
	    2>"$TMP/run.err"
	st=$?
	if [ "$st" -ne 0 ] || [ ! -s "$TMP/run.json" ]; then
		cat "$TMP/run.err" >&2
		log_tail "$log"
		die "certgw-bench dist --no-deliveries ($1) exited $st"
	fi
	[ -s "$TMP/run.err" ] && sed "s/^/  /" "$TMP/run.err" >&2
	record "$1-fill" "$TMP/run.json"
	FILLED=$(python3 -c 'import json, sys
print(json.loads(open(sys.argv[1]).readline())["enroll"]["ok"])' \
	    "$TMP/run.json") || die "bad JSON from certgw-bench"
	want=$((base + FILLED))
	t0=$(date +%s)
	while :; do
		n=$(rcli XLEN bench:jobs) || die "redis-cli XLEN failed"
		[ "$n" -lt "$want" ] || break
		el=$(($(date +%s) - t0))
		[ "$el" -lt "$T_FILL" ] || { log_tail "$log";
		    die "bench:jobs holds $n of $want after ${T_FILL}s"; }
		echo "  bench:jobs $n of $want (${el}s)" >&2
		sleep 1
	done
	echo "  bench:jobs holds $n entries ($FILLED issued)" >&2
	stop_checked "certgw serve (relay only)"
}

# drain LABEL serve|worker: the receiver waits for FILLED keys; then the
# pushers start, and are stopped when it has them all or gives up.
drain() {
	echo "==> $1: drain $FILLED jobs with $2, $DRAIN_WORKERS workers" >&2
	timeout $((T_DRAIN + 600)) "$BENCH" dist --receive-only \
	    --listen "127.0.0.1:$LISTEN" --cert "$TMP/rcv.pem" \
	    --key "$TMP/rcv.key" --client-ca "$TMP/pushca/ca.pem" \
	    --count "$FILLED" --drain-timeout "$T_DRAIN" --json \
	    >"$TMP/run.json" 2>"$TMP/run.err" &
	RCV_PID=$!
	i=0
	until python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
	    "$LISTEN" 2>/dev/null; do
		kill -0 "$RCV_PID" 2>/dev/null ||
		    { RCV_PID=""; cat "$TMP/run.err" >&2;
		    die "certgw-bench dist --receive-only exited"; }
		i=$((i + 1))
		[ "$i" -lt 100 ] || die "the receiver did not listen within 10s"
		sleep 0.1
	done
	if [ "$2" = serve ]; then
		start_serve "$cfg_push" "$TMP/serve-$1.log"
	else
		log=$TMP/worker-$1.log
		"$CERTGW" worker --config "$cfg_push" 2>"$log" &
		SERVER_PID=$!
	fi
	CHILD=$RCV_PID
	wait "$RCV_PID"
	st=$?
	CHILD="" RCV_PID=""
	stop_checked "certgw $2"
	if [ "$st" -ne 0 ] || [ ! -s "$TMP/run.json" ]; then
		cat "$TMP/run.err" >&2
		die "certgw-bench dist --receive-only ($1) exited $st"
	fi
	[ -s "$TMP/run.err" ] && sed "s/^/  /" "$TMP/run.err" >&2
	record "$1" "$TMP/run.json"
	echo "  bench:jobs left: $(rcli XLEN bench:jobs)" >&2
}

fill "drain-serve"
drain "drain-serve" serve
if [ "$DRAIN_WORKER" -eq 1 ]; then
	fill "drain-worker"
	drain "drain-worker" worker
fi

rcli HGETALL bench:stats >"$TMP/stats.txt" 2>&1
echo "  redis $(tr '\n' ' ' <"$TMP/stats.txt")" >&2

python3 - "$OUT" "$DRAIN_WORKERS" <<'EOF' || exit 1
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
dworkers = sys.argv[2]
fills = {r["label"]: r for r in runs if r["side"] == "enroll"}
print()
print("| run | enrolled | enroll/s | delivered | deliveries/s "
      "| p50 ms | p90 ms | p99 ms | max ms | dup | missing |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in runs:
    if r["side"] == "enroll":
        continue
    if r["side"] == "receive":
        # Enrolled earlier, while no worker ran: the fill's numbers.
        e = fills[r["label"] + "-fill"]["enroll"]
        who = "serve" if r["label"] == "drain-serve" else "certgw worker"
        name = f"drain, {who}, {dworkers} workers, count {r['count']}"
        lat = "| – | – | – | – |"
    else:
        e = r["enroll"]
        name = f"rate {r['rate']}" if r["rate"] else "rate 0 (peak)"
        name += f", count {r['count']}"
        l = r["latency_ms"]
        lat = (f"| {l['p50']:.1f} | {l['p90']:.1f} | {l['p99']:.1f} "
               f"| {l['max']:.1f} |")
    print(f"| {name} | {e['ok']} | {e['enrollments_per_s']:.1f} | "
          f"{r['delivered']} | {r['deliveries_per_s']:.1f} {lat} "
          f"{r['duplicates']} | {r['missing']} |")
    if (e["failed"] or r["missing"] or r["duplicates"]
            or r.get("unmatched")):
        print(f"dist_load: warning: {name}: failed enrollments "
              f"{e['failed']} {e['errors']}, missing {r['missing']}, "
              f"duplicates {r['duplicates']}, "
              f"unmatched {r.get('unmatched', '-')}", file=sys.stderr)
for r in runs:
    if r["side"] == "receive":
        print(f"{r['label']}: {r['pushes']} pushes in "
              f"{r['push_window_s']:.3f} s ({r['pushes_per_s']:.1f}/s), "
              f"new keys over {r['window_s']:.3f} s; drain_expired "
              f"{r['drain_expired']}", file=sys.stderr)
EOF
echo >&2
echo "raw JSON lines: $OUT" >&2
