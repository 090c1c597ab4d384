"""tlsutil - certificates for the TLS tests, made at test time with
python3-cryptography (ECDSA P-256): a CA, leaf certificates signed by it or
self-signed, expired ones, and the SPKI pin licctl --pin takes. Keys are
written 0600 into the test's own directory, never committed."""
import base64
import datetime
import hashlib
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path, key):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


class Cert:
    def __init__(self, cert, key, cert_path, key_path):
        self.cert, self.key = cert, key
        self.cert_path, self.key_path = str(cert_path), str(key_path)

    @property
    def der(self):
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def fingerprint(self):
        return hashlib.sha256(self.der).hexdigest()

    @property
    def pin(self):
        spki = self.cert.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
        return "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


def make_cert(dirpath, name, hosts=("localhost", "127.0.0.1"), ca=None, days=90, expired=False,
              is_ca=False, window=None):
    """name.pem + name.key in dirpath; signed by ca (a Cert) or self-signed.
    window: (not_before, not_after) as timedeltas from now, any validity."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    if window is not None:
        nb, na = now + window[0], now + window[1]
    elif expired:
        nb, na = now - datetime.timedelta(days=10), now - datetime.timedelta(days=1)
    else:
        nb, na = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)
    subject = _name(hosts[0] if hosts and not is_ca else name)
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(ca.cert.subject if ca else subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(nb).not_valid_after(na)
         .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    if not is_ca:
        sans = []
        for h in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                sans.append(x509.DNSName(h))
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = b.sign(ca.key if ca else key, hashes.SHA256())
    cp, kp = os.path.join(str(dirpath), name + ".pem"), os.path.join(str(dirpath), name + ".key")
    with open(cp, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(kp, key)
    return Cert(cert, key, cp, kp)


def make_ca(dirpath, name="ca"):
    return make_cert(dirpath, name, hosts=(), is_ca=True, days=365)


def client_ctx(cafile, host_check=True):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = host_check
    return ctx


def peer_fingerprint(sslsock):
    return hashlib.sha256(sslsock.getpeercert(binary_form=True)).hexdigest()
