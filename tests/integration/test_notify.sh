#!/bin/bash
# Expiry notifications end to end: a webhook to the HTTPS receiver (client
# certificate, trust from ca_file, as a distribution push) and e-mail to a
# local SMTP sink (aiosmtpd).  Cases: the scheduler of certgw serve runs
# at run_at and stops promptly; an identity with two certificates is told
# once, about the one that expires first; a certificate that maps to
# nobody is its own holder, mailed at its e-mail SAN, and skipped for
# e-mail when it has none; every_days holds at +12 h and lets go at +25 h;
# two runs at once send exactly one notification per holder and channel;
# a failed webhook is recorded and retried by the next run; notify list
# and the audit log show it all; config errors name the profile and the
# channel with the line.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need curl curl
need python3 python3
python3 -c 'import aiosmtpd' 2>/dev/null ||
    fail "python3 module aiosmtpd is missing (apt-get install python3-aiosmtpd)"

d=$T/ca
init_ca "$d"
test_ca "$T/pushca" "Notify Client CA"
test_leaf "$T/pushca" "$T/push" "certgw notify" client
start_receiver "$T/r1" "$T/pushca/ca.pem"

SMTP_PORT=$(free_port)
start_bg smtp /usr/bin/python3 "$CERTGW_SRC/tests/integration/smtp_sink.py" \
    --port "$SMTP_PORT" --dir "$T/mail"
i=0
until grep -q listening "$T/smtp.log" 2>/dev/null; do
	[ $i -lt 100 ] || fail "smtp_sink did not start: $(cat "$T/smtp.log")"
	sleep 0.1
	i=$((i + 1))
done

# mail_count: messages the sink has accepted.
mail_count() {
	find "$T/mail" -name 'msg-*.json' | wc -l
}

json_set "$d/certgw.json" '
notify = {"days_before": 30, "every_days": 1,
          "channels": ["webhook:ops", "email:owner"]}
base = dict(c["profiles"]["device"])
c["profiles"]["short"] = dict(base, validity_days=10, notify=notify)
c["profiles"]["long"] = dict(base, validity_days=20, notify=notify)
c["notifications"] = {"run_at": "06:00", "channels": {
  "ops": {"type": "webhook",
          "url": "https://127.0.0.1:'"$RECV_PORT"'/hooks/expiry",
          "tls": {"client_cert": "'"$T"'/push.pem",
                  "client_key": "'"$T"'/push.key",
                  "ca_file": "'"$RECV_CA"'"},
          "timeout_ms": 5000},
  "owner": {"type": "email", "smtp_url": "smtp://127.0.0.1:'"$SMTP_PORT"'",
            "starttls": False, "from": "certgw@ca.example",
            "subject": "Expiring: {serial} for {holder} in {days_left} days",
            "body": "Subject {subject}\nprofile {profile}, not after {not_after}\n.\nend\n"}}}'
"$CERTGW" check-config "$d/certgw.json" >/dev/null ||
    fail "the test config does not load"

# issue NAME PROFILE SAN: a certificate with CN NAME; prints its serial.
issue() {
	make_csr ec-p256 "$1" "$T/$1-$2.csr" "$3"
	"$CERTGW" issue --dir "$d" --profile "$2" --csr "$T/$1-$2.csr" \
	    --out "$T/$1-$2.pem" 2>"$T/issue.log" ||
	    fail "issue $1 $2: $(cat "$T/issue.log")"
	openssl x509 -in "$T/$1-$2.pem" -noout -serial | cut -d= -f2 |
	    sed 's/^0*//'
}

"$CERTGW" user add alice --dir "$d" --email alice@example.org >/dev/null ||
    fail "user add alice"
"$CERTGW" user add-cert alice --dir "$d" --cn alice >/dev/null ||
    fail "user add-cert alice"
A_SHORT=$(issue alice short DNS:alice.example)
A_LONG=$(issue alice long DNS:alice2.example)
BOB=$(issue bob short email:bob@example.org)
CAROL=$(issue carol long DNS:carol.example)

# --- the scheduler of serve --------------------------------------------
# run_at is the next whole minute (UTC), or the one after when this one is
# nearly over, so that serve is up before it comes.
RUN_AT=$(python3 -c 'import datetime as d
t = d.datetime.now(d.timezone.utc)
t += d.timedelta(minutes=2 if t.second >= 50 else 1)
print(t.strftime("%H:%M"))')
json_set "$d/certgw.json" 'c["notifications"]["run_at"] = "'"$RUN_AT"'"'
start_serve "$d"
recv_wait_count 3 140
i=0
while [ "$(mail_count)" -lt 2 ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ "$(mail_count)" = 2 ] || fail "serve sent $(mail_count) mails, want 2"
grep -q 'event=notify_run result=done' "$T/serve.log" ||
    fail "serve did not log its run"
t0=$(date +%s)
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve exited with $? on SIGTERM"
_bg_forget "$SERVE_PID"
[ $(( $(date +%s) - t0 )) -le 5 ] || fail "serve took too long to stop"
pass "serve runs the notifications at run_at and stops promptly"

# check_hooks FROM: the receiver's requests FROM.. (1-based) are one
# webhook per holder, about each holder's earliest certificate.
check_hooks() {
	recv_requests >"$T/reqs"
	python3 - "$T/reqs" "$1" "$A_SHORT" "$BOB" "$CAROL" <<'PY' ||
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reqs = reqs[int(sys.argv[2]) - 1:]
a, bob, carol = sys.argv[3:6]
got = {}
for r in reqs:
    import base64
    assert r["method"] == "POST" and r["path"] == "/hooks/expiry", r
    assert r["headers"]["content-type"] == "application/json", r
    assert r["headers"]["idempotency-key"].startswith("certgw-notify-"), r
    b = json.loads(base64.b64decode(r["body_b64"]))
    assert b["event"] == "certificate.expiring", b
    assert b["holder"] not in got, "two webhooks for " + b["holder"]
    got[b["holder"]] = b
want = {"identity:alice": a, "cert:" + bob: bob, "cert:" + carol: carol}
assert set(got) == set(want), sorted(got)
for h, serial in want.items():
    assert got[h]["serial"] == serial, (h, got[h]["serial"], serial)
assert got["identity:alice"]["profile"] == "short", got["identity:alice"]
assert got["identity:alice"]["subject"] == "CN=alice", got["identity:alice"]
assert 0 <= got["identity:alice"]["days_left"] <= 10
assert got["cert:" + carol]["profile"] == "long"
PY
	fail "webhooks from request $1 are wrong"
}
check_hooks 1
pass "one webhook per holder; alice's two certificates: the earlier decides"

# The two mails: alice's identity address and bob's e-mail SAN.
python3 - "$T/mail" "$A_SHORT" "$BOB" <<'PY' || fail "mails are wrong"
import email, email.policy, glob, json, sys
d, a, bob = sys.argv[1:4]
seen = {}
for j in sorted(glob.glob(d + "/msg-*.json")):
    env = json.load(open(j))
    raw = open(j[:-5] + ".eml", "rb").read()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), \
        "bare LF in the message"
    m = email.message_from_bytes(raw, policy=email.policy.default)
    for h in ("Date", "From", "To", "Subject", "Message-ID",
              "MIME-Version"):
        assert m[h], "no " + h
    assert m.get_content_type() == "text/plain", m["Content-Type"]
    assert m.get_content_charset() == "utf-8", m["Content-Type"]
    assert env["mail_from"] == "certgw@ca.example", env
    assert [a.addr_spec for a in m["From"].addresses] == \
        ["certgw@ca.example"], m["From"]
    assert len(env["rcpt_tos"]) == 1, env
    seen[env["rcpt_tos"][0]] = m
assert set(seen) == {"alice@example.org", "bob@example.org"}, sorted(seen)
m = seen["alice@example.org"]
assert [a.addr_spec for a in m["To"].addresses] == ["alice@example.org"], \
    m["To"]
s = str(m["Subject"])
assert s.startswith("Expiring: %s for identity:alice in " % a), s
body = m.get_content().replace("\r\n", "\n")
assert "Subject CN=alice\n" in body, body
assert "profile short, not after 20" in body, body
# A line with a lone dot was stuffed by libcurl, unstuffed by the sink.
assert "\n.\nend\n" in body, repr(body)
b = str(seen["bob@example.org"]["Subject"])
assert b.startswith("Expiring: %s for cert:%s in " % (bob, bob)), b
PY
pass "e-mail: RFC 5322 headers, CRLF, the template, the holder's address"

"$CERTGW" notify list --dir "$d" --json >"$T/list.json" ||
    fail "notify list failed"
python3 - "$T/list.json" "$CAROL" <<'PY' || fail "notify list is wrong"
import json, sys
rows = json.load(open(sys.argv[1]))
by = {}
for r in rows:
    by.setdefault(r["status"], []).append(r)
assert len(by.get("sent", [])) == 5, rows
sk = by.get("skipped", [])
assert len(sk) == 1 and sk[0]["holder"] == "cert:" + sys.argv[2], rows
assert sk[0]["channel"] == "email:owner", sk
assert "no e-mail address" in sk[0]["detail"], sk
assert rows[0]["id"] > rows[-1]["id"], "not newest first"
PY
pass "notify list: 5 sent, carol's e-mail skipped for want of an address"

# --- every_days with the fake clock --------------------------------------
now=$(date +%s)
at() {
	python3 -c 'import sys, datetime as d
print(d.datetime.fromtimestamp(int(sys.argv[1]), d.timezone.utc)
      .strftime("%Y-%m-%dT%H:%M:%SZ"))' "$(( now + $1 * 3600 ))"
}
n0=$(recv_count)
"$CERTGW" notify run --dir "$d" --now "$(at 12)" >"$T/run12.log" ||
    fail "notify run +12h: $(cat "$T/run12.log")"
[ "$(recv_count)" = "$n0" ] || fail "+12 h sent again within every_days"
[ "$(mail_count)" = 2 ] || fail "+12 h mailed again within every_days"
grep -q "0 sent" "$T/run12.log" || fail "+12 h: $(cat "$T/run12.log")"

"$CERTGW" notify run --dir "$d" --now "$(at 25)" --dry-run --json \
    >"$T/dry.json" || fail "dry run failed"
python3 - "$T/dry.json" <<'PY' || fail "dry run is wrong"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["dry_run"] is True, o
st = [n["status"] for n in o["notifications"]]
assert st == ["due"] * 6, st
PY
[ "$(recv_count)" = "$n0" ] || fail "a dry run sent something"

"$CERTGW" notify run --dir "$d" --now "$(at 25)" --json >"$T/run25.json" ||
    fail "notify run +25h failed"
python3 - "$T/run25.json" <<'PY' || fail "+25 h run is wrong"
import json, sys
o = json.load(open(sys.argv[1]))
c = o["counts"]
assert (c["due"], c["sent"], c["skipped"], c["failed"]) == (3, 5, 1, 0), c
PY
[ "$(recv_count)" = $((n0 + 3)) ] || fail "+25 h: $(recv_count) webhooks"
[ "$(mail_count)" = 4 ] || fail "+25 h: $(mail_count) mails, want 4"
check_hooks $((n0 + 1))
pass "every_days: nothing again at +12 h, everyone again at +25 h"

# --- two runs at once ----------------------------------------------------
n1=$(recv_count)
for k in 1 2 3; do
	"$CERTGW" notify run --dir "$d" --now "$(at 50)" >"$T/par$k.log" 2>&1 &
	eval "P$k=\$!"
done
wait "$P1" || fail "run 1: $(cat "$T/par1.log")"
wait "$P2" || fail "run 2: $(cat "$T/par2.log")"
wait "$P3" || fail "run 3: $(cat "$T/par3.log")"
[ "$(recv_count)" = $((n1 + 3)) ] ||
    fail "three runs at once sent $(( $(recv_count) - n1 )) webhooks, want 3"
[ "$(mail_count)" = 6 ] || fail "three runs at once: $(mail_count) mails"
check_hooks $((n1 + 1))
pass "three runs at once send one notification per holder and channel"

# --- a failed webhook is retried by the next run -------------------------
n2=$(recv_count)
recv_mode 503
rc=$(exit_of "$CERTGW" notify run --dir "$d" --now "$(at 75)")
[ "$rc" = 1 ] || fail "a run with failed sends exited $rc, want 1"
[ "$(recv_count)" = $((n2 + 3)) ] || fail "the failing run: $(recv_count)"
[ "$(mail_count)" = 8 ] || fail "mail is not held up by the webhook"
recv_mode 201
"$CERTGW" notify run --dir "$d" --now "$(at 76)" >"$T/retry.log" ||
    fail "retry run: $(cat "$T/retry.log")"
grep -q "3 sent" "$T/retry.log" || fail "retry: $(cat "$T/retry.log")"
[ "$(mail_count)" = 8 ] || fail "the retry mailed again"
"$CERTGW" notify list --dir "$d" --json --limit 12 >"$T/list2.json"
python3 - "$T/list2.json" <<'PY' || fail "failed rows are wrong"
import json, sys
rows = json.load(open(sys.argv[1]))
failed = [r for r in rows if r["status"] == "failed"]
assert len(failed) == 3 and all(r["detail"] == "HTTP 503" for r in failed), \
    rows
PY
"$CERTGW" audit --dir "$d" >"$T/audit.log"
grep -q "notify" "$T/audit.log" || fail "no notify rows in the audit log"
grep -c "HTTP 503" "$T/audit.log" | grep -qx 3 ||
    fail "the audit log does not show the three failures"
pass "a failed webhook is recorded, audited and sent by the next run"

# --- config errors ---------------------------------------------------------
cp "$d/certgw.json" "$d/bad.json"
json_set "$d/bad.json" '
c["profiles"]["long"]["notify"]["channels"] = ["webhook:ops", "webhook:nope"]'
"$CERTGW" check-config "$d/bad.json" >"$T/bad.out" 2>&1 &&
    fail "an unknown channel was accepted"
grep -q "bad.json:[0-9]*: profiles.long.notify.channels\[1\]: profile 'long': unknown channel 'webhook:nope'" \
    "$T/bad.out" || fail "unknown channel: $(cat "$T/bad.out")"
cp "$d/certgw.json" "$d/bad.json"
json_set "$d/bad.json" '
c["profiles"]["short"]["notify"]["channels"] = ["email:ops"]'
"$CERTGW" check-config "$d/bad.json" >"$T/bad.out" 2>&1 &&
    fail "a channel of the wrong type was accepted"
grep -q "profiles.short.notify.channels\[0\]: profile 'short': unknown channel 'email:ops'" \
    "$T/bad.out" || fail "wrong type: $(cat "$T/bad.out")"
cp "$d/certgw.json" "$d/bad.json"
json_set "$d/bad.json" '
c["notifications"]["channels"]["owner"]["body"] = "{serial} {colour}"'
"$CERTGW" check-config "$d/bad.json" >"$T/bad.out" 2>&1 &&
    fail "an unknown template variable was accepted"
grep -q "notifications.channels.owner.body: unknown variable {colour}" \
    "$T/bad.out" || fail "template: $(cat "$T/bad.out")"
pass "config errors name the profile, the channel, the path and the line"

stop_receiver
