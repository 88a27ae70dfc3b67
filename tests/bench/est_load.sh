#!/bin/sh
# tests/bench/est_load.sh - reproduce the EST enrollment throughput numbers
# in one run (docs/performance.md, "EST enrollment throughput: how to
# reproduce").  For an EC P-256 CA and then an RSA-2048 CA: init a fresh
# CA on disk, serve it on free loopback ports, run certgw-bench est at
# concurrency 1, 8 and 64 on kept-alive connections, and at 8 with a new TLS
# connection per enrollment, first resuming the session with its ticket,
# then with a full handshake each time; stop the server and check that the
# store holds at least as many EST certificates as the benchmark counted.
# Then run openssl speed once for the signature bound, and print a markdown
# table.
#
# usage: tests/bench/est_load.sh [BUILD_DIR]	(default build/plain)
#
# Environment: DURATION (measured seconds per run, default 10), SPEED_S
# (openssl speed seconds per operation, default 3), OUT (where the JSON
# lines go, default BUILD_DIR/est-load-<date>.jsonl), TMPDIR (the work
# directory goes there unless it is tmpfs; then under BUILD_DIR).
# Exit status 0 on success, 1 on any failure, 2 on bad usage.
set -u

# Debian's python3 first; only its standard library is used.
PATH=/usr/bin:/bin:$PATH
export PATH

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/plain}
DURATION=${DURATION:-10}
SPEED_S=${SPEED_S:-3}
KEYS="ec-p256 rsa-2048"
WARMUP=1			# certgw-bench --warmup, seconds
T_SETUP=60			# init, check-config, cert list: seconds each
T_READY=30			# server up and answering /healthz
T_STOP=40			# SIGTERM to exit (shutdown_grace_s is 20)

NAME=est_load
# shellcheck source=tests/bench/load_lib.sh
. "$ROOT/tests/bench/load_lib.sh"

positive DURATION "$DURATION"
positive SPEED_S "$SPEED_S"
[ -d "$BUILD" ] || { echo "est_load: no build directory $BUILD" >&2; exit 2; }
BUILD=$(cd "$BUILD" && pwd)
CERTGW=$BUILD/certgw
BENCH=$BUILD/tests/certgw-bench
[ -x "$CERTGW" ] || die "$CERTGW is missing; build first"
[ -x "$BENCH" ] || die "$BENCH is missing; build first"
for tool in python3 curl openssl timeout; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
OUT=${OUT:-$BUILD/est-load-$(date +%Y%m%d-%H%M%S).jsonl}

bench_start

# ------------------------------------------------------- one CA key type

# run_key TYPE: init, serve, the four benchmark runs, stop, store check.
run_key() {
	key=$1
	dir=$TMP/$key
	cfg=$dir/certgw.json
	log=$TMP/$key-serve.log
	runs=$TMP/$key.jsonl
	ports=$(free_ports 2) || die "cannot pick free ports"
	https=${ports% *}
	http=${ports#* }

	echo "==> $key: init (https 127.0.0.1:$https, http 127.0.0.1:$http," \
	    "$FS)" >&2
	timeout "$T_SETUP" "$CERTGW" init --dir "$dir" --key-type "$key" \
	    --https "127.0.0.1:$https" --http "127.0.0.1:$http" \
	    >"$TMP/$key-init.log" 2>&1 ||
	    { log_tail "$TMP/$key-init.log"; die "$key: certgw init failed"; }
	# One log line per request at info would be part of the numbers.
	python3 - "$cfg" <<'EOF' || die "$key: cannot set log.level"
import json, sys
with open(sys.argv[1]) as f:
    c = json.load(f)
c.setdefault("log", {})["level"] = "warn"
with open(sys.argv[1], "w") as f:
    json.dump(c, f, indent=2)
    f.write("\n")
EOF
	timeout "$T_SETUP" "$CERTGW" check-config "$cfg" >/dev/null ||
	    die "$key: check-config refused the config"

	"$CERTGW" serve --config "$cfg" 2>"$log" &
	SERVER_PID=$!
	i=0
	until curl -fsS --max-time 2 --cacert "$dir/ca/root.pem" \
	    "https://127.0.0.1:$https/healthz" >/dev/null 2>&1; do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			wait "$SERVER_PID"
			SERVER_PID=""
			log_tail "$log"
			die "$key: certgw serve exited"
		fi
		i=$((i + 1))
		[ "$i" -lt "$T_READY" ] || { log_tail "$log";
		    die "$key: /healthz did not answer within ${T_READY}s"; }
		sleep 1
	done

	: >"$runs"
	for mode in 1 8 64 new8 full8; do
		case $mode in
		new8)	c=8; extra=--new-conn; label="new-conn c=8" ;;
		full8)	c=8; extra="--new-conn --no-resume"
			label="new-conn no-resume c=8" ;;
		*)	c=$mode; extra=; label="keep-alive c=$mode" ;;
		esac
		echo "==> $key: $label, ${DURATION}s" >&2
		# shellcheck disable=SC2086
		run_wait timeout $((WARMUP + DURATION + 120)) "$BENCH" est \
		    --url "https://127.0.0.1:$https/.well-known/est/" \
		    --cacert "$dir/ca/root.pem" --user est \
		    --password-file "$dir/secrets/est.password" \
		    --key "$key" --concurrency "$c" --warmup "$WARMUP" \
		    --duration "$DURATION" $extra --json \
		    >"$TMP/run.json" 2>"$TMP/run.err"
		st=$?
		if [ "$st" -ne 0 ] || [ ! -s "$TMP/run.json" ]; then
			cat "$TMP/run.err" >&2
			log_tail "$log"
			die "$key: certgw-bench ($label) exited $st"
		fi
		[ -s "$TMP/run.err" ] && sed "s/^/  /" "$TMP/run.err" >&2
		cat "$TMP/run.json" >>"$runs"
	done

	echo "==> $key: stopping the server" >&2
	stop_server || { log_tail "$log"; die "$key: certgw serve did not" \
	    "stop cleanly"; }
	if grep -q . "$log"; then
		echo "  server log ($log), warnings and errors:" >&2
		sed -n "1,20s/^/  /p" "$log" >&2
	fi

	# Every enrollment the benchmark counted must be in the store.  The
	# store may hold more: warmup enrollments, and those that finished
	# after a measured window closed.
	timeout "$T_SETUP" "$CERTGW" cert list --config "$cfg" --json \
	    >"$TMP/list.json" || die "$key: certgw cert list failed"
	python3 - "$TMP/list.json" "$runs" "$key" <<'EOF' || exit 1
import json, sys
certs = json.load(open(sys.argv[1]))
est = sum(1 for c in certs if c.get("protocol") == "est")
ok = 0
for line in open(sys.argv[2]):
    if line.strip():
        ok += json.loads(line)["ok"]
key = sys.argv[3]
if est < ok:
    print(f"est_load: error: {key}: store holds {est} EST certificates, "
          f"the benchmark counted {ok} successful enrollments",
          file=sys.stderr)
    sys.exit(1)
print(f"  store check: {est} EST certificates >= {ok} counted ok "
      f"({est - ok} warmup or after the window), {len(certs)} in all",
      file=sys.stderr)
EOF
	cat "$runs" >>"$OUT"
}

for key in $KEYS; do
	run_key "$key"
done

# ------------------------------------------------------- signature bound

echo "==> openssl speed -seconds $SPEED_S -multi 2 ecdsap256 rsa2048" >&2
run_wait timeout $((SPEED_S * 4 + 120)) openssl speed -seconds "$SPEED_S" \
    -multi 2 ecdsap256 rsa2048 >"$TMP/speed.txt" 2>"$TMP/speed.err" ||
    { cat "$TMP/speed.err" >&2; die "openssl speed failed"; }

python3 - "$TMP/speed.txt" "$OUT" "$SPEED_S" <<'EOF' || exit 1
import json, re, sys

speed = {}
for line in open(sys.argv[1]):
    f = line.split()
    if re.match(r"^rsa 2048 bits ", line):
        speed["rsa-2048"] = (float(f[-2]), float(f[-1]))
    elif "ecdsa (nistp256)" in line:
        speed["ec-p256"] = (float(f[-2]), float(f[-1]))
for k in ("ec-p256", "rsa-2048"):
    if k not in speed:
        print(f"est_load: error: no {k} line in openssl speed output",
              file=sys.stderr)
        sys.exit(1)
# One CA signature and one CSR signature check per enrollment, both of the
# same key type: at best 1 / (1/sign + 1/verify) enrollments per second.
bound = {k: 1.0 / (1.0 / s + 1.0 / v) for k, (s, v) in speed.items()}

runs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
with open(sys.argv[2], "a") as f:
    f.write(json.dumps({"mode": "openssl-speed", "seconds": int(sys.argv[3]),
        "multi": 2, "speed": {k: {"sign_per_s": s, "verify_per_s": v,
        "bound_per_s": bound[k]} for k, (s, v) in speed.items()}},
        separators=(",", ":")) + "\n")

for k, (s, v) in speed.items():
    print(f"  openssl speed {k}: sign {s:.1f}/s, verify {v:.1f}/s, "
          f"bound {bound[k]:.1f}/s", file=sys.stderr)
print()
print("| CA key | mode | enroll/s | p50 ms | p99 ms | bound/s | ratio |")
print("|---|---|---:|---:|---:|---:|---:|")
for r in runs:
    k = r["key"]
    mode = ("new-conn" if r["new_conn"] else "keep-alive") + \
        ("" if r.get("resume", True) else " no-resume") + \
        f" c={r['concurrency']}"
    eps = r["enrollments_per_s"]
    lat = r["latency_ms"]
    print(f"| {k} | {mode} | {eps:.1f} | {lat['p50']:.2f} | "
          f"{lat['p99']:.2f} | {bound[k]:.0f} | "
          f"{100.0 * eps / bound[k]:.1f} % |")
    if r["errors"]:
        print(f"est_load: warning: {k} {mode}: errors {r['errors']} "
              f"(ok {r['ok']} of {r['requests']})", file=sys.stderr)
EOF
echo >&2
echo "raw JSON lines: $OUT" >&2
