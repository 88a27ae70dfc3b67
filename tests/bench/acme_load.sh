#!/bin/sh
# tests/bench/acme_load.sh - the ACME throughput comparison in one run
# (docs/performance.md, "ACME"): certgw-bench acme against `certgw serve`
# and then against Pebble, with the same clients, the same duration and
# the same http-01 responder, and the ratio of the two.
#
# On loopback: a DNS stub (tests/integration/dns_stub.py) that answers
# every A query with 127.0.0.1, so both servers' validators reach the
# tool's own http-01 responder; a throwaway CA from `certgw init
# --intermediate` with an "acme" section (no authorization reuse), on disk;
# Pebble with PEBBLE_VA_NOSLEEP=1, PEBBLE_AUTHZREUSE=0 and
# PEBBLE_WFE_NONCEREJECT=0, on a throwaway TLS certificate.  After the
# certgw run the store must hold at least as many ACME certificates as the
# tool counted.  Everything is stopped at the end.
#
# usage: tests/bench/acme_load.sh [BUILD_DIR]	(default build/bench)
#
# Environment: CONCURRENCY (clients, default 16), DURATION (measured
# seconds per server, default 20), WARMUP (unmeasured seconds first,
# default 3), POLL_MS (longest wait between polls, default 50),
# PEBBLE_TRIES (fresh Pebble runs after a stalled one, default 3), OUT
# (where the JSON lines go, default BUILD_DIR/acme-load-<date>.jsonl),
# TMPDIR (the work directory goes there unless it is tmpfs; then under
# BUILD_DIR).
# Installs nothing: it names what is missing.
# Exit status 0 on success, 1 on any failure, 2 on bad usage.
set -u

# Debian's python3 first: the DNS stub needs its python3-dnslib.
PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH
export PATH

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/bench}
CONCURRENCY=${CONCURRENCY:-16}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
POLL_MS=${POLL_MS:-50}
T_SETUP=60			# init, check-config, cert list: seconds each
T_READY=30			# a server up and answering
T_STOP=40			# SIGTERM to exit (shutdown_grace_s is 20)

NAME=acme_load
# shellcheck source=tests/bench/load_lib.sh
. "$ROOT/tests/bench/load_lib.sh"

positive CONCURRENCY "$CONCURRENCY"
positive DURATION "$DURATION"
case $WARMUP in
''|*[!0-9]*) echo "$NAME: WARMUP must be an integer" >&2; exit 2 ;;
esac
case $POLL_MS in
''|*[!0-9]*) echo "$NAME: POLL_MS must be an integer" >&2; exit 2 ;;
esac
[ -d "$BUILD" ] || { echo "$NAME: no build directory $BUILD" >&2; exit 2; }
BUILD=$(cd "$BUILD" && pwd)
CERTGW=$BUILD/certgw
BENCH=$BUILD/tests/certgw-bench
[ -x "$CERTGW" ] || die "$CERTGW is missing; build first"
[ -x "$BENCH" ] || die "$BENCH is missing; build first"
for tool in python3 curl openssl timeout; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
command -v pebble >/dev/null 2>&1 ||
    die "pebble is not installed (apt-get install pebble)"
python3 -c 'import dnslib' 2>/dev/null ||
    die "python3 module dnslib is missing (apt-get install python3-dnslib)"
OUT=${OUT:-$BUILD/acme-load-$(date +%Y%m%d-%H%M%S).jsonl}

DNS_PID=""
PEBBLE_PID=""

# stop_pid PID: SIGTERM, then SIGKILL after T_STOP seconds.
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ "$i" -lt "$T_STOP" ]; do
		sleep 1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

cleanup_hook() {
	stop_pid "$PEBBLE_PID"
	PEBBLE_PID=""
	stop_pid "$DNS_PID"
	DNS_PID=""
}

bench_start

# wait_https URL CAFILE PID LOG WHAT: until URL answers 200 over TLS.
wait_https() {
	i=0
	until curl -fsS --max-time 2 --cacert "$2" "$1" >/dev/null 2>&1; do
		if ! kill -0 "$3" 2>/dev/null; then
			log_tail "$4"
			die "$5 exited"
		fi
		i=$((i + 1))
		[ "$i" -lt "$T_READY" ] || { log_tail "$4";
		    die "$5 did not answer within ${T_READY}s"; }
		sleep 1
	done
}

# run_bench LABEL DIRECTORY CAFILE [soft]: certgw-bench acme, one JSON
# line appended to $TMP/runs.jsonl with "server": LABEL.  A failed run
# ends the script, or with soft returns 1 and appends nothing.
run_bench() {
	echo "==> $1: certgw-bench acme -c $CONCURRENCY, ${WARMUP}s warmup," \
	    "${DURATION}s measured" >&2
	run_wait timeout $((WARMUP + DURATION + 180)) "$BENCH" acme \
	    --directory "$2" --cacert "$3" --concurrency "$CONCURRENCY" \
	    --duration "$DURATION" --warmup "$WARMUP" --poll-ms "$POLL_MS" \
	    --http01-port "$H01_PORT" --json \
	    >"$TMP/run.json" 2>"$TMP/run.err"
	st=$?
	if [ "$st" -ne 0 ] || [ ! -s "$TMP/run.json" ]; then
		cat "$TMP/run.err" >&2
		[ "${4:-}" = soft ] && return 1
		die "$1: certgw-bench acme exited $st"
	fi
	[ -s "$TMP/run.err" ] && sed "s/^/  /" "$TMP/run.err" >&2
	python3 - "$TMP/run.json" "$1" >>"$TMP/runs.jsonl" <<'EOF' ||
import json, sys
r = json.load(open(sys.argv[1]))
r["server"] = sys.argv[2]
print(json.dumps(r, separators=(",", ":")))
EOF
	    die "$1: unreadable certgw-bench output"
}

ports=$(free_ports 8) || die "cannot pick free ports"
# shellcheck disable=SC2086  # split on purpose
set -- $ports
HTTPS_PORT=$1 HTTP_PORT=$2 DNS_PORT=$3 DNS_CTL_PORT=$4 H01_PORT=$5
PEBBLE_PORT=$6 PEBBLE_MGMT_PORT=$7 PEBBLE_TLS_PORT=$8
: >"$TMP/runs.jsonl"

# ------------------------------------------------------------ DNS stub

python3 "$ROOT/tests/integration/dns_stub.py" --port "$DNS_PORT" \
    --control-port "$DNS_CTL_PORT" >"$TMP/dns.log" 2>&1 &
DNS_PID=$!
i=0
until grep -q ready "$TMP/dns.log" 2>/dev/null; do
	kill -0 "$DNS_PID" 2>/dev/null || { log_tail "$TMP/dns.log";
	    die "the DNS stub exited"; }
	i=$((i + 1))
	[ "$i" -lt 100 ] || { log_tail "$TMP/dns.log";
	    die "the DNS stub did not start"; }
	sleep 0.1
done

# --------------------------------------------------------------- certgw

dir=$TMP/ca
echo "==> certgw: init (https 127.0.0.1:$HTTPS_PORT, $FS; dns" \
    "127.0.0.1:$DNS_PORT, http-01 127.0.0.1:$H01_PORT)" >&2
timeout "$T_SETUP" "$CERTGW" init --dir "$dir" --intermediate \
    --https "127.0.0.1:$HTTPS_PORT" --http "127.0.0.1:$HTTP_PORT" \
    >"$TMP/init.log" 2>&1 ||
    { log_tail "$TMP/init.log"; die "certgw init failed"; }
# One log line per request at info would be part of the numbers.
python3 - "$dir/certgw.json" "$H01_PORT" "$DNS_PORT" <<'EOF' ||
import json, sys
path, h01, dns = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path) as f:
    c = json.load(f)
c.setdefault("log", {})["level"] = "warn"
c["acme"] = {
    "validation": {"http_port": h01, "resolver": "127.0.0.1:" + dns,
                   "timeout_ms": 5000},
    "directories": {"default": {"profile": "server", "authz_reuse_s": 0}},
}
with open(path, "w") as f:
    json.dump(c, f, indent=2)
    f.write("\n")
EOF
    die "cannot write the acme section"
timeout "$T_SETUP" "$CERTGW" check-config "$dir/certgw.json" >/dev/null ||
    die "check-config refused the config"
"$CERTGW" serve --config "$dir/certgw.json" 2>"$TMP/serve.log" &
SERVER_PID=$!
wait_https "https://127.0.0.1:$HTTPS_PORT/acme/directory" "$dir/ca/root.pem" \
    "$SERVER_PID" "$TMP/serve.log" "certgw serve"
run_bench certgw "https://127.0.0.1:$HTTPS_PORT/acme/directory" \
    "$dir/ca/root.pem"
stop_and_count acme orders orders

# --------------------------------------------------------------- Pebble

# Pebble 2.4.0 (Debian 12) can deadlock under concurrent orders: newOrder
# takes its store's read lock twice (FindValidAuthorization) while a
# finalize waits for the write lock, and every request then hangs.  A run
# that hit it (the tool failed, or timed out talking to Pebble) is
# reported and repeated with a fresh Pebble, up to PEBBLE_TRIES times.
PEBBLE_TRIES=${PEBBLE_TRIES:-3}
positive PEBBLE_TRIES "$PEBBLE_TRIES"

# A throwaway CA and a certificate for Pebble's HTTPS listener.
pdir=$TMP/pebble
mkdir -p "$pdir" || die "mkdir failed"
(
	umask 077
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$pdir/ca.key" -out "$pdir/ca.pem" -days 2 \
	    -subj "/CN=acme_load throwaway CA" >/dev/null 2>&1 &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$pdir/key.pem" -out "$pdir/req.pem" \
	    -subj "/CN=localhost" >/dev/null 2>&1 &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' \
	    >"$pdir/ext.cnf" &&
	openssl x509 -req -in "$pdir/req.pem" -CA "$pdir/ca.pem" \
	    -CAkey "$pdir/ca.key" -CAcreateserial -days 2 \
	    -extfile "$pdir/ext.cnf" -out "$pdir/cert.pem" >/dev/null 2>&1
) || die "cannot make Pebble's TLS certificate"
cat >"$pdir/pebble.json" <<EOF || die "cannot write Pebble's config"
{
  "pebble": {
    "listenAddress": "127.0.0.1:$PEBBLE_PORT",
    "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT_PORT",
    "certificate": "$pdir/cert.pem",
    "privateKey": "$pdir/key.pem",
    "httpPort": $H01_PORT,
    "tlsPort": $PEBBLE_TLS_PORT,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF
PEBBLE_VERSION=$(dpkg-query -W -f '${Version}' pebble 2>/dev/null)
try=1
while :; do
	echo "==> pebble $PEBBLE_VERSION: https 127.0.0.1:$PEBBLE_PORT" \
	    "(attempt $try of $PEBBLE_TRIES)" >&2
	PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 PEBBLE_WFE_NONCEREJECT=0 \
	    pebble -config "$pdir/pebble.json" \
	    -dnsserver "127.0.0.1:$DNS_PORT" >"$TMP/pebble.log" 2>&1 &
	PEBBLE_PID=$!
	wait_https "https://127.0.0.1:$PEBBLE_PORT/dir" "$pdir/ca.pem" \
	    "$PEBBLE_PID" "$TMP/pebble.log" "pebble"
	cp "$TMP/runs.jsonl" "$TMP/runs.before" || die "cp failed"
	if run_bench pebble "https://127.0.0.1:$PEBBLE_PORT/dir" \
	    "$pdir/ca.pem" soft &&
	    ! grep -q '"transport:' "$TMP/run.json"; then
		stop_pid "$PEBBLE_PID"
		PEBBLE_PID=""
		break
	fi
	echo "  pebble stalled (requests timed out): see the Pebble note" \
	    "in tests/bench/acme_load.sh" >&2
	stop_pid "$PEBBLE_PID"
	PEBBLE_PID=""
	cp "$TMP/runs.before" "$TMP/runs.jsonl" || die "cp failed"
	[ "$try" -lt "$PEBBLE_TRIES" ] ||
	    die "pebble stalled in all $PEBBLE_TRIES attempts"
	try=$((try + 1))
done

# -------------------------------------------------------------- report

cat "$TMP/runs.jsonl" >>"$OUT"
python3 - "$TMP/runs.jsonl" "$try" <<'EOF' || exit 1
import json, sys
runs = {}
for line in open(sys.argv[1]):
    if line.strip():
        r = json.loads(line)
        runs[r["server"]] = r
print()
print("| server | orders | orders/s | p50 ms | p90 ms | p99 ms | "
      "failed | polls/order | poll wait ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for name in ("certgw", "pebble"):
    r = runs[name]
    lat = r["latency_ms"]
    print(f"| {name} | {r['orders']} | {r['orders_per_s']:.1f} | "
          f"{lat['p50']:.1f} | {lat['p90']:.1f} | {lat['p99']:.1f} | "
          f"{r['failed']} | "
          f"{r['authz_polls'] + r['order_polls']:.2f} | "
          f"{r['poll_wait_ms']:.1f} |")
    if r["errors"]:
        print(f"acme_load: warning: {name}: errors {r['errors']}",
              file=sys.stderr)
print()
print("mean time per request, ms (certgw / pebble):")
kinds = sorted(set(runs["certgw"]["requests"]) |
               set(runs["pebble"]["requests"]))
for k in kinds:
    a = runs["certgw"]["requests"].get(k, {}).get("mean_ms", 0)
    b = runs["pebble"]["requests"].get(k, {}).get("mean_ms", 0)
    print(f"  {k:12} {a:8.2f} / {b:8.2f}")
p = runs["pebble"]["orders_per_s"]
c = runs["certgw"]["orders_per_s"]
print()
print(f"ratio certgw / pebble: {c / p:.2f}x" if p > 0 else
      "ratio: pebble completed no orders")
if sys.argv[2] != "1":
    print(f"(pebble stalled before; this is attempt {sys.argv[2]})")
EOF
echo >&2
echo "raw JSON lines: $OUT" >&2
