#!/bin/bash
# EST channel binding (RFC 7030 §3.5): on a label with require_tls_unique the
# CSR's challengePassword must be base64 of the connection's binding --
# tls-unique on TLS 1.2 (RFC 5929; python3 ssl get_channel_binding) or
# tls-exporter on TLS 1.3 (RFC 9266; openssl s_client -keymatexport).  The
# right value is accepted, a wrong or missing one refused with 403.
. "${CERTGW_SRC:?set CERTGW_SRC to the source tree}/tests/integration/lib.sh"
need openssl openssl
need python3 python3
python3 -c 'import cryptography' 2>/dev/null ||
    fail "python3 cryptography is not installed (apt-get install python3-cryptography)"

d=$T/ca
init_ca "$d" --intermediate
pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$pw" >"$T/est.password"
hash=$("$CERTGW" passwd --iterations 1000 --password-file "$T/est.password")
json_set "$d/certgw.json" '
c["est"] = {"users": {"est": {"password_hash": "'"$hash"'"}},
  "labels": {"default": {"profile": "device"},
    "tu": {"profile": "device", "require_tls_unique": True}}}'
start_serve "$d"
base=$(cert_count "$d")

# The client: one TLS connection, a CSR made for it, one POST over it.
cat >"$T/estcb.py" <<'PY'
import base64, os, re, ssl, socket, subprocess, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, AttributeOID

mode, port, cafile, user, pw, what = sys.argv[1:7]

def csr_b64(binding):
    key = ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cb-" + mode)]))
    if what != "none":
        if what == "wrong":
            binding = bytes(len(binding))
        b = b.add_attribute(AttributeOID.CHALLENGE_PASSWORD,
                            base64.b64encode(binding))
    der = b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der)

def request(body):
    auth = base64.b64encode(f"{user}:{pw}".encode()).decode()
    return (f"POST /.well-known/est/tu/simpleenroll HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: application/pkcs10\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode() + body

def tls12():
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", int(port))) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.version() == "TLSv1.2", s.version()
            s.sendall(request(csr_b64(s.get_channel_binding("tls-unique"))))
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out
                out += chunk

def tls13():
    p = subprocess.Popen(["openssl", "s_client", "-connect",
        "127.0.0.1:" + port, "-CAfile", cafile, "-tls1_3", "-ign_eof",
        "-keymatexport", "EXPORTER-Channel-Binding", "-keymatexportlen", "32"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    for line in p.stdout:
        m = re.search(rb"Keying material: ([0-9A-F]+)", line)
        if m:
            break
    else:
        raise SystemExit("s_client printed no keying material")
    p.stdin.write(request(csr_b64(bytes.fromhex(m.group(1).decode()))))
    p.stdin.flush()
    out = p.stdout.read()
    p.wait(timeout=10)
    return out[out.find(b"HTTP/1.1 "):]

resp = tls12() if mode == "tls12" else tls13()
print(resp.split(b"\r\n", 1)[0].decode().split(" ")[1])
PY

# cb MODE WHAT: the HTTP status for one binding attempt.
cb() {
	python3 "$T/estcb.py" "$1" "$HTTPS_PORT" "$d/ca/root.pem" est "$pw" "$2" \
	    2>"$T/cb.log" || fail "client $1 $2 failed: $(cat "$T/cb.log")"
}

[ "$(cb tls12 right)" = 200 ] || fail "TLS 1.2 tls-unique refused"
pass "TLS 1.2: tls-unique in challengePassword -> 200"
[ "$(cb tls12 wrong)" = 403 ] || fail "TLS 1.2 wrong binding accepted"
pass "TLS 1.2: wrong binding -> 403"
[ "$(cb tls13 right)" = 200 ] || fail "TLS 1.3 tls-exporter refused"
pass "TLS 1.3: tls-exporter in challengePassword -> 200"
[ "$(cb tls13 wrong)" = 403 ] || fail "TLS 1.3 wrong binding accepted"
pass "TLS 1.3: wrong binding -> 403"
[ "$(cb tls12 none)" = 403 ] || fail "no challengePassword accepted"
pass "no challengePassword -> 403"

n=$(cert_count "$d")
[ "$n" = $((base + 2)) ] || fail "expected $((base + 2)) certificates, found $n"
pass "two certificates issued"
