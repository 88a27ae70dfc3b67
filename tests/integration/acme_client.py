"""acme_client.py - a small ACME client (RFC 8555) for protocol tests.

It does what a test needs to say exactly what goes over the wire: account
keys of every algorithm certgw accepts (ES256, ES384, RS256, EdDSA), the
flattened JWS JSON serialization with "jwk" or "kid", HS256 external
account bindings, key-rollover inner JWSs, newNonce, POST-as-GET, CSRs,
the RFC 9773 certificate identifier, and a tiny http-01 responder.  Every
request can be bent (another nonce, url, alg, content type or a raw body)
so that the server's refusals can be tested too.

Only the Python standard library and python3-cryptography (Debian).
Loopback only; every socket has a timeout.
"""

import base64
import hashlib
import hmac
import http.client
import http.server
import json
import ssl
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature)
from cryptography.x509.oid import ExtensionOID, NameOID

TIMEOUT_S = 15          # one HTTP exchange
JOSE = "application/jose+json"


def b64u(data):
    """base64url without padding (RFC 7515 section 2)."""
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canon(obj):
    """Compact JSON, keys sorted: RFC 7638 thumbprint input and payloads."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _int_bytes(n, size=None):
    if size is None:
        size = max(1, (n.bit_length() + 7) // 8)
    return n.to_bytes(size, "big")


# ---------------------------------------------------------------- keys

class Key:
    """An account (or certificate) key and the JWS algorithm it signs with."""

    def __init__(self, kind="ES256"):
        self.kind = kind
        if kind == "ES256":
            self.priv = ec.generate_private_key(ec.SECP256R1())
        elif kind == "ES384":
            self.priv = ec.generate_private_key(ec.SECP384R1())
        elif kind == "RS256":
            self.priv = rsa.generate_private_key(65537, 2048)
        elif kind == "EdDSA":
            self.priv = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError("unknown key kind " + kind)
        self.alg = kind

    def jwk(self):
        """The public JWK with its required members only."""
        pub = self.priv.public_key()
        if self.kind in ("ES256", "ES384"):
            size = 32 if self.kind == "ES256" else 48
            nums = pub.public_numbers()
            return {"kty": "EC", "crv": "P-256" if size == 32 else "P-384",
                    "x": b64u(_int_bytes(nums.x, size)),
                    "y": b64u(_int_bytes(nums.y, size))}
        if self.kind == "RS256":
            nums = pub.public_numbers()
            return {"kty": "RSA", "n": b64u(_int_bytes(nums.n)),
                    "e": b64u(_int_bytes(nums.e))}
        raw = pub.public_bytes(serialization.Encoding.Raw,
                               serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}

    def thumbprint(self):
        """RFC 7638 thumbprint: the account part of a key authorization."""
        return b64u(hashlib.sha256(canon(self.jwk()).encode()).digest())

    def sign(self, data):
        if self.kind in ("ES256", "ES384"):
            size, md = ((32, hashes.SHA256()) if self.kind == "ES256"
                        else (48, hashes.SHA384()))
            r, s = decode_dss_signature(self.priv.sign(data, ec.ECDSA(md)))
            # RFC 7518 section 3.4: r || s, each the field size.
            return _int_bytes(r, size) + _int_bytes(s, size)
        if self.kind == "RS256":
            return self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.priv.sign(data)

    def pem(self):
        return self.priv.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())


def jws(key, payload, protected, alg=None, sign_with=None):
    """A flattened JWS.  payload: an object, "" (POST-as-GET) or bytes.
    protected: the header without "alg"; alg overrides the key's;
    sign_with signs with another key than the header says."""
    hdr = dict(protected)
    hdr["alg"] = alg or key.alg
    p64 = b64u(canon(hdr))
    if isinstance(payload, (bytes, bytearray)):
        y64 = b64u(payload)
    elif payload == "":
        y64 = ""
    else:
        y64 = b64u(canon(payload))
    signing_input = (p64 + "." + y64).encode()
    sig = (sign_with or key).sign(signing_input)
    return {"protected": p64, "payload": y64, "signature": b64u(sig)}


def eab_jws(eab_kid, hmac_key_b64u, account_key, url, mac_key=None):
    """RFC 8555 section 7.3.4: HS256 over the account's JWK."""
    hdr = {"alg": "HS256", "kid": eab_kid, "url": url}
    p64 = b64u(canon(hdr))
    y64 = b64u(canon(account_key.jwk()))
    k = mac_key if mac_key is not None else b64u_decode(hmac_key_b64u)
    mac = hmac.new(k, (p64 + "." + y64).encode(), hashlib.sha256).digest()
    return {"protected": p64, "payload": y64, "signature": b64u(mac)}


# ------------------------------------------------------------ requests

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value)
        self.body = body

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        return json.loads(self.body.decode())

    def problem_type(self):
        """The problem's type without the URN prefix, or None."""
        try:
            t = self.json().get("type", "")
        except (ValueError, AttributeError):
            return None
        prefix = "urn:ietf:params:acme:error:"
        return t[len(prefix):] if t.startswith(prefix) else t

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


def links(resp, rel):
    """Link header targets with that rel."""
    out = []
    for v in resp.header_all("Link"):
        for part in v.split(","):
            part = part.strip()
            if not part.startswith("<") or ">" not in part:
                continue
            target, params = part[1:].split(">", 1)
            if 'rel="%s"' % rel in params or "rel=%s" % rel in params:
                out.append(target)
    return out


class Client:
    """One account's view of one directory.  Keeps the last nonce seen."""

    def __init__(self, directory_url, cafile, key=None):
        self.directory_url = directory_url
        self.ctx = ssl.create_default_context(cafile=cafile)
        self.key = key or Key("ES256")
        self.kid = None
        self.nonce = None
        self.dir = None

    # --- transport

    def request(self, method, url, body=None, headers=None):
        u = urllib.parse.urlsplit(url)
        path = u.path + ("?" + u.query if u.query else "")
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(
                u.hostname, u.port, context=self.ctx, timeout=TIMEOUT_S)
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port,
                                              timeout=TIMEOUT_S)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            resp = Response(r.status, r.getheaders(), data)
        finally:
            conn.close()
        n = resp.header("Replay-Nonce")
        if n:
            self.nonce = n
        return resp

    def get(self, url):
        return self.request("GET", url)

    def directory(self):
        r = self.get(self.directory_url)
        if r.status != 200:
            raise RuntimeError("directory: %r" % r)
        self.dir = r.json()
        return self.dir

    def new_nonce(self):
        if self.dir is None:
            self.directory()
        r = self.request("HEAD", self.dir["newNonce"])
        if r.status != 200 or not r.header("Replay-Nonce"):
            raise RuntimeError("newNonce: %r" % r)
        return r.header("Replay-Nonce")

    def take_nonce(self):
        n = self.nonce or self.new_nonce()
        self.nonce = None
        return n

    def post(self, url, payload, key=None, kid=None, use_jwk=None,
             nonce=None, hdr_url=None, alg=None, sign_with=None,
             extra=None, ctype=JOSE, raw=None):
        """Sign and POST.  By default with the account's kid once it has
        one, else the key's jwk.  Any part can be overridden."""
        key = key or self.key
        if raw is None:
            hdr = {"nonce": nonce if nonce is not None else
                   self.take_nonce(), "url": hdr_url or url}
            if use_jwk or (use_jwk is None and (kid or self.kid) is None):
                hdr["jwk"] = key.jwk()
            else:
                hdr["kid"] = kid or self.kid
            if extra:
                hdr.update(extra)
            raw = json.dumps(jws(key, payload, hdr, alg=alg,
                                 sign_with=sign_with)).encode()
        return self.request("POST", url, body=raw,
                            headers={"Content-Type": ctype})

    def post_as_get(self, url, **kw):
        return self.post(url, "", **kw)

    # --- account

    def new_account(self, contact=None, tos=True, eab=None,
                    only_existing=False, **kw):
        if self.dir is None:
            self.directory()
        p = {}
        if tos is not None:
            p["termsOfServiceAgreed"] = tos
        if contact is not None:
            p["contact"] = contact
        if eab is not None:
            p["externalAccountBinding"] = eab
        if only_existing:
            p["onlyReturnExisting"] = True
        r = self.post(self.dir["newAccount"], p, use_jwk=True, **kw)
        if r.status in (200, 201):
            self.kid = r.header("Location")
        return r

    def key_change(self, new_key, old_key=None, account=None, **kw):
        """RFC 8555 section 7.3.5: the inner JWS signed by new_key."""
        url = self.dir["keyChange"]
        inner = jws(new_key, {"account": account or self.kid,
                              "oldKey": (old_key or self.key).jwk()},
                    {"jwk": new_key.jwk(), "url": url})
        return self.post(url, inner_payload(inner), **kw)

    # --- orders

    def new_order(self, identifiers, **extra):
        p = {"identifiers": identifiers}
        p.update(extra)
        return self.post(self.dir["newOrder"], p)

    def poll(self, url, until, limit_s=20):
        """POST-as-GET url until its status is in until (a set)."""
        end = time.monotonic() + limit_s
        while True:
            r = self.post_as_get(url)
            if r.status != 200:
                return r
            if r.json().get("status") in until or time.monotonic() > end:
                return r
            time.sleep(0.2)

    def key_authorization(self, token):
        return token + "." + self.key.thumbprint()


def inner_payload(inner):
    """An inner JWS as the bytes of the outer payload."""
    return canon(inner).encode()


def ip_id(value="127.0.0.1"):
    return {"type": "ip", "value": value}


def dns_id(value):
    return {"type": "dns", "value": value}


# ---------------------------------------------------------------- CSRs

def csr_der(key=None, dns=(), ips=(), cn=None):
    """A DER PKCS#10 request with these SANs (EC P-256 key by default);
    returns (der, private key)."""
    import ipaddress
    priv = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name(attrs))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names),
                            critical=False)
    algo = None if isinstance(priv, ed25519.Ed25519PrivateKey) \
        else hashes.SHA256()
    req = b.sign(priv, algo)
    return req.public_bytes(serialization.Encoding.DER), priv


def pem_chain(text):
    """The certificates of a PEM chain, leaf first."""
    out, cur = [], []
    for line in text.splitlines(keepends=True):
        cur.append(line)
        if line.startswith("-----END CERTIFICATE-----"):
            out.append(x509.load_pem_x509_certificate(
                "".join(cur).encode()))
            cur = []
    return out


def cert_id(cert):
    """RFC 9773 section 4.1: base64url(AKI keyIdentifier) "."
    base64url(serial's DER INTEGER content octets)."""
    aki = cert.extensions.get_extension_for_oid(
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value.key_identifier
    n = cert.serial_number
    # DER content octets: big-endian, a leading 0 when the top bit is set.
    content = n.to_bytes((n.bit_length() + 8) // 8, "big")
    return b64u(aki) + "." + b64u(content)


# ------------------------------------------------------- http-01 responder

class Http01Responder:
    """Serves /.well-known/acme-challenge/<token> from a dict on a loopback
    port, in a thread.  Records the Host header of each request."""

    def __init__(self, port, host="127.0.0.1"):
        self.answers = {}
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                prefix = "/.well-known/acme-challenge/"
                tok = self.path[len(prefix):] \
                    if self.path.startswith(prefix) else None
                outer.seen.append((self.path, self.headers.get("Host")))
                body = outer.answers.get(tok)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.srv = http.server.ThreadingHTTPServer((host, port), Handler)
        self.srv.timeout = 1
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       kwargs={"poll_interval": 0.2},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
