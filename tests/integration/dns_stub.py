#!/usr/bin/python3
"""dns_stub.py - an authoritative-for-everything DNS server for the ACME
tests, with an HTTP control API for dns-01 TXT records and CAA records.

DNS (UDP and TCP) on 127.0.0.1:--port:
  A      --a-address (default 127.0.0.1) for any name
  AAAA   none (NOERROR, empty answer), so clients use IPv4
  SOA    for any name: every name is its own zone apex, so a client
         looking for the zone (lego's propagation check) stops there
  NS     localhost. for any name
  TXT    from the table (POST /txt)
  CAA    from the table (POST /caa)
  any name equal to or under --nx-suffix: NXDOMAIN

Control API (HTTP) on 127.0.0.1:--control-port, for the tests and for
certbot manual hooks or lego's exec provider through curl:
  POST   /txt   {"name": "_acme-challenge.example.test", "value": "..."}
  DELETE /txt?name=...[&value=...]     one value, or all of the name's
  POST   /caa   {"name": "...", "flags": 0, "tag": "issue", "value": "..."}
  DELETE /caa?name=...
  GET    /healthz

Prints "ready" on stdout once both are listening.  Malformed packets and
requests are ignored or refused; the tables and bodies are bounded.
"""
import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from dnslib import CAA, NS, QTYPE, RCODE, RR, SOA, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

RECORDS_MAX = 10000     # TXT plus CAA records held
BODY_MAX = 16 * 1024    # control request body bytes
NAME_MAX = 253
VALUE_MAX = 1024        # a TXT or CAA value
TTL = 60

lock = threading.Lock()
txt = {}                # name -> [value, ...]
caa = {}                # name -> [(flags, tag, value), ...]


def norm(name):
    """Names compare lower-case, without the trailing dot."""
    return str(name).rstrip(".").lower()


def count():
    return sum(map(len, txt.values())) + sum(map(len, caa.values()))


class Resolver(BaseResolver):
    def __init__(self, a_address, nx_suffix):
        self.a_address = a_address
        self.nx = norm(nx_suffix) if nx_suffix else None

    def resolve(self, request, handler):
        reply = request.reply()
        q = request.q
        name = norm(q.qname)
        if self.nx and (name == self.nx or name.endswith("." + self.nx)):
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if q.qtype == QTYPE.A:
            reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(self.a_address),
                                ttl=TTL))
        elif q.qtype == QTYPE.SOA:
            reply.add_answer(RR(q.qname, QTYPE.SOA, ttl=TTL, rdata=SOA(
                "localhost.", "hostmaster.localhost.",
                (1, 3600, 600, 86400, TTL))))
        elif q.qtype == QTYPE.NS:
            reply.add_answer(RR(q.qname, QTYPE.NS, rdata=NS("localhost."),
                                ttl=TTL))
        elif q.qtype == QTYPE.TXT:
            with lock:
                values = list(txt.get(name, []))
            for v in values:
                # One record; its value split in 255-byte strings.
                b = v.encode()
                parts = [b[i:i + 255] for i in range(0, len(b), 255)]
                reply.add_answer(RR(q.qname, QTYPE.TXT,
                                    rdata=TXT(parts or [b""]), ttl=TTL))
        elif q.qtype == QTYPE.CAA:
            with lock:
                recs = list(caa.get(name, []))
            for flags, tag, value in recs:
                reply.add_answer(RR(q.qname, QTYPE.CAA,
                                    rdata=CAA(flags, tag, value), ttl=TTL))
        return reply


class Control(BaseHTTPRequestHandler):
    server_version = "dns_stub"

    def log_message(self, fmt, *args):
        sys.stderr.write("dns_stub: " + (fmt % args) + "\n")

    def reply(self, status, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if n < 0 or n > BODY_MAX:
            return None
        try:
            obj = json.loads(self.rfile.read(n) or b"null")
        except (ValueError, UnicodeDecodeError):
            return None
        return obj if isinstance(obj, dict) else None

    def name_arg(self, value):
        if not isinstance(value, str) or not 0 < len(value) <= NAME_MAX:
            return None
        return norm(value)

    def do_GET(self):
        if urlsplit(self.path).path == "/healthz":
            return self.reply(200, {"ok": True})
        self.reply(404, {"error": "not found"})

    def do_POST(self):
        path = urlsplit(self.path).path
        obj = self.body()
        if obj is None or path not in ("/txt", "/caa"):
            return self.reply(400, {"error": "bad request"})
        name = self.name_arg(obj.get("name"))
        value = obj.get("value")
        if name is None or not isinstance(value, str) or \
                len(value) > VALUE_MAX:
            return self.reply(400, {"error": "bad name or value"})
        if path == "/caa":
            flags, tag = obj.get("flags", 0), obj.get("tag")
            if not isinstance(flags, int) or not 0 <= flags <= 255 or \
                    not isinstance(tag, str) or not 0 < len(tag) <= 15 or \
                    not tag.isalnum():
                return self.reply(400, {"error": "bad flags or tag"})
        with lock:
            if count() >= RECORDS_MAX:
                return self.reply(507, {"error": "table full"})
            if path == "/txt":
                txt.setdefault(name, []).append(value)
            else:
                caa.setdefault(name, []).append((flags, tag, value))
        self.reply(200, {"ok": True})

    def do_DELETE(self):
        u = urlsplit(self.path)
        args = parse_qs(u.query)
        name = self.name_arg((args.get("name") or [None])[0])
        if name is None or u.path not in ("/txt", "/caa"):
            return self.reply(400, {"error": "bad request"})
        value = (args.get("value") or [None])[0]
        with lock:
            if u.path == "/caa":
                caa.pop(name, None)
            elif value is None:
                txt.pop(name, None)
            else:
                left = [v for v in txt.get(name, []) if v != value]
                if left:
                    txt[name] = left
                else:
                    txt.pop(name, None)
        self.reply(200, {"ok": True})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=5353)
    ap.add_argument("--control-port", type=int, default=8053)
    ap.add_argument("--a-address", default="127.0.0.1")
    ap.add_argument("--nx-suffix", default="nx.test",
                    help="answer NXDOMAIN for this name and those under it")
    args = ap.parse_args()

    resolver = Resolver(args.a_address, args.nx_suffix)
    # Errors (malformed packets among them) to stderr; no per-query lines.
    logger = DNSLogger(log="-request,-reply,-truncated,-recv,-send,-data",
                       prefix=False,
                       logf=lambda s: sys.stderr.write(s + "\n"))
    servers = [DNSServer(resolver, port=args.port, address="127.0.0.1",
                         logger=logger, tcp=tcp) for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    control = ThreadingHTTPServer(("127.0.0.1", args.control_port), Control)
    print("ready", flush=True)
    try:
        control.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    main()
