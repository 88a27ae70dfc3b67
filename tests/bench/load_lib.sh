# shellcheck shell=sh
# tests/bench/load_lib.sh - sourced by est_load.sh and dist_load.sh: the
# parts of a load run around the measurement.  The caller sets NAME (for
# messages), BUILD, OUT and T_STOP, sources this file, may redefine
# cleanup_hook (more servers to stop), then calls bench_start.

TMP=""
SERVER_PID=""
CHILD=""

die() {
	echo "$NAME: error: $*" >&2
	exit 1
}

# positive VAR VALUE: exit 2 unless VALUE is a positive integer.
positive() {
	case $2 in
	''|*[!0-9]*|0) echo "$NAME: $1 must be a positive integer" >&2
		exit 2 ;;
	esac
}

# Run a command in the background and wait for it, so that a signal to this
# script is handled at once rather than when the command ends.
run_wait() {
	"$@" &
	CHILD=$!
	wait "$CHILD"
	st=$?
	CHILD=""
	return "$st"
}

# stop_server: SIGTERM certgw serve (SERVER_PID), SIGKILL after T_STOP s.
stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null
	i=0
	while kill -0 "$SERVER_PID" 2>/dev/null && [ "$i" -lt "$T_STOP" ]; do
		sleep 1
		i=$((i + 1))
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		echo "$NAME: server $SERVER_PID ignored SIGTERM for" \
		    "${T_STOP}s; killing it" >&2
		kill -KILL "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
		SERVER_PID=""
		return 1
	fi
	wait "$SERVER_PID"
	st=$?
	SERVER_PID=""
	return "$st"
}

# cleanup_hook: redefined by a caller with more to stop.
cleanup_hook() {
	:
}

cleanup() {
	rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$CHILD" ]; then
		kill -TERM "$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	stop_server >/dev/null 2>&1
	cleanup_hook
	[ -n "$TMP" ] && rm -rf "$TMP"
	[ -n "$OUT" ] && [ -f "$OUT" ] && [ ! -s "$OUT" ] && rm -f "$OUT"
	exit "$rc"
}

# bench_start: the traps, and the work directory TMP (its file system in
# FS).  It must be on disk: the store flushes every issuance
# (synchronous=FULL), and tmpfs would make that flush free.
bench_start() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/certgw-$NAME.XXXXXX") ||
	    die "mktemp failed"
	case $(stat -f -c %T "$TMP") in
	tmpfs|ramfs)
		rm -rf "$TMP"
		TMP=$(mktemp -d "$BUILD/$NAME-tmp.XXXXXX") ||
		    die "mktemp failed"
		;;
	esac
	# shellcheck disable=SC2034  # FS is read by the caller
	FS=$(stat -f -c %T "$TMP")
	: >"$OUT" || die "cannot write $OUT"
}

# free_ports N: N distinct free loopback ports, space-separated.
free_ports() {
	python3 -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s:
    x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"
}

log_tail() {
	echo "--- last lines of $1:" >&2
	tail -n 20 "$1" >&2
}

# stop_and_count PROTO FIELD WHAT: stop certgw serve (SERVER_PID) after a
# run, show its warnings, and check that the store ($dir/certgw.json)
# holds at least as many PROTO certificates as the last JSON line of
# $TMP/runs.jsonl counted in FIELD (WHAT names them in messages).  The
# store may hold more: warmup, and work that ended after the window.
stop_and_count() {
	echo "==> certgw: stopping the server" >&2
	stop_server || { log_tail "$TMP/serve.log"; die "certgw serve did" \
	    "not stop cleanly"; }
	if grep -q . "$TMP/serve.log"; then
		echo "  server log, warnings and errors (first 20 lines):" >&2
		sed -n "1,20s/^/  /p" "$TMP/serve.log" >&2
	fi
	timeout "$T_SETUP" "$CERTGW" cert list --config "$dir/certgw.json" \
	    --json >"$TMP/list.json" || die "certgw cert list failed"
	python3 - "$TMP/list.json" "$TMP/runs.jsonl" "$1" "$2" "$3" "$NAME" \
	    <<'EOF' || exit 1
import json, sys
listing, runs, proto, field, what, name = sys.argv[1:7]
n = sum(1 for c in json.load(open(listing)) if c.get("protocol") == proto)
ok = [json.loads(l) for l in open(runs) if l.strip()][-1][field]
if n < ok:
    print(f"{name}: error: the store holds {n} {proto.upper()} "
          f"certificates, certgw-bench counted {ok} {what}", file=sys.stderr)
    sys.exit(1)
print(f"  store check: {n} {proto.upper()} certificates >= {ok} counted",
      file=sys.stderr)
EOF
}
