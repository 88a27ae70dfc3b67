#!/usr/bin/python3
"""acme_protocol.py - protocol checks of certgw's ACME server that real
clients (certbot, lego) do not make: refusals, problem types, nonces,
cross-account access, EAB, key rollover, profiles, ARI, revocation, rate
limits, CAA and manual approval.

test_acme_protocol.sh starts certgw with the directories these cases
expect (see there) and runs this script.  Each case prints "ok: <what>"
per check; a failed check ends its case with "FAIL: <case>: <what>" and
the script goes on with the next case, then exits 1 if any failed.
"""

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

import acme_client as ac

A = None                # parsed arguments
RESPONDER = None        # the http-01 responder
SEEN = []               # (url, Response) of every ACME exchange


CASE = None             # the case running
SOFT = []               # cases with a failed soft check


class Failed(Exception):
    pass


def check(cond, what, soft=False):
    """A check; a soft one that fails is reported and the case goes on
    (for checks later steps do not depend on)."""
    if not cond:
        if not soft:
            raise Failed(what)
        print("FAIL: %s: %s" % (CASE, what), flush=True)
        SOFT.append(CASE)
        return
    print("ok: " + what, flush=True)


def expect(r, status, ptype=None, detail=None, what="", soft=False):
    """r is status with problem type ptype (without the URN prefix) and a
    detail containing detail."""
    if soft:
        try:
            return expect(r, status, ptype, detail, what)
        except Failed as e:
            check(False, str(e), soft=True)
            return r
    desc = "%s: %d %s" % (what, status, ptype or "")
    if r.status != status:
        raise Failed("%s: got %r" % (desc, r))
    if ptype is not None:
        if r.header("Content-Type") != "application/problem+json":
            raise Failed("%s: content type %s" % (desc,
                                                  r.header("Content-Type")))
        if r.problem_type() != ptype:
            raise Failed("%s: got type %s (%r)" % (desc, r.problem_type(),
                                                   r))
        if r.json().get("status") != status:
            raise Failed("%s: problem status %r" % (desc,
                                                    r.json().get("status")))
    if detail is not None and detail not in r.json().get("detail", ""):
        raise Failed("%s: detail %r lacks %r" % (desc, r.json().get(
            "detail"), detail))
    print("ok: " + desc, flush=True)
    return r


# ------------------------------------------------------------ fixtures

def dir_url(name="default"):
    if name == "default":
        return A.base + "/acme/directory"
    return A.base + "/acme/" + name + "/directory"


class Recording(ac.Client):
    """A client that keeps every exchange for the header checks."""

    def request(self, method, url, body=None, headers=None):
        r = super().request(method, url, body, headers)
        SEEN.append((method, url, r))
        return r


def client(dirname="default", kind="ES256"):
    c = Recording(dir_url(dirname), A.cafile, ac.Key(kind))
    c.directory()
    return c


def account(dirname="default", kind="ES256", **kw):
    c = client(dirname, kind)
    r = c.new_account(**kw)
    if r.status != 201:
        raise Failed("newAccount in %s: %r" % (dirname, r))
    return c


def authz_of(c, order, i=0):
    r = c.post_as_get(order["authorizations"][i])
    if r.status != 200:
        raise Failed("authz: %r" % r)
    return r


def chall_of(authz, ctype):
    for ch in authz["challenges"]:
        if ch["type"] == ctype:
            return ch
    raise Failed("no %s challenge in %s" % (ctype, authz))


def new_ip_order(c, value="127.0.0.1", **extra):
    r = c.new_order([ac.ip_id(value)], **extra)
    if r.status != 201:
        raise Failed("newOrder: %r" % r)
    return r.header("Location"), r.json()


def validate(c, order, answer=None, want="valid"):
    """Answer the order's first authorization's http-01 challenge (with
    the right key authorization unless answer is given) and wait for the
    authorization to settle.  Returns the authz JSON."""
    az_url = order["authorizations"][0]
    az = authz_of(c, order).json()
    ch = chall_of(az, "http-01")
    RESPONDER.answers[ch["token"]] = (answer if answer is not None else
                                      c.key_authorization(ch["token"]))
    r = c.post(ch["url"], {})
    if r.status != 200:
        raise Failed("challenge response: %r" % r)
    r = c.poll(az_url, {"valid", "invalid"})
    az = r.json()
    if az["status"] != want:
        raise Failed("authz is %s, not %s: %s" % (az["status"], want, az))
    return az


def finalize(c, order_url, order, ips=("127.0.0.1",), dns=(), key=None):
    der, _ = ac.csr_der(key=key, ips=ips, dns=dns)
    return c.post(order["finalize"], {"csr": ac.b64u(der)})


def issue(c, order_url, order, key=None):
    """Finalize a ready order and download its chain: (certs, order)."""
    r = finalize(c, order_url, order, key=key,
                 ips=[i["value"] for i in order["identifiers"]
                      if i["type"] == "ip"],
                 dns=[i["value"] for i in order["identifiers"]
                      if i["type"] == "dns"])
    if r.status != 200:
        raise Failed("finalize: %r" % r)
    r = c.poll(order_url, {"valid", "invalid"})
    o = r.json()
    if o["status"] != "valid":
        raise Failed("order is %s: %s" % (o["status"], o))
    r = c.post_as_get(o["certificate"])
    if r.status != 200:
        raise Failed("download: %r" % r)
    return ac.pem_chain(r.body.decode()), o, r


def issued_cert(c, key=None):
    """A fresh order for 127.0.0.1 validated and issued: (leaf, chain)."""
    url, o = new_ip_order(c)
    if o["status"] == "pending":
        validate(c, o)
        o = c.poll(url, {"ready", "invalid"}).json()
    certs, _, _ = issue(c, url, o, key=key)
    return certs[0], certs


def certgw(*args):
    p = subprocess.run([A.certgw] + list(args) + ["--config", A.config],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise Failed("certgw %s: %s" % (" ".join(args), p.stderr))
    return p.stdout


def eab_new(dirname, identifiers=None):
    args = ["acme", "eab", "new", "--directory", dirname, "--json"]
    if identifiers:
        args += ["--identifiers", identifiers]
    return json.loads(certgw(*args))


def days(cert):
    return (cert.not_valid_after - cert.not_valid_before).days


def rfc3339(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


# --------------------------------------------------------------- cases

def case_directory():
    c = client()
    d = c.dir
    for k in ("newNonce", "newAccount", "newOrder", "revokeCert",
              "keyChange", "renewalInfo"):
        check(d.get(k, "").startswith(A.base + "/acme/"),
              "directory has %s under /acme/" % k)
    check(d["renewalInfo"] == A.base + "/acme/renewal-info",
          "renewalInfo is /acme/renewal-info")
    m = d.get("meta", {})
    check(m.get("termsOfService") == "https://certgw.test/tos",
          "meta.termsOfService")
    check(m.get("website") == "https://certgw.test/",
          "meta.website")
    check(m.get("caaIdentities") == ["certgw.test"], "meta.caaIdentities")
    check(m.get("externalAccountRequired") is False,
          "meta.externalAccountRequired false")
    check(m.get("profiles") == {"short": "7-day certificates"},
          "meta.profiles lists short with its description")
    e = client("eab").dir
    check(e["newAccount"] == A.base + "/acme/eab/new-account",
          "second directory's resources under /acme/eab/")
    check(e["meta"].get("externalAccountRequired") is True,
          "second directory requires EAB")
    check("termsOfService" not in e["meta"] and "profiles" not in e["meta"],
          "second directory has its own meta")
    r = c.get(A.base + "/acme/nope/directory")
    expect(r, 404, what="unknown directory")
    check(r.header("Replay-Nonce"), "404 carries a Replay-Nonce")
    r = c.request("HEAD", d["newNonce"])
    expect(r, 200, what="newNonce HEAD")
    check(r.header("Replay-Nonce") and
          r.header("Cache-Control") == "no-store",
          "newNonce HEAD: Replay-Nonce, Cache-Control no-store")
    n1 = r.header("Replay-Nonce")
    r = c.get(d["newNonce"])
    expect(r, 204, what="newNonce GET")
    check(r.header("Replay-Nonce") and r.header("Replay-Nonce") != n1 and
          r.header("Cache-Control") == "no-store",
          "newNonce GET: a different nonce, no-store")
    check(ac.links(r, "index") == [dir_url()], "newNonce Link rel=index")
    r = c.request("PUT", d["newNonce"], body=b"")
    expect(r, 405, what="PUT on newNonce")
    r = c.post(d["newOrder"], {"identifiers": [ac.ip_id()]},
               kid=A.base + "/acme/acct/nobody")
    expect(r, 400, "accountDoesNotExist", what="kid of no account")
    check(ac.links(r, "index") == [dir_url()], "error has Link rel=index")


def case_nonce():
    c = client()
    n = c.new_nonce()
    r = c.new_account(nonce=n)
    expect(r, 201, what="newAccount with a fresh nonce")
    r = c.post_as_get(c.kid, nonce=n)
    expect(r, 400, "badNonce", what="the same nonce again")
    check(r.header("Replay-Nonce") not in (None, n),
          "badNonce answer carries a fresh nonce")
    r2 = c.post_as_get(c.kid, nonce=r.header("Replay-Nonce"))
    expect(r2, 200, what="the nonce from the badNonce answer works")
    r = c.post_as_get(c.kid, nonce=ac.b64u(os.urandom(24)))
    expect(r, 400, "badNonce", what="a made-up nonce")
    r = c.post_as_get(c.kid, nonce="not base64url!")
    expect(r, 400, "badNonce", what="a nonce that is not base64url")
    # A forged request must not burn the client's nonce (RFC 8555 6.5).
    n = c.new_nonce()
    other = ac.Key("ES256")
    r = c.post_as_get(c.kid, nonce=n, sign_with=other)
    expect(r, 400, "malformed", what="kid request signed by another key")
    r = c.post_as_get(c.kid, nonce=n)
    expect(r, 200, what="its nonce still works with a good signature")
    # The same for a jwk request.
    c2 = client()
    n = c2.new_nonce()
    r = c2.new_account(nonce=n, sign_with=other)
    expect(r, 400, "malformed", what="newAccount with a bad signature")
    r = c2.new_account(nonce=n)
    expect(r, 201, what="the same nonce then creates the account")


def case_jws_refusals():
    c = account()
    r = c.post_as_get(c.kid, hdr_url=c.dir["newOrder"])
    expect(r, 403, "unauthorized", "url", what="url header of another URL")
    r = c.post_as_get(c.kid, hdr_url=c.kid + "/")
    expect(r, 403, "unauthorized", what="url header with a trailing /")
    n = client()
    for alg in ("none", "HS256"):
        r = n.new_account(alg=alg)
        expect(r, 400, "badSignatureAlgorithm",
               what="newAccount with alg %s" % alg)
    r = n.new_account(alg="ES384")
    expect(r, 400, "badSignatureAlgorithm",
           what="ES384 alg with a P-256 key")
    r = c.post_as_get(c.kid, ctype="application/json")
    expect(r, 415, "malformed", what="Content-Type application/json")
    r = c.post_as_get(c.kid, extra={"crit": ["b64"], "b64": True})
    expect(r, 400, "malformed", what="crit header")
    j = ac.jws(c.key, "", {"nonce": c.take_nonce(), "url": c.kid,
                           "kid": c.kid})
    j["header"] = {"kid": c.kid}
    r = c.post(c.kid, None, raw=json.dumps(j).encode())
    expect(r, 400, "malformed", what="flattened JWS with an unprotected "
           "header")
    # Over 64 KiB: refused before anything is created.
    big = client()
    pad = "x" * (70 * 1024)
    body = {"termsOfServiceAgreed": True, "pad": pad}
    r = big.post(big.dir["newAccount"], body, use_jwk=True)
    check(r.status in (400, 413), "oversized JWS refused (%d)" % r.status)
    if r.status == 400:
        check(r.problem_type() == "malformed", "oversized: malformed")
    r = big.new_account(only_existing=True)
    expect(r, 400, "accountDoesNotExist",
           what="nothing was created by the oversized request")


def case_new_account():
    c = client()
    r = c.new_account(contact=["mailto:ops@certgw.test"])
    expect(r, 201, what="newAccount")
    loc = r.header("Location")
    check(loc and loc.startswith(A.base + "/acme/acct/"),
          "Location is an account URL")
    j = r.json()
    check(j["status"] == "valid" and j["contact"] ==
          ["mailto:ops@certgw.test"] and j.get("termsOfServiceAgreed") is
          True and j["orders"] == loc + "/orders", "account object")
    r = c.new_account()
    expect(r, 200, what="the same key again")
    check(r.header("Location") == loc, "same Location for the same key")
    r = c.new_account(only_existing=True)
    expect(r, 200, what="onlyReturnExisting with a known key")
    check(r.header("Location") == loc, "onlyReturnExisting Location")
    r = client().new_account(only_existing=True)
    expect(r, 400, "accountDoesNotExist",
           what="onlyReturnExisting with an unknown key")
    r = client().new_account(tos=None)
    expect(r, 400, "malformed", "terms", what="ToS not agreed")
    r = client().new_account(tos=False)
    expect(r, 400, "malformed", "terms", what="ToS false")
    r = client("http").new_account(tos=None)
    expect(r, 201, what="no ToS needed where none is configured")
    r = client().new_account(contact=["tel:+15551234"])
    expect(r, 400, "unsupportedContact", what="tel: contact")
    for junk in ("mailto:junk", "mailto:a@b@c", "mailto:a@x.test?cc=b@y",
                 "mailto:"):
        r = client().new_account(contact=[junk])
        expect(r, 400, "invalidContact", what="contact %r" % junk)
    r = client().new_account(contact="mailto:a@certgw.test")
    expect(r, 400, "malformed", what="contact not an array")
    r = client().new_account(contact=["mailto:a%d@certgw.test" % i
                                      for i in range(9)])
    expect(r, 400, "invalidContact", what="nine contacts")
    for kind in ("ES256", "ES384", "RS256", "EdDSA"):
        k = account(kind=kind)
        r = k.post_as_get(k.kid)
        expect(r, 200, what="%s account: POST-as-GET its account" % kind)


def case_cross_account():
    a = account()
    b = account()
    r = a.post_as_get(a.kid, sign_with=b.key)
    expect(r, 400, "malformed", what="kid of A signed by B's key")
    r = a.post_as_get(b.kid)
    expect(r, 403, "unauthorized", what="A reads B's account")
    r = a.post_as_get(b.kid + "/orders")
    expect(r, 403, "unauthorized", what="A lists B's orders")
    burl, bo = new_ip_order(b)
    r = a.post_as_get(burl)
    expect(r, 403, "unauthorized", what="A reads B's order")
    r = a.post_as_get(bo["authorizations"][0])
    expect(r, 403, "unauthorized", what="A reads B's authz")
    az = authz_of(b, bo).json()
    ch = chall_of(az, "http-01")
    r = a.post(ch["url"], {})
    expect(r, 403, "unauthorized", what="A answers B's challenge")
    r = a.post(bo["finalize"], {"csr": ac.b64u(ac.csr_der(
        ips=["127.0.0.1"])[0])})
    expect(r, 403, "unauthorized", what="A finalizes B's order")
    r = a.post(b.kid, {"status": "deactivated"})
    expect(r, 403, "unauthorized", what="A deactivates B")
    r = b.post_as_get(b.kid)
    check(r.status == 200 and r.json()["status"] == "valid",
          "B is still valid")
    r = a.post_as_get(A.base + "/acme/order/doesnotexist")
    expect(r, 404, "malformed", what="order that does not exist")
    # An account of one directory is no account in another.
    e = client("http")
    r = e.post_as_get(e.dir["newOrder"].rsplit("/", 1)[0] + "/acct/" +
                      a.kid.rsplit("/", 1)[1], kid=a.kid, key=a.key)
    check(r.status in (400, 403), "kid of another directory refused")


def case_eab():
    c = client("eab")
    r = c.new_account()
    expect(r, 400, "externalAccountRequired", what="newAccount without EAB")
    k = eab_new("eab")
    check(k["kid"].startswith("kid-") and len(ac.b64u_decode(
        k["hmac_key"])) == 32, "certgw acme eab new --json")
    eab = ac.eab_jws(k["kid"], k["hmac_key"], c.key, c.dir["newAccount"])
    r = c.new_account(eab=eab)
    expect(r, 201, what="newAccount with EAB")
    c2 = client("eab")
    eab = ac.eab_jws(k["kid"], k["hmac_key"], c2.key, c2.dir["newAccount"])
    r = c2.new_account(eab=eab)
    expect(r, 403, "unauthorized", "already", what="EAB key reused")
    k2 = eab_new("eab")
    c3 = client("eab")
    eab = ac.eab_jws(k2["kid"], None, c3.key, c3.dir["newAccount"],
                     mac_key=b"\x00" * 32)
    r = c3.new_account(eab=eab)
    expect(r, 403, "unauthorized", what="EAB with a wrong MAC")
    eab = ac.eab_jws(k2["kid"], k2["hmac_key"], ac.Key(), c3.dir[
        "newAccount"])
    r = c3.new_account(eab=eab)
    expect(r, 403, "unauthorized", what="EAB over another key")
    eab = ac.eab_jws(k2["kid"], k2["hmac_key"], c3.key, c3.dir["newOrder"])
    r = c3.new_account(eab=eab)
    expect(r, 403, "unauthorized", what="EAB with another url")
    eab = ac.eab_jws("kid-unknown", k2["hmac_key"], c3.key,
                     c3.dir["newAccount"])
    r = c3.new_account(eab=eab)
    expect(r, 403, "unauthorized", what="EAB with an unknown kid")
    # The key is still unbound after those refusals.
    eab = ac.eab_jws(k2["kid"], k2["hmac_key"], c3.key,
                     c3.dir["newAccount"])
    r = c3.new_account(eab=eab)
    expect(r, 201, what="EAB key unspent by the refusals")
    # A key for the default directory does not open the eab one.
    kd = eab_new("default")
    c4 = client("eab")
    eab = ac.eab_jws(kd["kid"], kd["hmac_key"], c4.key,
                     c4.dir["newAccount"])
    r = c4.new_account(eab=eab)
    expect(r, 403, "unauthorized", what="EAB key of another directory")
    # --identifiers limits what the account may order.
    k3 = eab_new("eab", "allowed.certgw.test,10.9.0.0/16")
    c5 = client("eab")
    eab = ac.eab_jws(k3["kid"], k3["hmac_key"], c5.key,
                     c5.dir["newAccount"])
    expect(c5.new_account(eab=eab), 201, what="EAB with --identifiers")
    r = c5.new_order([ac.dns_id("other.certgw.test")])
    expect(r, 400, "rejectedIdentifier", what="name outside the EAB list")
    r = c5.new_order([ac.ip_id("127.0.0.1")])
    expect(r, 400, "rejectedIdentifier", what="IP outside the EAB list")
    r = c5.new_order([ac.dns_id("allowed.certgw.test")])
    expect(r, 201, what="name inside the EAB list")
    r = c5.new_order([ac.ip_id("10.9.1.2")])
    expect(r, 201, what="IP inside the EAB network")


def case_account_lifecycle():
    c = account(contact=["mailto:a@certgw.test"])
    r = c.post(c.kid, {"contact": ["mailto:b@certgw.test"]})
    expect(r, 200, what="contact update")
    check(r.json()["contact"] == ["mailto:b@certgw.test"],
          "contact updated")
    r = c.post_as_get(c.kid)
    check(r.json()["contact"] == ["mailto:b@certgw.test"],
          "contact update stored")
    r = c.post(c.kid, {"contact": ["tel:1"]})
    expect(r, 400, "unsupportedContact", what="update to tel:")
    r = c.post(c.kid, {"status": "revoked"})
    expect(r, 400, "malformed", what="status other than deactivated")
    u1, _ = new_ip_order(c)
    u2, _ = new_ip_order(c, "127.0.0.2")
    r = c.post_as_get(c.kid + "/orders")
    expect(r, 200, what="orders list")
    orders = r.json()["orders"]
    check(u1 in orders and u2 in orders and len(orders) == 2,
          "orders list has exactly the account's orders")
    r = c.post(c.kid, {"status": "deactivated"})
    expect(r, 200, what="deactivation")
    check(r.json()["status"] == "deactivated", "account deactivated")
    r = c.post_as_get(c.kid)
    expect(r, 403, "unauthorized", what="deactivated account's request")
    r = c.new_order([ac.ip_id()])
    expect(r, 403, "unauthorized", what="deactivated account's newOrder")
    r = c.new_account()
    expect(r, 403, "unauthorized", what="newAccount with its key")


def case_key_rollover():
    c = account()
    old = c.key
    new = ac.Key("ES256")
    r = c.key_change(new)
    expect(r, 200, what="key rollover")
    c.key = new
    r = c.post_as_get(c.kid, key=old)
    expect(r, 400, "malformed", what="old key after rollover")
    r = c.post_as_get(c.kid)
    expect(r, 200, what="new key after rollover")
    # To another key type: the account's algorithm changes with it.
    ed = ac.Key("EdDSA")
    expect(c.key_change(ed), 200, what="rollover to an EdDSA key")
    r = c.post_as_get(c.kid, key=new)
    expect(r, 400, "badSignatureAlgorithm", what="ES256 on an EdDSA "
           "account")
    c.key = ed
    expect(c.post_as_get(c.kid), 200, what="EdDSA key after rollover")
    new = ed
    o = ac.Client(dir_url(), A.cafile, old)
    r = o.new_account(only_existing=True)
    expect(r, 400, "accountDoesNotExist", what="old key has no account")
    n = ac.Client(dir_url(), A.cafile, new)
    r = n.new_account(only_existing=True)
    check(r.status == 200 and r.header("Location") == c.kid,
          "new key finds the account")
    other = account()
    r = c.key_change(other.key)
    expect(r, 409, "malformed", what="rollover to another account's key")
    check(r.header("Location") == other.kid,
          "409 Location names the account that has the key")
    r = c.key_change(ac.Key(), old_key=old)
    expect(r, 400, "malformed", what="rollover with a wrong oldKey")
    r = c.key_change(ac.Key(), account=other.kid)
    expect(r, 400, "malformed", what="rollover naming another account")
    r = c.post_as_get(c.kid)
    expect(r, 200, what="account key unchanged by refused rollovers")


def case_order_flow():
    c = account()
    r = c.new_order([ac.ip_id("127.0.0.1")])
    expect(r, 201, what="newOrder for an IP")
    url = r.header("Location")
    o = r.json()
    check(o["status"] == "pending" and o["identifiers"] ==
          [ac.ip_id("127.0.0.1")] and len(o["authorizations"]) == 1,
          "new order is pending with one authorization")
    r = c.post_as_get(url)
    check(r.status == 200 and r.header("Retry-After") == "1",
          "pending order has Retry-After")
    r = finalize(c, url, o)
    # RFC 8555 7.4: "a 403 (Forbidden) error" of type orderNotReady.
    expect(r, 403, "orderNotReady", what="finalize a pending order",
           soft=True)
    az = authz_of(c, o)
    check(az.header("Retry-After") == "1", "pending authz has Retry-After")
    types = sorted(ch["type"] for ch in az.json()["challenges"])
    check(types == ["http-01", "tls-alpn-01"],
          "IP authz offers http-01 and tls-alpn-01, not dns-01")
    validate(c, o)
    check(any(p.startswith("/.well-known/acme-challenge/")
              for p, _ in RESPONDER.seen), "the validator fetched http-01")
    o = c.poll(url, {"ready", "invalid"}).json()
    check(o["status"] == "ready", "order ready after validation")
    r = finalize(c, url, o, ips=["127.0.0.2"])
    expect(r, 400, "badCSR", what="CSR naming another identifier")
    r = finalize(c, url, o, ips=["127.0.0.1", "127.0.0.2"])
    expect(r, 400, "badCSR", what="CSR naming one more identifier")
    r = c.post(o["finalize"], {"csr": "AAAA"})
    expect(r, 400, "badCSR", what="CSR that is no CSR")
    r = c.post_as_get(url)
    check(r.json()["status"] == "ready", "order still ready")
    certs, o, r = issue(c, url, o)
    check(r.header("Content-Type") == "application/pem-certificate-chain",
          "certificate is application/pem-certificate-chain")
    check(len(certs) == 2, "chain is the leaf and the issuing CA")
    leaf = certs[0]
    san = leaf.extensions.get_extension_for_oid(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    check([str(i) for i in san.get_values_for_type(x509.IPAddress)] ==
          ["127.0.0.1"], "leaf names 127.0.0.1")
    check(days(leaf) == 90, "leaf is from the server profile (90 days)")
    with tempfile.TemporaryDirectory() as td:
        lp, cp = os.path.join(td, "leaf.pem"), os.path.join(td, "int.pem")
        with open(lp, "w") as f:
            f.write(r.body.decode().split("-----END CERTIFICATE-----")[0] +
                    "-----END CERTIFICATE-----\n")
        with open(cp, "w") as f:
            f.write(r.body.decode())
        p = subprocess.run(["openssl", "verify", "-CAfile", A.cafile,
                            "-untrusted", cp, lp], capture_output=True,
                           text=True, timeout=30)
        check(p.returncode == 0, "openssl verify with the served chain")
    r = finalize(c, url, o)
    expect(r, 403, "orderNotReady", what="finalize a valid order again",
           soft=True)


def case_order_refusals():
    c = account()
    url, o = new_ip_order(c)
    az = validate(c, o, answer="wrong.keyauth", want="invalid")
    ch = chall_of(az, "http-01")
    check(ch["status"] == "invalid" and ch.get("error", {}).get("type") ==
          "urn:ietf:params:acme:error:incorrectResponse",
          "wrong key authorization: challenge invalid, incorrectResponse")
    r = c.post_as_get(url)
    check(r.json()["status"] == "invalid", "order invalid")
    r = c.post_as_get(c.kid + "/orders")
    check(r.status == 200 and url not in r.json()["orders"],
          "the orders list leaves out the invalid order")
    r = c.post(ch["url"], {})
    check(r.status == 200 and r.json()["status"] == "invalid",
          "an invalid challenge is not retried")
    h = account("http")
    r = h.new_order([ac.dns_id("*.wild.certgw.test")])
    expect(r, 400, "rejectedIdentifier", "dns-01",
           what="wildcard without dns-01")
    r = c.new_order([ac.dns_id("*.wild.certgw.test")])
    expect(r, 201, what="wildcard order where dns-01 is offered")
    az = authz_of(c, r.json()).json()
    check(az.get("wildcard") is True and az["identifier"] ==
          ac.dns_id("wild.certgw.test"), "wildcard authz: wildcard true, "
          "base name")
    check([ch["type"] for ch in az["challenges"]] == ["dns-01"],
          "wildcard authz offers only dns-01")
    for bad, ptype in ((ac.ip_id("300.1.1.1"), "malformed"),
                       ({"type": "email", "value": "a@b.c"},
                        "unsupportedIdentifier"),
                       (ac.dns_id("bad..name"), "rejectedIdentifier"),
                       (ac.dns_id("a.*.certgw.test"), "rejectedIdentifier")):
        r = c.new_order([bad])
        expect(r, 400, ptype, what="identifier %s" % bad)
    r = c.new_order([])
    expect(r, 400, "malformed", what="no identifiers")
    r = c.new_order([ac.ip_id()], notAfter="2030-01-01T00:00:00Z")
    expect(r, 400, "malformed", what="notAfter")
    # Deactivating a pending authorization ends its order.
    u2, o2 = new_ip_order(c, "127.0.0.3")
    r = c.post(o2["authorizations"][0], {"status": "deactivated"})
    expect(r, 200, what="authz deactivation")
    check(r.json()["status"] == "deactivated", "authz deactivated")
    r = c.post(o2["authorizations"][0], {"status": "valid"})
    expect(r, 400, "malformed", what="authz status other than deactivated")
    r = c.post_as_get(u2)
    check(r.json()["status"] == "invalid", "its order becomes invalid")


def case_authz_reuse():
    c = account()
    u1, o1 = new_ip_order(c)
    validate(c, o1)
    r = c.new_order([ac.ip_id()])
    expect(r, 201, what="second order, same identifier")
    o2 = r.json()
    check(o2["status"] == "ready" and o2["authorizations"] ==
          o1["authorizations"], "reused: ready at once, same authz")
    n = account("http")
    u1, o1 = new_ip_order(n)
    validate(n, o1)
    r = n.new_order([ac.ip_id()])
    expect(r, 201, what="second order where authz_reuse_s is 0")
    o2 = r.json()
    check(o2["status"] == "pending" and o2["authorizations"] !=
          o1["authorizations"], "not reused: pending, a new authz")
    # A valid authorization can be deactivated; it is then not reused.
    r = c.post(o1_first_authz(c), {"status": "deactivated"})
    expect(r, 200, what="valid authz deactivated")
    r = c.new_order([ac.ip_id()])
    check(r.status == 201 and r.json()["status"] == "pending",
          "deactivated authz not reused")


def o1_first_authz(c):
    r = c.post_as_get(c.kid + "/orders")
    first = r.json()["orders"][0]
    return c.post_as_get(first).json()["authorizations"][0]


def case_profiles():
    c = account()
    r = c.new_order([ac.ip_id()], profile="nope")
    expect(r, 400, "invalidProfile", what="unknown profile")
    r = c.new_order([ac.ip_id()], profile=7)
    expect(r, 400, "malformed", what="profile not a string")
    url, o = new_ip_order(c, profile="short")
    check(o.get("profile") == "short", "order shows its profile")
    validate(c, o)
    o = c.poll(url, {"ready"}).json()
    certs, _, _ = issue(c, url, o)
    check(days(certs[0]) == 7, "short profile: 7-day certificate")
    url, o = new_ip_order(c)
    check("profile" not in o, "order without a profile shows none")
    certs, _, _ = issue(c, url, o)
    check(days(certs[0]) == 90, "default: 90-day certificate")


def case_ari():
    c = account()
    leaf, _ = issued_cert(c)
    cid = ac.cert_id(leaf)
    r = c.get(c.dir["renewalInfo"] + "/" + cid)
    expect(r, 200, what="renewalInfo GET")
    w = r.json()["suggestedWindow"]
    nb = leaf.not_valid_before.replace(
        tzinfo=datetime.timezone.utc).timestamp()
    na = leaf.not_valid_after.replace(
        tzinfo=datetime.timezone.utc).timestamp()
    s, e = rfc3339(w["start"]), rfc3339(w["end"])
    # The window starts where `certgw cert list` calls the certificate
    # update-needed (the profile's renew_before_days) and ends half-way
    # from there to notAfter.
    shown = json.loads(certgw("cert", "show", "--json",
                              "%x" % leaf.serial_number))
    ra = rfc3339(shown["renew_after"])
    check(abs(s - ra) <= 1, "window starts at renew_after (%s), not %s" %
          (shown["renew_after"], w["start"]))
    check(abs(s - (na - 30 * 86400)) <= 2,
          "window starts renew_before_days (30) before notAfter")
    check(abs(e - (s + (na - s) / 2)) <= 2 and nb < s < e < na,
          "window ends half-way from its start to notAfter")
    check(r.header("Retry-After") and int(r.header("Retry-After")) > 0,
          "renewalInfo has Retry-After")
    r = c.get(c.dir["renewalInfo"] + "/" + cid.split(".")[0] + ".AQID")
    expect(r, 404, what="renewalInfo of an unknown serial")
    r = c.get(c.dir["renewalInfo"] + "/" + "AAAA." + cid.split(".")[1])
    expect(r, 404, what="renewalInfo of another CA's key id")
    r = c.get(c.dir["renewalInfo"] + "/notanid")
    expect(r, 400, "malformed", what="renewalInfo of junk")
    other = account()
    r = other.new_order([ac.ip_id()], replaces=cid)
    expect(r, 403, "unauthorized", what="replaces another account's cert")
    r = c.new_order([ac.ip_id()], replaces=cid)
    expect(r, 201, what="newOrder replacing the certificate")
    check(r.json().get("replaces") == cid,
          "order shows replaces as the certID (%s), not %r" %
          (cid, r.json().get("replaces")), soft=True)
    r = c.new_order([ac.ip_id()], replaces=cid)
    expect(r, 409, "alreadyReplaced", what="a second replacing order")
    r = c.post(c.dir["revokeCert"], {"certificate": ac.b64u(
        leaf.public_bytes(ac.serialization.Encoding.DER))})
    expect(r, 200, what="revoke the certificate")
    r = c.get(c.dir["renewalInfo"] + "/" + cid)
    w = r.json()["suggestedWindow"]
    check(rfc3339(w["end"]) < time.time(),
          "after revocation the window is in the past")


def crl_serials():
    with urllib.request.urlopen(A.crl_url, timeout=10) as f:
        crl = x509.load_der_x509_crl(f.read())
    return {e.serial_number for e in crl}


def case_revoke():
    c = account()
    ck = ac.Key("ES256")
    leaf1, _ = issued_cert(c)
    leaf2, _ = issued_cert(c, key=ck.priv)
    leaf3, _ = issued_cert(c)
    der = lambda x: ac.b64u(x.public_bytes(ac.serialization.Encoding.DER))
    other = account()
    r = other.post(other.dir["revokeCert"], {"certificate": der(leaf1)})
    expect(r, 403, "unauthorized", what="revocation by another account")
    r = other.post(other.dir["revokeCert"], {"certificate": der(leaf1)},
                   key=ck, use_jwk=True)
    expect(r, 403, "unauthorized", what="revocation by another cert's key")
    r = c.post(c.dir["revokeCert"], {"certificate": der(leaf1),
                                     "reason": 7})
    expect(r, 400, "badRevocationReason", what="reason 7")
    r = c.post(c.dir["revokeCert"], {"certificate": der(leaf1),
                                     "reason": 1})
    expect(r, 200, what="revocation by the account")
    r = c.post(c.dir["revokeCert"], {"certificate": der(leaf1)})
    expect(r, 400, "alreadyRevoked", what="revoked again")
    cl = ac.Client(dir_url(), A.cafile, ck)
    cl.directory()
    r = cl.post(cl.dir["revokeCert"], {"certificate": der(leaf2)},
                use_jwk=True)
    expect(r, 200, what="revocation signed by the certificate's key")
    r = c.post(c.dir["revokeCert"], {"certificate": "AAAA"})
    expect(r, 400, "malformed", what="revocation of junk")
    end = time.monotonic() + 15
    while True:
        s = crl_serials()
        if {leaf1.serial_number, leaf2.serial_number} <= s or \
                time.monotonic() > end:
            break
        time.sleep(0.5)
    check(leaf1.serial_number in s and leaf2.serial_number in s,
          "both revoked serials are in the CRL")
    check(leaf3.serial_number not in s, "the unrevoked one is not")


def case_rate_limits():
    c = account("lim")
    for i in range(2):
        r = c.new_order([ac.ip_id("127.0.0.%d" % (i + 1))])
        expect(r, 201, what="order %d under orders_per_account 2" % (i + 1))
    r = c.new_order([ac.ip_id("127.0.0.3")])
    expect(r, 429, "rateLimited", what="third order")
    check(r.header("Retry-After") and int(r.header("Retry-After")) > 0,
          "rateLimited has Retry-After")
    for i in range(2):
        r = client("acctlim").new_account()
        expect(r, 201, what="account %d under accounts_per_ip 2" % (i + 1))
    r = client("acctlim").new_account()
    expect(r, 429, "rateLimited", what="third account from this address")
    check(r.header("Retry-After"), "accounts rateLimited has Retry-After")
    f = account("faillim")
    url, o = new_ip_order(f)
    validate(f, o, answer="nope", want="invalid")
    r = f.new_order([ac.ip_id()])
    expect(r, 429, "rateLimited", "failed", what="after a failed "
           "validation with failed_validations 1")


def dns_ctl(method, path, obj):
    req = urllib.request.Request(
        "http://127.0.0.1:%d%s" % (A.dns_ctl, path), method=method,
        data=json.dumps(obj).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as f:
        f.read()


def caa_order(c, name, want):
    r = c.new_order([ac.dns_id(name)])
    if r.status != 201:
        raise Failed("newOrder %s: %r" % (name, r))
    o = r.json()
    return validate(c, o, want=want)


def case_caa():
    if A.dns_ctl is None:
        raise Failed("no DNS stub (tests/integration/dns_stub.py)")
    c = account("caa")
    dns_ctl("POST", "/caa", {"name": "other.caa.test", "flags": 0,
                             "tag": "issue", "value": "other-ca.test"})
    az = caa_order(c, "other.caa.test", "invalid")
    ch = chall_of(az, "http-01")
    check(ch.get("error", {}).get("type") ==
          "urn:ietf:params:acme:error:caa", "CAA for another CA: caa")
    dns_ctl("POST", "/caa", {"name": "ours.caa.test", "flags": 0,
                             "tag": "issue", "value": "certgw.test"})
    caa_order(c, "ours.caa.test", "valid")
    print("ok: CAA naming certgw.test: valid", flush=True)
    dns_ctl("POST", "/caa", {"name": "acct.caa.test", "flags": 0,
                             "tag": "issue", "value":
                             "certgw.test; accounturi=" + A.base +
                             "/acme/caa/acct/someoneelse"})
    az = caa_order(c, "acct.caa.test", "invalid")
    check(chall_of(az, "http-01").get("error", {}).get("type") ==
          "urn:ietf:params:acme:error:caa", "CAA accounturi mismatch: caa")
    dns_ctl("POST", "/caa", {"name": "me.caa.test", "flags": 0,
                             "tag": "issue", "value":
                             "certgw.test; accounturi=" + c.kid})
    caa_order(c, "me.caa.test", "valid")
    print("ok: CAA accounturi of this account: valid", flush=True)


def case_dns01():
    if A.dns_ctl is None:
        raise Failed("no DNS stub (tests/integration/dns_stub.py)")
    c = account()
    r = c.new_order([ac.dns_id("*.d01.certgw.test")])
    expect(r, 201, what="wildcard order")
    url, o = r.header("Location"), r.json()
    az = authz_of(c, o).json()
    ch = chall_of(az, "dns-01")
    digest = ac.b64u(hashlib.sha256(c.key_authorization(
        ch["token"]).encode()).digest())
    dns_ctl("POST", "/txt", {"name": "_acme-challenge.d01.certgw.test",
                             "value": digest})
    expect(c.post(ch["url"], {}), 200, what="dns-01 response")
    az = c.poll(o["authorizations"][0], {"valid", "invalid"}).json()
    check(az["status"] == "valid", "dns-01 with the right TXT: valid")
    o = c.poll(url, {"ready", "invalid"}).json()
    certs, _, _ = issue(c, url, o)
    san = certs[0].extensions.get_extension_for_oid(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    check(san.get_values_for_type(x509.DNSName) == ["*.d01.certgw.test"],
          "wildcard certificate issued after dns-01")
    r = c.new_order([ac.dns_id("bad.d01.certgw.test")])
    o = r.json()
    ch = chall_of(authz_of(c, o).json(), "dns-01")
    dns_ctl("POST", "/txt", {"name": "_acme-challenge.bad.d01.certgw.test",
                             "value": ac.b64u(b"\0" * 32)})
    expect(c.post(ch["url"], {}), 200, what="dns-01 response, wrong TXT")
    az = c.poll(o["authorizations"][0], {"valid", "invalid"}).json()
    ch = chall_of(az, "dns-01")
    check(az["status"] == "invalid" and ch.get("error", {}).get("type") ==
          "urn:ietf:params:acme:error:incorrectResponse",
          "dns-01 with a wrong TXT: invalid, incorrectResponse")
    # http-01 for a DNS name: the stub's A record points at the responder.
    r = c.new_order([ac.dns_id("web.certgw.test")])
    expect(r, 201, what="order for a DNS name")
    validate(c, r.json())
    print("ok: http-01 for a DNS name resolved by the configured resolver",
          flush=True)


def pending_id():
    rows = json.loads(certgw("pending", "list", "--json"))
    rows = [x for x in rows if x["protocol"] == "acme"]
    if not rows:
        raise Failed("no waiting acme pending row")
    return str(max(x["id"] for x in rows))


def case_manual():
    c = account("manual")
    url, o = new_ip_order(c)
    validate(c, o)
    o = c.poll(url, {"ready"}).json()
    r = finalize(c, url, o)
    expect(r, 200, what="finalize under manual approval")
    check(r.json()["status"] == "processing" and
          r.header("Retry-After") == "1",
          "order processing with Retry-After")
    time.sleep(0.5)
    r = c.post_as_get(url)
    check(r.json()["status"] == "processing" and "certificate" not in
          r.json(), "still processing while waiting")
    certgw("pending", "approve", pending_id())
    r = c.post_as_get(url)
    o = r.json()
    check(o["status"] == "valid" and "certificate" in o,
          "approved: order valid")
    r = c.post_as_get(o["certificate"])
    check(r.status == 200 and len(ac.pem_chain(r.body.decode())) >= 1,
          "approved certificate downloads")
    # The authorization is reused: ready at once.
    url, o = new_ip_order(c)
    check(o["status"] == "ready", "second order ready (authz reused)")
    expect(finalize(c, url, o), 200,
           what="second finalize under manual approval")
    certgw("pending", "reject", pending_id())
    r = c.post_as_get(url)
    check(r.json()["status"] == "invalid", "rejected: order invalid")


def case_headers():
    """Every ACME answer of a known directory had a nonce and the Link."""
    bad = []
    for method, url, r in SEEN:
        # 405 for PUT comes from the gateway's route, before ACME.
        if "/acme/nope/" in url or method not in ("GET", "HEAD", "POST"):
            continue
        if not r.header("Replay-Nonce"):
            bad.append("%s %s %d: no Replay-Nonce" % (method, url, r.status))
        idx = ac.links(r, "index")
        if len(idx) != 1 or not idx[0].endswith("/directory"):
            bad.append("%s %s %d: Link %r" % (method, url, r.status,
                                              r.header_all("Link")))
    check(not bad, "all %d answers had Replay-Nonce and Link rel=index%s" %
          (len(SEEN), "" if not bad else ": " + "; ".join(bad[:5])))


CASES = [case_directory, case_nonce, case_jws_refusals, case_new_account,
         case_cross_account, case_eab, case_account_lifecycle,
         case_key_rollover, case_order_flow, case_order_refusals,
         case_authz_reuse, case_profiles, case_ari, case_revoke,
         case_rate_limits, case_dns01, case_caa, case_manual, case_headers]


def main():
    global A, RESPONDER, CASE
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--crl-url", required=True)
    p.add_argument("--certgw", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--dns-ctl", type=int)
    p.add_argument("--only", nargs="*")
    A = p.parse_args()
    RESPONDER = ac.Http01Responder(A.http_port)
    failed = []
    try:
        for case in CASES:
            name = case.__name__[5:]
            if A.only and name not in A.only:
                continue
            print("--- " + name, flush=True)
            CASE = name
            try:
                case()
            except Failed as e:
                failed.append(name)
                print("FAIL: %s: %s" % (name, e), flush=True)
            except Exception:
                failed.append(name)
                print("FAIL: %s: exception" % name, flush=True)
                traceback.print_exc()
    finally:
        RESPONDER.close()
    failed += [x for x in dict.fromkeys(SOFT) if x not in failed]
    print("cases: %d failed: %s" % (len(failed), " ".join(failed) or "-"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
