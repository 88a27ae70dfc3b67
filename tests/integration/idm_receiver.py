#!/usr/bin/python3
"""idm_receiver.py - a stand-in identity-management HTTPS endpoint for the
distribution tests.

It listens with TLS on 127.0.0.1:--port and requires a client certificate
that chains to --client-ca.  Every request, whatever its method and path,
is recorded as one JSON line in --record before it is answered:

    {"time": <unix seconds, float>, "method", "path", "query",
     "headers": {<lower-case name>: <value>}, "body_b64",
     "client_subject": "CN=...,O=..."}

A plain-HTTP control interface on 127.0.0.1:--control-port lets a test
script change the answers without a client certificate:

    POST /mode      {"statuses": [500, 500, 201], "then": 201,
                     "sleep_ms": 0, "retry_after": null}
                    answer the listed statuses in order, then "then" for
                    every later request; wait sleep_ms before each answer;
                    send Retry-After: <retry_after> with non-2xx answers.
    GET  /count     number of recorded requests (text)
    GET  /in_flight_max  the most requests waiting out sleep_ms at once
                    (text): shows whether a client pushes in parallel
    GET  /requests  the recorded JSON lines
    POST /reset     forget the record and go back to the default mode
                    (201 forever, no delay, no Retry-After)

Only the Debian python3 standard library is used.  SIGTERM and SIGINT stop
both listeners and exit 0.
"""

import argparse
import base64
import http.server
import json
import os
import signal
import socketserver
import ssl
import sys
import threading
import time

# Limits on what a client may send: the gateway's real payloads are a few
# kilobytes, so anything near these is a bug worth seeing as an error.
MAX_BODY = 16 * 1024 * 1024
MAX_CHUNK_LINE = 1024
HANDSHAKE_TIMEOUT_S = 10
IDLE_TIMEOUT_S = 60
MAX_SLEEP_MS = 600000


def log(msg):
    sys.stderr.write("%s idm_receiver: %s\n" %
                     (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class BadRequest(Exception):
    def __init__(self, status, why):
        Exception.__init__(self, why)
        self.status = status


class State:
    """The record and the answer mode, shared by every handler thread."""

    def __init__(self, record_path):
        self.lock = threading.Lock()
        self.record_path = record_path
        # The record may hold Authorization headers: keep it private.
        fd = os.open(record_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        self.record = os.fdopen(fd, "w", encoding="utf-8")
        self.lines = []
        self.in_flight = 0
        self.in_flight_max = 0
        self.default_mode()

    def enter(self):
        with self.lock:
            self.in_flight += 1
            self.in_flight_max = max(self.in_flight_max, self.in_flight)

    def leave(self):
        with self.lock:
            self.in_flight -= 1

    def default_mode(self):
        self.statuses = []
        self.then = 201
        self.sleep_ms = 0
        self.retry_after = None

    def add(self, entry):
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.lines.append(line)
            self.record.write(line + "\n")
            self.record.flush()

    def next_answer(self):
        with self.lock:
            if self.statuses:
                status = self.statuses.pop(0)
            else:
                status = self.then
            return status, self.sleep_ms, self.retry_after

    def set_mode(self, m):
        if not isinstance(m, dict):
            raise BadRequest(400, "mode must be a JSON object")
        for k in m:
            if k not in ("statuses", "then", "sleep_ms", "retry_after"):
                raise BadRequest(400, "unknown mode key %r" % k)
        statuses = m.get("statuses", [])
        then = m.get("then", 201)
        sleep_ms = m.get("sleep_ms", 0)
        retry_after = m.get("retry_after")
        if not isinstance(statuses, list) or len(statuses) > 10000:
            raise BadRequest(400, "statuses must be a list")
        for s in statuses + [then]:
            if type(s) is not int or not 200 <= s <= 599:
                raise BadRequest(400, "status %r not in 200..599" % (s,))
        if type(sleep_ms) is not int or not 0 <= sleep_ms <= MAX_SLEEP_MS:
            raise BadRequest(400, "sleep_ms must be 0..%d" % MAX_SLEEP_MS)
        if retry_after is not None:
            if type(retry_after) is int and retry_after >= 0:
                retry_after = str(retry_after)
            elif (not isinstance(retry_after, str) or
                  not retry_after.isprintable() or len(retry_after) > 100):
                raise BadRequest(400, "retry_after must be seconds or a "
                                 "short date string")
        with self.lock:
            self.statuses = list(statuses)
            self.then = then
            self.sleep_ms = sleep_ms
            self.retry_after = retry_after

    def reset(self):
        with self.lock:
            self.lines = []
            self.record.seek(0)
            self.record.truncate()
            self.record.flush()
            self.in_flight_max = self.in_flight
            self.default_mode()

    def count(self):
        with self.lock:
            return len(self.lines)

    def dump(self):
        with self.lock:
            return "".join(line + "\n" for line in self.lines)


def subject_string(cert):
    """getpeercert()'s subject as "CN=a,O=b", most specific first."""
    if not cert:
        return None
    rdns = []
    for rdn in cert.get("subject", ()):
        short = {"commonName": "CN", "organizationName": "O",
                 "organizationalUnitName": "OU", "countryName": "C",
                 "localityName": "L", "stateOrProvinceName": "ST",
                 "emailAddress": "emailAddress"}
        rdns.append("+".join("%s=%s" % (short.get(k, k), v) for k, v in rdn))
    return ",".join(reversed(rdns))


class Handler(http.server.BaseHTTPRequestHandler):
    """The TLS side: records each request, then answers per the mode."""

    protocol_version = "HTTP/1.1"
    server_version = "idm-receiver/1"
    timeout = IDLE_TIMEOUT_S

    def __getattr__(self, name):
        # Every method (GET, POST, PUT, DELETE, PATCH, anything) is served
        # and recorded the same way.
        if name.startswith("do_"):
            return self.serve
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

    def read_chunked(self):
        body = bytearray()
        while True:
            line = self.rfile.readline(MAX_CHUNK_LINE + 1)
            if len(line) > MAX_CHUNK_LINE or not line.endswith(b"\n"):
                raise BadRequest(400, "bad chunk size line")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest(400, "bad chunk size")
            if size < 0 or len(body) + size > MAX_BODY:
                raise BadRequest(413, "body too large")
            if size == 0:
                break
            data = self.rfile.read(size)
            if len(data) != size:
                raise BadRequest(400, "short chunk")
            body += data
            if self.rfile.readline(MAX_CHUNK_LINE + 1) not in (b"\r\n",
                                                              b"\n"):
                raise BadRequest(400, "chunk not followed by CRLF")
        # Trailers, up to the empty line.
        for _ in range(100):
            line = self.rfile.readline(MAX_CHUNK_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                return bytes(body)
        raise BadRequest(400, "too many trailers")

    def read_body(self):
        te = self.headers.get("Transfer-Encoding")
        if te is not None:
            if te.strip().lower() != "chunked":
                raise BadRequest(501, "transfer-encoding %r" % te)
            return self.read_chunked()
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        try:
            n = int(cl)
        except ValueError:
            raise BadRequest(400, "bad Content-Length")
        if n < 0:
            raise BadRequest(400, "bad Content-Length")
        if n > MAX_BODY:
            raise BadRequest(413, "body too large")
        data = self.rfile.read(n)
        if len(data) != n:
            raise BadRequest(400, "short body")
        return data

    def answer(self, status, body, extra=()):
        # RFC 9110 6.4.1: 1xx, 204 and 304 answers have no content.
        if status in (204, 304) or status < 200:
            body = b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if status != 204 and status >= 200:
            self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def serve(self):
        try:
            body = self.read_body()
        except BadRequest as e:
            log("refused %s %s: %s" % (self.command, self.path, e))
            self.close_connection = True
            self.answer(e.status, b'{"error":"bad request"}')
            return
        path, _, query = self.path.partition("?")
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        self.server.state.add({
            "time": time.time(),
            "method": self.command,
            "path": path,
            "query": query,
            "headers": headers,
            "body_b64": base64.b64encode(body).decode("ascii"),
            "client_subject": subject_string(
                self.connection.getpeercert()),
        })
        status, sleep_ms, retry_after = self.server.state.next_answer()
        if sleep_ms:
            self.server.state.enter()
            try:
                time.sleep(sleep_ms / 1000.0)
            finally:
                self.server.state.leave()
        extra = []
        if retry_after is not None and not 200 <= status <= 299:
            extra.append(("Retry-After", retry_after))
        self.answer(status, json.dumps({"status": status}).encode(), extra)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of
    # parallel pushes; the client then waits a second to send them again.
    request_queue_size = 128

    def server_bind(self):
        # HTTPServer.server_bind() looks the address up in DNS; loopback
        # tests have no use for the name and must not wait on a resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "localhost"
        self.server_port = self.server_address[1]


class TLSServer(Server):
    """Accepts plain sockets and runs the TLS handshake in the connection's
    own thread, so a client that stalls or fails the handshake never blocks
    or stops the accept loop."""

    def __init__(self, addr, ctx, state):
        self.ctx = ctx
        self.state = state
        Server.__init__(self, addr, Handler)

    def finish_request(self, request, client_address):
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            conn = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log("TLS handshake with %s:%d failed: %s" %
                (client_address[0], client_address[1], e))
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (ssl.SSLError, OSError) as e:
            # TLS 1.3 reports a refused client certificate only once the
            # server first reads from the connection.
            log("connection from %s:%d: %s" %
                (client_address[0], client_address[1], e))
        finally:
            try:
                conn.close()
            except OSError:
                pass


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "idm-receiver-control/1"
    timeout = IDLE_TIMEOUT_S

    def log_message(self, fmt, *args):
        log("control: " + fmt % args)

    def reply(self, status, body, ctype="application/json"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        state = self.server.state
        if self.path == "/count":
            self.reply(200, "%d\n" % state.count(), "text/plain")
        elif self.path == "/in_flight_max":
            with state.lock:
                n = state.in_flight_max
            self.reply(200, "%d\n" % n, "text/plain")
        elif self.path == "/requests":
            self.reply(200, state.dump(), "application/x-ndjson")
        else:
            self.reply(404, '{"error":"no such control path"}\n')

    def do_POST(self):
        state = self.server.state
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if not 0 <= n <= 65536:
            self.close_connection = True
            self.reply(400, '{"error":"bad Content-Length"}\n')
            return
        raw = self.rfile.read(n)
        if self.path == "/mode":
            try:
                state.set_mode(json.loads(raw.decode("utf-8")))
            except (ValueError, UnicodeDecodeError) as e:
                self.reply(400, json.dumps({"error": str(e)}) + "\n")
                return
            except BadRequest as e:
                self.reply(e.status, json.dumps({"error": str(e)}) + "\n")
                return
            self.reply(200, '{"ok":true}\n')
        elif self.path == "/reset":
            state.reset()
            self.reply(200, '{"ok":true}\n')
        else:
            self.reply(404, '{"error":"no such control path"}\n')


class ControlServer(Server):
    def __init__(self, addr, state):
        self.state = state
        Server.__init__(self, addr, ControlHandler)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--control-port", type=int, required=True)
    ap.add_argument("--cert", required=True, help="server certificate PEM")
    ap.add_argument("--key", required=True, help="server key PEM")
    ap.add_argument("--client-ca", required=True,
                    help="CA certificates client certificates must chain to")
    ap.add_argument("--record", required=True, help="JSON-lines record")
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=a.client_ca)

    state = State(a.record)
    try:
        # Both listeners are bound before either serves: once the control
        # port answers, the TLS port is listening too.
        tls = TLSServer(("127.0.0.1", a.port), ctx, state)
        ctl = ControlServer(("127.0.0.1", a.control_port), state)
    except OSError as e:
        log("cannot listen: %s" % e)
        return 2

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    threads = [threading.Thread(target=s.serve_forever, daemon=True)
               for s in (tls, ctl)]
    for t in threads:
        t.start()
    log("listening on 127.0.0.1:%d (TLS), control on 127.0.0.1:%d" %
        (a.port, a.control_port))
    while not stop.wait(0.2):
        pass
    for s in (tls, ctl):
        s.shutdown()
        s.server_close()
    log("stopped after %d requests" % state.count())
    return 0


if __name__ == "__main__":
    sys.exit(main())
