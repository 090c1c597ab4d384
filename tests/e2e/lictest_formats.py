"""lictest_formats - an independent Python implementation of licsrv's formats.

Written from SPEC §2.1 (envelope), §2.2 (armor), §3.1 (machine code, MAC
hashes), §3.2 (RIF) and §3.3 (license) with msgpack and cryptography only, so
the end-to-end tests can cross-check the C tools rather than trust them.
Nothing here imports or calls liblic.
"""

import base64
import hashlib
import os
import re
import time

import msgpack
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

SIG_DOMAIN = b"LICSRV1 "
ENVELOPE_KEYS = {"typ", "kid", "body", "sig"}
KNOWN_TYPES = {"license", "rif", "verdict", "cert", "receipt", "account", "revocations"}
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MACHINE_DOMAIN = b"licsrv machine v1\0"
MAC_DOMAIN = b"licsrv mac v1\0"


class FormatError(ValueError):
    """The bytes are not what the spec says they must be."""


# --- keys --------------------------------------------------------------------

def raw_public(key):
    """Raw 32-byte public key of an Ed25519 private or public key object."""
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_of(pub_raw):
    """§2: the first 8 bytes of SHA-256 over the raw public key."""
    assert len(pub_raw) == 32
    return hashlib.sha256(pub_raw).digest()[:8]


def load_private_pem(path, password=None):
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise FormatError(f"{path}: not an Ed25519 private key")
    return key


def load_public_pem(path):
    with open(path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    if not isinstance(key, Ed25519PublicKey):
        raise FormatError(f"{path}: not an Ed25519 public key")
    return key


def public_pem(key):
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


# --- envelope (§2.1) -----------------------------------------------------------

def signed_message(typ, body):
    return SIG_DOMAIN + typ.encode() + b"\n" + body


def pack(obj):
    """MessagePack with str and bin kept apart (the spec's str vs bin)."""
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data):
    """Strict unpack: one object, no trailing bytes, str keys."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.exceptions.ExtraData,
            msgpack.exceptions.UnpackException) as e:
        raise FormatError(f"not MessagePack: {e}") from e


def envelope_encode(typ, kid, body, sig):
    return pack({"typ": typ, "kid": kid, "body": body, "sig": sig})


def envelope_seal(typ, body, key):
    """Sign body (bytes, or a dict to pack) as typ with an Ed25519 key."""
    if isinstance(body, dict):
        body = pack(body)
    sig = key.sign(signed_message(typ, body))
    return envelope_encode(typ, kid_of(raw_public(key)), body, sig)


class Envelope:
    def __init__(self, typ, kid, body, sig):
        self.typ, self.kid, self.body, self.sig = typ, kid, body, sig

    def verify(self, pub_raw):
        """Raise unless kid names pub_raw and the signature holds."""
        if kid_of(pub_raw) != self.kid:
            raise FormatError("kid is not the given key's")
        Ed25519PublicKey.from_public_bytes(pub_raw).verify(
            self.sig, signed_message(self.typ, self.body))

    def body_obj(self):
        """The body map; its typ must be the envelope's."""
        b = unpack(self.body)
        if not isinstance(b, dict):
            raise FormatError("body is not a map")
        if b.get("typ") != self.typ:
            raise FormatError(f"body typ {b.get('typ')!r} != envelope typ {self.typ!r}")
        return b


def envelope_decode(data):
    """§2.1 strictly: a map with exactly typ (str), kid (bin 8), body (bin),
    sig (bin 64)."""
    m = unpack(data)
    if not isinstance(m, dict) or set(m) != ENVELOPE_KEYS:
        raise FormatError(f"envelope keys are {sorted(m) if isinstance(m, dict) else type(m)}")
    typ, kid, body, sig = m["typ"], m["kid"], m["body"], m["sig"]
    if not isinstance(typ, str) or typ not in KNOWN_TYPES:
        raise FormatError(f"typ {typ!r}")
    if not isinstance(kid, bytes) or len(kid) != 8:
        raise FormatError("kid is not bin 8")
    if not isinstance(body, bytes) or not body:
        raise FormatError("body is not bin")
    if not isinstance(sig, bytes) or len(sig) != 64:
        raise FormatError("sig is not bin 64")
    return Envelope(typ, kid, body, sig)


# --- armor (§2.2) --------------------------------------------------------------

ARMOR_BEGIN = re.compile(r"^-----BEGIN LICSRV ([A-Z]+)-----$")
ARMOR_END = re.compile(r"^-----END LICSRV ([A-Z]+)-----$")


def armor_encode(typ, data, comments=()):
    b64 = base64.b64encode(data).decode()
    lines = [f"# {c}" for c in comments]
    lines.append(f"-----BEGIN LICSRV {typ.upper()}-----")
    lines += [b64[i:i + 64] for i in range(0, len(b64), 64)]
    lines.append(f"-----END LICSRV {typ.upper()}-----")
    return ("\n".join(lines) + "\n").encode()


def armor_decode(text):
    """Tolerant reader: text around the armor, CRLF, '> ' quoting, stray
    whitespace. Returns (typ, envelope bytes)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    label, chunks = None, []
    for line in text.splitlines():
        line = line.lstrip(" \t>").strip()
        if label is None:
            m = ARMOR_BEGIN.match(line)
            if m:
                label = m.group(1)
            continue
        m = ARMOR_END.match(line)
        if m:
            if m.group(1) != label:
                raise FormatError("BEGIN/END labels differ")
            return label.lower(), base64.b64decode("".join(chunks), validate=True)
        chunks.append("".join(line.split()))
    raise FormatError("no complete LICSRV armor")


def unarmor_any(data):
    """Armored text or raw MessagePack (a fixmap starts with 0x80..0x8f)."""
    if data and 0x80 <= data[0] <= 0x8F:
        return data
    return armor_decode(data)[1]


def read_envelope(path):
    with open(path, "rb") as f:
        return envelope_decode(unarmor_any(f.read()))


# --- machine identity (§3.1) --------------------------------------------------

def crockford_b32(data):
    bits = int.from_bytes(data, "big")
    nbits = len(data) * 8
    nsym = (nbits + 4) // 5
    bits <<= nsym * 5 - nbits  # zero bits pad the last symbol
    return "".join(CROCKFORD[(bits >> (5 * (nsym - 1 - i))) & 31] for i in range(nsym))


def machine_code(machine_id, product_uuid=None):
    """SHA-256("licsrv machine v1\\0" "machine-id=" ID "\\n"
    ["product_uuid=" U "\\n"]), first 10 bytes, Crockford, 4 groups of 4.

    The sources are read as liblic reads them (common/src/machine.c): first
    line, surrounding whitespace stripped, product_uuid lower-cased and left
    out when empty or unreadable."""
    h = hashlib.sha256()
    h.update(MACHINE_DOMAIN)
    h.update(b"machine-id=" + machine_id.strip().encode() + b"\n")
    if product_uuid is not None and product_uuid.strip():
        h.update(b"product_uuid=" + product_uuid.strip().lower().encode() + b"\n")
    sym = crockford_b32(h.digest()[:10])
    return "-".join(sym[i:i + 4] for i in range(0, 16, 4))


def mac_bytes(mac):
    if isinstance(mac, bytes):
        assert len(mac) == 6
        return mac
    b = bytes(int(x, 16) for x in mac.split(":"))
    assert len(b) == 6
    return b


def mac_hash(mac):
    """First 16 bytes of SHA-256("licsrv mac v1\\0" || 6 raw bytes)."""
    return hashlib.sha256(MAC_DOMAIN + mac_bytes(mac)).digest()[:16]


def mac_masked(mac):
    b = mac_bytes(mac)
    return f"{b[0]:02x}:{b[1]:02x}:{b[2]:02x}:**:**:{b[5]:02x}"


# --- bodies (§3.2, §3.3) ----------------------------------------------------------

def rif_body(code, macs, pubkey, project="proj", product="reportsrv",
             version="11.0.18", project_id=None, mode_hint="local", created=None):
    """A RIF body; macs are MAC texts or raw 6-byte values."""
    return {
        "typ": "rif",
        "created": int(time.time()) if created is None else created,
        "product": product,
        "version": version,
        "project": project,
        "project_id": project_id or os.urandom(16),
        "machine": {
            "code": code,
            "macs": [mac_hash(m) for m in macs],
            "macs_masked": [mac_masked(m) for m in macs],
        },
        "pubkey": pubkey,
        "mode_hint": mode_hint,
    }


def license_body(code, mac_hashes, mode="local", not_before=None, expires=0,
                 customer="Example Corp", project="proj", product="reportsrv",
                 major=11, features=("reports", "export"), domains=(), ports=(),
                 apps=(), max_nodes=0, node_key=None, heartbeat=7200, grace=86400,
                 rif_sha256=None, issued=None, project_id=None, license_id=None,
                 supersedes=None):
    """A license body with the keys lic_license_pack writes (common/src/license.c)."""
    now = int(time.time())
    b = {
        "typ": "license",
        "id": license_id or os.urandom(16),
        "mode": mode,
        "issued": now if issued is None else issued,
        "not_before": now - 60 if not_before is None else not_before,
        "expires": expires,
        "customer": customer,
        "project": project,
        "project_id": project_id or os.urandom(16),
        "product": product,
        "major": major,
        "features": list(features),
        "domains": list(domains),
        "ports": list(ports),
        "apps": list(apps),
        "max_nodes": max_nodes,
        "machine": {"code": code, "macs": list(mac_hashes)},
        "heartbeat": heartbeat,
        "grace": grace,
        "rif": rif_sha256 or hashlib.sha256(b"no rif").digest(),
    }
    if node_key is not None:
        b["node_key"] = node_key
    if supersedes is not None:
        b["supersedes"] = supersedes
    return b


BINDING = ("mode", "machine", "node_key", "customer", "project", "project_id", "product", "rif")


def binding_diff(prev, nxt):
    """The first field of a license's binding a successor changed, or None (§4.6)."""
    for k in BINDING:
        if prev.get(k) != nxt.get(k):
            return k
    return None


# --- public mode: account (§3.4), cert (§3.7), the verdict chain ------------------

TOKEN_RE = re.compile(r"^lsk_[A-Za-z0-9_-]{43}$")
CERT_MAX_SPAN = 825 * 86400


def new_token():
    """§3.4: 'lsk_' + base64url (no padding) of 32 random bytes."""
    return "lsk_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def token_hash(token):
    return hashlib.sha256(token.encode()).digest()


def account_body(token, capacity=5, customer="Cloud Corp", features=("reports",),
                 domains=(), ports=(), apps=(), major=0, not_before=None, expires=0,
                 heartbeat=7200, grace=86400, account_id=None, issued=None):
    """An account body with exactly the keys of §3.4 (issued: a renewal is the
    envelope of the same id with a later one; None leaves it out, as accounts
    signed before renewal existed)."""
    now = int(time.time())
    body = {
        "typ": "account",
        "id": account_id or os.urandom(16),
        "customer": customer,
        "capacity": capacity,
        "features": list(features),
        "domains": list(domains),
        "ports": list(ports),
        "apps": list(apps),
        "major": major,
        "not_before": now - 60 if not_before is None else not_before,
        "expires": expires,
        "heartbeat": heartbeat,
        "grace": grace,
        "token_hash": token_hash(token),
    }
    if issued is not None:
        body["issued"] = issued
    return body


def cert_body(pubkey, days=90, not_before=None, role="verdict", cert_id=None):
    """A cert body with exactly the keys of §3.7."""
    now = int(time.time())
    nb = now - 60 if not_before is None else not_before
    return {
        "typ": "cert",
        "id": cert_id or os.urandom(16),
        "pubkey": pubkey,
        "role": role,
        "issued": now,
        "not_before": nb,
        "expires": nb + days * 86400,
    }


def check_account(body):
    """§3.4 shape checks an independent reader makes."""
    keys = {"typ", "id", "customer", "capacity", "features", "domains", "ports", "apps",
            "major", "not_before", "expires", "heartbeat", "grace", "token_hash"}
    if not keys <= set(body):
        raise FormatError(f"account lacks {sorted(keys - set(body))}")
    if len(body["id"]) != 16 or len(body["token_hash"]) != 32:
        raise FormatError("account id / token_hash length")
    if not isinstance(body["capacity"], int) or body["capacity"] < 1:
        raise FormatError("capacity")
    if "issued" in body and (not isinstance(body["issued"], int) or body["issued"] < 1):
        raise FormatError("issued")
    return body


# --- revocation list (§3.8) -----------------------------------------------------

REVOKE_MAX_ENTRIES = 3600  # licenses + accounts + activations (liblic's LIC_REVOKE_MAX_ENTRIES)


def revocations_body(seq, licenses=(), accounts=(), activations=(), issued=None):
    """A revocation list body with exactly the six keys of §3.8: ids as 16
    bytes, activations as (product, serial) pairs."""
    return {
        "typ": "revocations",
        "seq": seq,
        "issued": issued if issued is not None else int(time.time()),
        "licenses": [bytes(i) for i in licenses],
        "accounts": [bytes(i) for i in accounts],
        "activations": [[p, s] for p, s in activations],
    }


def check_revocations(body):
    """§3.8 shape checks an independent reader makes."""
    for k in ("typ", "seq", "issued", "licenses", "accounts", "activations"):
        if k not in body:
            raise FormatError(f"revocations lacks {k}")
    if body["typ"] != "revocations":
        raise FormatError(f"typ {body['typ']!r}")
    for k in ("seq", "issued"):
        if not isinstance(body[k], int) or isinstance(body[k], bool) or body[k] < 1:
            raise FormatError(k)
    for k in ("licenses", "accounts"):
        if not isinstance(body[k], list) or any(
                not isinstance(i, bytes) or len(i) != 16 for i in body[k]):
            raise FormatError(f"{k} must be a list of 16-byte ids")
    acts = body["activations"]
    if not isinstance(acts, list) or any(
            not isinstance(a, list) or len(a) != 2 or not all(isinstance(x, int) for x in a)
            or not 0 <= a[0] <= 255 or not 0 <= a[1] <= 0xFFFFFFFF for a in acts):
        raise FormatError("activations must be [product 0..255, serial 0..2^32-1] pairs")
    if len(body["licenses"]) + len(body["accounts"]) + len(acts) > REVOKE_MAX_ENTRIES:
        raise FormatError("too many entries")
    return body


def check_cert(body, at=None):
    """§3.7: role verdict, a window of at most 825 days, never open-ended;
    at (a time) must lie inside it when given."""
    for k in ("typ", "id", "pubkey", "role", "issued", "not_before", "expires"):
        if k not in body:
            raise FormatError(f"cert lacks {k}")
    if len(body["pubkey"]) != 32 or len(body["id"]) != 16:
        raise FormatError("cert pubkey / id length")
    if body["role"] != "verdict":
        raise FormatError(f"cert role {body['role']!r}")
    if not 0 < body["expires"] - body["not_before"] <= CERT_MAX_SPAN:
        raise FormatError("cert window")
    if at is not None and not body["not_before"] <= at < body["expires"]:
        raise FormatError("time outside the cert's window")
    return body


def check_public_chain(cert_env_bytes, verdict_env_bytes, root_pubs):
    """root -> cert -> verdict on its own (§3.7): returns (cert, verdict) bodies."""
    cenv = envelope_decode(cert_env_bytes)
    if cenv.typ != "cert":
        raise FormatError(f"chain holds a {cenv.typ}, not a cert")
    pub = next((p for p in root_pubs if kid_of(p) == cenv.kid), None)
    if pub is None:
        raise FormatError("cert signed by an untrusted key")
    cenv.verify(pub)
    cert = check_cert(cenv.body_obj())
    venv = envelope_decode(verdict_env_bytes)
    if venv.typ != "verdict":
        raise FormatError("not a verdict")
    if venv.kid != kid_of(cert["pubkey"]):
        raise FormatError("verdict kid is not the cert's key")
    venv.verify(cert["pubkey"])
    verdict = venv.body_obj()
    check_cert(cert, at=verdict["time"])
    return cert, verdict
