#!/usr/bin/python3
"""Regenerate the seed corpus of fuzz_envelope (deterministic: fixed times,
ids and keys; Ed25519 signatures are deterministic). Run from the source
tree: /usr/bin/python3 tests/fuzz/make_corpus_envelope.py"""
import hashlib
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SRC = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SRC / "tests/e2e"))
import lictest_formats as lf  # noqa: E402

OUT = SRC / "tests/fuzz/corpus/fuzz_envelope"
T = 1767225600  # 2026-01-01
root = lf.load_private_pem(SRC / "keys/test/test-root.pem")
inst = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"fuzz instance").digest())
code = lf.machine_code("0123456789abcdef0123456789abcdef")
macs = ["52:54:00:12:34:56", "3c:ec:ef:10:20:3f"]

rif = lf.rif_body(code, macs, lf.raw_public(inst), created=T, project_id=bytes(range(16)))
rif_env = lf.envelope_seal("rif", rif, inst)
lic = lf.license_body(code, [lf.mac_hash(m) for m in macs], not_before=T, issued=T,
                      expires=T + 365 * 86400, domains=["reports.example.com", "*.example.org"],
                      ports=[443, 8443], apps=["finance"], license_id=bytes(16),
                      project_id=bytes(range(16)), rif_sha256=hashlib.sha256(lf.pack(rif)).digest())
lic_env = lf.envelope_seal("license", lic, root)
priv = dict(lic, mode="private", node_key=lf.raw_public(inst), max_nodes=5)
priv_env = lf.envelope_seal("license", priv, root)
armored = lf.armor_encode("license", lic_env, ["licsrv license", "customer: Example Corp"])
mail = b"Hello,\r\n\r\n" + b"".join(b"> " + ln + b"\r\n" for ln in armored.splitlines()) + b"bye"

files = {
    "license.raw": lic_env,
    "license.armor": armored,
    "license-private.raw": priv_env,
    "license-mail.txt": mail,
    "rif.raw": rif_env,
    "rif.armor": lf.armor_encode("rif", rif_env, ["registration information"]),
    "license-body.mp": lf.pack(lic),
    "rif-body.mp": lf.pack(rif),
}
rev = lf.revocations_body(3, [bytes(16)], [bytes(range(16))], [(7, 4242), (255, 0xFFFFFFFF)],
                          issued=T)
rev_env = lf.envelope_seal("revocations", rev, root)
files["revocations-body.mp"] = lf.pack(rev)
files["revocations.raw"] = rev_env
files["revocations.armor"] = lf.armor_encode("revocations", rev_env, ["revocation list seq 3"])
OUT.mkdir(parents=True, exist_ok=True)
for name, data in files.items():
    (OUT / name).write_bytes(data)
print(f"wrote {len(files)} seeds to {OUT}")
