#!/bin/sh
# tests/bench/scep_load.sh - the SCEP throughput comparison in one run
# (docs/performance.md, "SCEP"): certgw-bench scep against `certgw serve`
# and then against micromdm's scepserver (Debian package scep), with the
# same pre-built PKCSReq messages (RSA-2048 client keys), the same
# concurrency, and the ratio of the two.
#
# Key sizes: the client keys are RSA-2048 (--keys of them, pre-generated).
# By default certgw's CA is RSA-3072 (`certgw init --key-type rsa-3072`,
# no intermediate) and so is its RA, which opens the envelopes and signs
# the CertReps (`certgw scep ra-init`); scepserver uses one RSA-3072 key
# for all three (`scepserver ca -init -keySize 3072`), so both servers do
# the same private-key work per enrollment: one decryption, one CertRep
# signature, one certificate signature.  CA_KEY, RA_KEY and SCEP_BITS
# change that, e.g. CA_KEY=ec-p256 RA_KEY=rsa-3072 SCEP_BITS=4096 for
# each server at its own defaults.
#
# On loopback: a throwaway certgw CA on disk, served on plain HTTP with a
# static challenge; after its run the store must hold at least as many
# SCEP certificates as the tool counted.  Then scepserver on a throwaway
# depot with the same challenge (it listens on every interface; only
# 127.0.0.1 is sent to); its failures are reported, not fatal (see the
# note before its run).  The CPU seconds each server used (user + system,
# from /proc/PID/stat) are printed per enrollment.  Everything is stopped
# at the end.
#
# usage: tests/bench/scep_load.sh [BUILD_DIR]	(default build/bench)
#
# Environment: COUNT (measured enrollments per server, default 2000),
# WARMUP (unmeasured enrollments first, default 100), CONCURRENCY
# (requests in flight, default 16), KEYS (client keys, default 16), CA_KEY
# (certgw init --key-type, default rsa-3072), RA_KEY (certgw scep ra-init
# --key-type, default rsa-3072), SCEP_BITS (scepserver ca -keySize,
# default 3072), OUT
# (where the JSON lines go, default BUILD_DIR/scep-load-<date>.jsonl),
# TMPDIR (the work directory goes there unless it is tmpfs; then under
# BUILD_DIR).
# Installs nothing: it names what is missing.
# Exit status 0 on success, 1 on any failure, 2 on bad usage.
set -u

PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH
export PATH

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/bench}
COUNT=${COUNT:-2000}
WARMUP=${WARMUP:-100}
CONCURRENCY=${CONCURRENCY:-16}
KEYS=${KEYS:-16}
CA_KEY=${CA_KEY:-rsa-3072}
RA_KEY=${RA_KEY:-rsa-3072}
SCEP_BITS=${SCEP_BITS:-3072}
CHALLENGE=scep-load-static-challenge
T_SETUP=60			# init, ra-init, check-config, cert list
T_READY=30			# a server up and answering
T_STOP=40			# SIGTERM to exit (shutdown_grace_s is 20)

NAME=scep_load
# shellcheck source=tests/bench/load_lib.sh
. "$ROOT/tests/bench/load_lib.sh"

positive COUNT "$COUNT"
positive CONCURRENCY "$CONCURRENCY"
positive KEYS "$KEYS"
case $WARMUP in
''|*[!0-9]*) echo "$NAME: WARMUP must be an integer" >&2; exit 2 ;;
esac
[ -d "$BUILD" ] || { echo "$NAME: no build directory $BUILD" >&2; exit 2; }
BUILD=$(cd "$BUILD" && pwd)
CERTGW=$BUILD/certgw
BENCH=$BUILD/tests/certgw-bench
[ -x "$CERTGW" ] || die "$CERTGW is missing; build first"
[ -x "$BENCH" ] || die "$BENCH is missing; build first"
for tool in python3 curl timeout getconf; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
command -v scepserver >/dev/null 2>&1 ||
    die "scepserver is not installed (apt-get install scep)"
OUT=${OUT:-$BUILD/scep-load-$(date +%Y%m%d-%H%M%S).jsonl}
HZ=$(getconf CLK_TCK)

bench_start

# cpu_ticks PID: user + system clock ticks of PID and its threads so far.
cpu_ticks() {
	# The command name may hold spaces: count fields after its ")".
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# wait_scep URL PID LOG WHAT: until GetCACaps answers 200.
wait_scep() {
	i=0
	until curl -fsS --max-time 2 "$1?operation=GetCACaps" >/dev/null 2>&1
	do
		if ! kill -0 "$2" 2>/dev/null; then
			log_tail "$3"
			die "$4 exited"
		fi
		i=$((i + 1))
		[ "$i" -lt "$T_READY" ] || { log_tail "$3";
		    die "$4 did not answer within ${T_READY}s"; }
		sleep 1
	done
}

# run_bench LABEL URL PID [soft]: certgw-bench scep against URL (the RA
# from GetCACert), one JSON line appended to $TMP/runs.jsonl with "server":
# LABEL and the server's CPU seconds over the run (warmup included).  Any
# failed enrollment ends the script, or with soft is reported and kept.
run_bench() {
	echo "==> $1: certgw-bench scep, $WARMUP warmup + $COUNT measured," \
	    "concurrency $CONCURRENCY, $KEYS keys" >&2
	c0=$(cpu_ticks "$3") || die "$1: cannot read /proc/$3/stat"
	run_wait timeout $((COUNT / 5 + 600)) "$BENCH" scep --url "$2" \
	    --challenge-file "$TMP/challenge" --count "$COUNT" \
	    --warmup "$WARMUP" --concurrency "$CONCURRENCY" --keys "$KEYS" \
	    --json >"$TMP/run.json" 2>"$TMP/run.err"
	st=$?
	c1=$(cpu_ticks "$3") || die "$1: the server is gone"
	if [ "$st" -eq 1 ] && [ "${4:-}" = soft ] && [ -s "$TMP/run.json" ]
	then
		echo "  $1: some enrollments failed (see the errors below);" \
		    "counted as errors, not as enrollments" >&2
	elif [ "$st" -ne 0 ] || [ ! -s "$TMP/run.json" ]; then
		cat "$TMP/run.err" "$TMP/run.json" >&2
		die "$1: certgw-bench scep exited $st"
	fi
	grep -v '^certgw-bench: built' "$TMP/run.err" | sed "s/^/  /" >&2
	python3 - "$TMP/run.json" "$1" "$((c1 - c0))" "$HZ" \
	    >>"$TMP/runs.jsonl" <<'EOF' || die "$1: unreadable bench output"
import json, sys
r = json.load(open(sys.argv[1]))
r["server"] = sys.argv[2]
cpu = int(sys.argv[3]) / int(sys.argv[4])
n = r["requests"] + r["warmup"]
r["server_cpu_s"] = cpu
r["server_cpu_ms_per_enrollment"] = 1000.0 * cpu / n if n else 0.0
print(json.dumps(r, separators=(",", ":")))
EOF
}

printf '%s\n' "$CHALLENGE" >"$TMP/challenge" || die "cannot write"
chmod 600 "$TMP/challenge"
ports=$(free_ports 3) || die "cannot pick free ports"
# shellcheck disable=SC2086  # split on purpose
set -- $ports
HTTPS_PORT=$1 HTTP_PORT=$2 SCEP_PORT=$3
: >"$TMP/runs.jsonl"

# --------------------------------------------------------------- certgw

dir=$TMP/ca
echo "==> certgw: init CA $CA_KEY, RA $RA_KEY (http 127.0.0.1:$HTTP_PORT," \
    "$FS)" >&2
timeout "$T_SETUP" "$CERTGW" init --dir "$dir" --key-type "$CA_KEY" \
    --https "127.0.0.1:$HTTPS_PORT" --http "127.0.0.1:$HTTP_PORT" \
    >"$TMP/init.log" 2>&1 ||
    { log_tail "$TMP/init.log"; die "certgw init failed"; }
timeout "$T_SETUP" "$CERTGW" scep ra-init --dir "$dir" --key-type "$RA_KEY" \
    >"$TMP/ra.log" 2>&1 ||
    { log_tail "$TMP/ra.log"; die "certgw scep ra-init failed"; }
(umask 077 && printf '%s\n' "$CHALLENGE" >"$dir/scep/challenge") ||
    die "cannot write the challenge"
# One log line per request at info would be part of the numbers.
python3 - "$dir/certgw.json" <<'EOF' || die "cannot write the scep section"
import json, sys
path = sys.argv[1]
with open(path) as f:
    c = json.load(f)
c.setdefault("log", {})["level"] = "warn"
c["scep"] = {"ra_cert": "scep/ra.pem", "ra_key": "scep/ra.key",
             "services": {"default": {"profile": "device",
                 "challenge": {"static_file": "scep/challenge"}}}}
with open(path, "w") as f:
    json.dump(c, f, indent=2)
    f.write("\n")
EOF
timeout "$T_SETUP" "$CERTGW" check-config "$dir/certgw.json" >/dev/null ||
    die "check-config refused the config"
"$CERTGW" serve --config "$dir/certgw.json" 2>"$TMP/serve.log" &
SERVER_PID=$!
wait_scep "http://127.0.0.1:$HTTP_PORT/scep" "$SERVER_PID" "$TMP/serve.log" \
    "certgw serve"
run_bench certgw "http://127.0.0.1:$HTTP_PORT/scep" "$SERVER_PID"
stop_and_count scep ok enrollments

# ----------------------------------------------------------- scepserver

depot=$TMP/depot
echo "==> scepserver: ca -init -keySize $SCEP_BITS, port $SCEP_PORT" >&2
(cd "$TMP" && timeout "$T_SETUP" scepserver ca -init -depot "$depot" \
    -keySize "$SCEP_BITS" >"$TMP/scep-init.log" 2>&1) ||
    { log_tail "$TMP/scep-init.log"; die "scepserver ca -init failed"; }
# It takes certgw's place in SERVER_PID, so load_lib.sh stops it.
scepserver -depot "$depot" -port "$SCEP_PORT" -challenge "$CHALLENGE" \
    >"$TMP/scepserver.log" 2>&1 &
SERVER_PID=$!
wait_scep "http://127.0.0.1:$SCEP_PORT/scep" "$SERVER_PID" \
    "$TMP/scepserver.log" scepserver
# scepserver 2.1 answers a few concurrent requests with FAILURE badRequest:
# its file depot races on the serial number file ("open depot/serial:
# file exists", "could not convert  to serial number" in its log).  Those
# are its errors, counted and printed, not a reason to stop.
run_bench scepserver "http://127.0.0.1:$SCEP_PORT/scep" "$SERVER_PID" soft
n=$(grep -c 'failed to sign CSR' "$TMP/scepserver.log")
[ "$n" -eq 0 ] || echo "  scepserver log: $n \"failed to sign CSR\"," \
    "e.g. $(grep -m 1 'failed to sign CSR' "$TMP/scepserver.log" |
    sed 's/.*err=//')" >&2
stop_server
# How scepserver exits on SIGTERM says nothing about the run.

# -------------------------------------------------------------- report

cat "$TMP/runs.jsonl" >>"$OUT"
python3 - "$TMP/runs.jsonl" <<'EOF' || exit 1
import json, sys
runs = {}
for line in open(sys.argv[1]):
    if line.strip():
        r = json.loads(line)
        runs[r["server"]] = r
print()
print("| server | c | enrollments | enroll/s | p50 ms | p90 ms | p99 ms | "
      "max ms | errors | server CPU ms/enrollment |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name in ("certgw", "scepserver"):
    r = runs[name]
    lat = r["latency_ms"]
    print(f"| {name} | {r['concurrency']} | {r['ok']} | "
          f"{r['enrollments_per_s']:.1f} | {lat['p50']:.1f} | "
          f"{lat['p90']:.1f} | {lat['p99']:.1f} | {lat['max']:.1f} | "
          f"{sum(r['errors'].values())} | "
          f"{r['server_cpu_ms_per_enrollment']:.2f} |")
c = runs["certgw"]["enrollments_per_s"]
s = runs["scepserver"]["enrollments_per_s"]
print()
print(f"ratio certgw / scepserver (enrollments/s): {c / s:.2f}x" if s > 0 else
      "ratio: scepserver completed no enrollments")
a = runs["certgw"]["server_cpu_ms_per_enrollment"]
b = runs["scepserver"]["server_cpu_ms_per_enrollment"]
if a > 0:
    print(f"server CPU per enrollment, scepserver / certgw: {b / a:.2f}x")
EOF
echo >&2
echo "raw JSON lines: $OUT" >&2
