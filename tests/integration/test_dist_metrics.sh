#!/bin/bash
# Distribution metrics end to end: certgw serve issues over EST and its
# push worker delivers to the HTTPS receiver; then `certgw dist metrics`
# must print well-formed Prometheus text whose counters equal what was
# delivered, whose histogram counts every delivery in cumulative buckets
# ending at +Inf, and whose queue gauges are 0; `certgw dist status
# --json` must hold the same numbers.  A receiver answering 500 once makes
# a retry, one answering 400 a dead letter, and both show up.  With Redis
# down, metrics prints nothing and exits 1.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3
need redis-server redis-server
need redis-cli redis-tools

RULE=idm.metrics_1
d=$T/ca
init_ca "$d"
start_redis
test_ca "$T/pushca" "Push Client CA"
test_leaf "$T/pushca" "$T/push" "certgw push" client
start_receiver "$T/r1" "$T/pushca/ca.pem"
json_set "$d/certgw.json" '
c["redis"] = {"url": "redis://127.0.0.1:'"$REDIS_PORT"'/0",
    "key_prefix": "tm:"}
c["distribution"] = {"workers": 1, "rules": [{"name": "'"$RULE"'",
  "url": "https://127.0.0.1:'"$RECV_PORT"'/certs/{serial}",
  "payload": "json",
  "tls": {"client_cert": "'"$T"'/push.pem", "client_key": "'"$T"'/push.key",
          "ca_file": "'"$RECV_CA"'"},
  "retry": {"max_attempts": 5, "initial_backoff_ms": 50,
            "max_backoff_ms": 200}}]}'
start_serve "$d"

# settled N: wait until the worker has settled N jobs in all (delivered,
# retried or dead) and the queue is empty again.
settled() {
	local i=0 n o
	while [ $i -lt 150 ]; do
		n=0
		for o in delivered retried dead; do
			n=$(( n + $(rcli HGET tm:stats "$RULE:$o" |
			    sed 's/^$/0/') ))
		done
		if [ "$n" -ge "$1" ] && [ "$(rcli XLEN tm:jobs)" = 0 ] &&
		    [ "$(rcli ZCARD tm:delayed)" = 0 ]; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	fail "$n of $1 jobs settled"
}

# check_metrics FILE DELIVERED RETRIED DEAD: FILE is valid Prometheus text
# (0.0.4) with these counters for $RULE, a histogram of DELIVERED
# deliveries and an empty queue apart from DEAD dead letters.
check_metrics() {
	python3 - "$@" "$RULE" <<'PY' || fail "bad metrics: $(cat "$1")"
import re, sys
path, want_del, want_ret, want_dead, rule = sys.argv[1:6]
want = {"delivered": int(want_del), "retried": int(want_ret),
        "dead": int(want_dead)}
lines = open(path).read().split("\n")
assert lines[-1] == "", "no final line feed"
helped, typed, samples = {}, {}, {}
sample_re = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')
for l in lines[:-1]:
    if l.startswith("# HELP "):
        name, text = l[7:].split(" ", 1)
        assert name not in helped and text, l
        helped[name] = text
        continue
    if l.startswith("# TYPE "):
        name, t = l[7:].split(" ")
        assert t in ("counter", "gauge", "histogram"), l
        assert name in helped and name not in typed, l
        typed[name] = t
        continue
    m = sample_re.match(l)
    assert m, "bad line: %r" % l
    name, labels, value = m.group(1), m.group(3) or "", m.group(4)
    fam = re.sub(r'_(bucket|sum|count)$', '', name)
    if fam not in typed:
        fam = name
    assert fam in typed, "no TYPE before " + l
    lab = dict(label_re.findall(labels))
    assert ",".join('%s="%s"' % kv for kv in lab.items()) == labels, l
    float(value)
    key = (name, tuple(sorted(lab.items())))
    assert key not in samples, "duplicate " + l
    samples[key] = float(value)

def get(name, **lab):
    return samples[(name, tuple(sorted(lab.items())))]

assert typed["certgw_dist_deliveries_total"] == "counter"
for outcome, n in want.items():
    got = get("certgw_dist_deliveries_total", rule=rule, outcome=outcome)
    assert got == n, (outcome, got, n)
for g in ("queue_jobs", "queue_pending", "queue_delayed", "outbox_jobs",
          "oldest_job_seconds", "outbox_oldest_seconds"):
    assert typed["certgw_dist_" + g] == "gauge", g
    assert get("certgw_dist_" + g) == 0, (g, get("certgw_dist_" + g))
assert get("certgw_dist_queue_dead") == want["dead"]
h = "certgw_dist_delivery_latency_seconds"
assert typed[h] == "histogram"
les = [dict(k[1])["le"] for k in samples
       if k[0] == h + "_bucket" and dict(k[1])["rule"] == rule]
assert les[-1] == "+Inf" and len(les) == 14, les
bounds = [float(x) for x in les[:-1]]
assert bounds == sorted(bounds) and bounds[0] == 0.005, bounds
counts = [get(h + "_bucket", rule=rule, le=x) for x in les]
assert counts == sorted(counts), "buckets not cumulative: %r" % counts
assert counts[-1] == want["delivered"], counts
assert get(h + "_count", rule=rule) == want["delivered"]
s = get(h + "_sum", rule=rule)
assert 0 <= s < 60 * want["delivered"], s
PY
}

# check_json FILE DELIVERED RETRIED DEAD: the same from dist status --json.
check_json() {
	python3 - "$@" "$RULE" <<'PY' || fail "bad status JSON: $(cat "$1")"
import json, sys
path, d, r, dead, rule = sys.argv[1:6]
s = json.load(open(path))
assert set(s) >= {"outbox", "queue", "rules"}, s.keys()
assert s["outbox"]["jobs"] == 0, s["outbox"]
assert s["queue"]["jobs"] == 0 and s["queue"]["pending"] == 0, s["queue"]
assert s["queue"]["delayed"] == 0 and s["queue"]["dead"] == int(dead)
assert s["ignored_fields"] == 0 and s["rules_truncated"] is False
rules = {x["rule"]: x for x in s["rules"]}
x = rules[rule]
assert (x["delivered"], x["retried"], x["dead"]) == (int(d), int(r),
    int(dead)), x
lat = x["latency"]
assert lat["count"] == int(d), lat
assert sum(b["count"] for b in lat["buckets"]) == int(d), lat
assert lat["buckets"][-1]["le_ms"] == "+Inf", lat
assert lat["buckets"][0]["le_ms"] == 5, lat
for q in ("p50_ms", "p90_ms", "p99_ms"):
    assert isinstance(lat[q], int) and 5 <= lat[q] <= 60000, (q, lat)
assert lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"], lat
PY
}

for i in 1 2 3; do
	est_enroll "$d" "$i"
done
recv_wait_count 3
settled 3
"$CERTGW" dist metrics --dir "$d" >"$T/m1" || fail "dist metrics"
check_metrics "$T/m1" 3 0 0
grep -q "^# HELP certgw_dist_deliveries_total " "$T/m1" ||
    fail "no HELP line"
pass "3 deliveries: counters, histogram and gauges in Prometheus text"

"$CERTGW" dist status --json --dir "$d" >"$T/s1.json" ||
    fail "dist status --json"
python3 -m json.tool "$T/s1.json" >/dev/null || fail "not JSON"
check_json "$T/s1.json" 3 0 0
"$CERTGW" dist status --dir "$d" >"$T/s1" || fail "dist status"
grep -q "^  $RULE:delivered *3$" "$T/s1" || fail "status: $(cat "$T/s1")"
grep -Eq "^  $RULE +3 +0 +0 +<=[0-9.]+m?s +<=[0-9.]+m?s +<=[0-9.]+m?s$" \
    "$T/s1" || fail "status latency: $(cat "$T/s1")"
pass "dist status (text and --json) shows the per-rule numbers"

# 500 once, then 201: one retry, then delivered.
recv_mode 500 201
est_enroll "$d" 4
recv_wait_count 5 20
settled 5
"$CERTGW" dist metrics --dir "$d" >"$T/m2" || fail "dist metrics"
check_metrics "$T/m2" 4 1 0
pass "500 then 201: retried 1, delivered 4"

# 400: a dead letter.
recv_mode 400 201
est_enroll "$d" 5
recv_wait_count 6 20
settled 6
"$CERTGW" dist metrics --dir "$d" >"$T/m3" || fail "dist metrics"
check_metrics "$T/m3" 4 1 1
"$CERTGW" dist status --json --dir "$d" >"$T/s3.json" ||
    fail "dist status --json"
check_json "$T/s3.json" 4 1 1
pass "400: dead 1, and the dead-letter gauge is 1"

# Fields another program wrote to the hash are ignored, with a warning.
rcli HSET tm:stats "$RULE:bogus" 1 "$RULE:delivered_x" abc >/dev/null
"$CERTGW" dist metrics --dir "$d" >"$T/m4" 2>"$T/m4.err" ||
    fail "dist metrics with foreign fields"
check_metrics "$T/m4" 4 1 1
grep -q "2 fields of the stats hash not understood" "$T/m4.err" ||
    fail "no warning: $(cat "$T/m4.err")"
pass "foreign fields in the stats hash are ignored"

if "$CERTGW" dist metrics --json --dir "$d" >/dev/null 2>&1; then
	fail "dist metrics --json was accepted"
fi
stop_redis
rc=0
"$CERTGW" dist metrics --dir "$d" >"$T/m5" 2>"$T/m5.err" || rc=$?
[ "$rc" = 1 ] || fail "Redis down: exit $rc"
[ ! -s "$T/m5" ] || fail "Redis down: printed $(cat "$T/m5")"
grep -q "cannot reach Redis" "$T/m5.err" || fail "$(cat "$T/m5.err")"
pass "Redis down: dist metrics prints nothing and exits 1"
