#!/usr/bin/python3
"""smtp_sink.py - a local SMTP server for the notification tests.

It listens on 127.0.0.1:--port (aiosmtpd, Debian package python3-aiosmtpd)
and writes every message it accepts into --dir as two files:

    msg-NNNN.eml   the message exactly as received (CRLF line ends)
    msg-NNNN.json  {"mail_from": ..., "rcpt_tos": [...], "tls": bool}

The .json file is renamed into place last, so a test that counts .json
files sees only complete messages.  With --tls-cert and --tls-key it offers
STARTTLS (and with --require-tls refuses mail without it).  SIGTERM and
SIGINT stop it and exit 0.
"""

import argparse
import json
import os
import signal
import ssl
import sys
import threading

try:
    from aiosmtpd.controller import Controller
except ImportError:
    sys.stderr.write("smtp_sink: install python3-aiosmtpd\n")
    sys.exit(3)

MAX_MESSAGE = 1024 * 1024


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            n = self.n
        base = os.path.join(self.outdir, "msg-%04d" % n)
        data = envelope.original_content or b""
        with open(base + ".eml", "wb") as f:
            f.write(data)
        rec = {"mail_from": envelope.mail_from,
               "rcpt_tos": list(envelope.rcpt_tos),
               "tls": getattr(session, "ssl", None) is not None}
        with open(base + ".json.tmp", "w") as f:
            json.dump(rec, f)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 OK"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--require-tls", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    ctx = None
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
    kw = {"hostname": "127.0.0.1", "port": a.port,
          "data_size_limit": MAX_MESSAGE}
    if ctx is not None:
        kw["tls_context"] = ctx
        kw["require_starttls"] = a.require_tls
    ctl = Controller(Sink(a.dir), **kw)
    try:
        ctl.start()
    except Exception as e:  # a taken port, mostly
        sys.stderr.write("smtp_sink: cannot listen: %s\n" % e)
        sys.exit(2)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    sys.stderr.write("smtp_sink: listening on 127.0.0.1:%d\n" % a.port)
    sys.stderr.flush()
    while not done.wait(1):
        pass
    ctl.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
