"""``esign demo``: the taxpayer story end to end, on real files in a folder.

Ivanov signs his tax return and seals it for the tax service; the tax service opens it,
verifies the signature and learns who signed, when, that nothing changed, and the level.
Then one byte of the envelope is changed, and opening must fail.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from esign.errors import EsignError

TAX_RETURN = (
    b"Tax return 2026\nTaxpayer: Ivan Ivanov, INN 500100732259\n"
    b"Income: 1 250 000 RUB\nTax due: 162 500 RUB\n"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("demo", help="run the taxpayer story end to end")
    p.add_argument("--workdir", metavar="DIR", help="keep the files here (default: a temp dir)")
    p.set_defaults(func=cmd_demo)


def _step(number: int, text: str) -> None:
    print(f"[{number}] {text}")


def run(workdir: Path, *, kept: bool = True) -> int:
    # The whole library, imported when the demo runs (not for every ``esign`` command).
    from cryptography.hazmat.primitives.serialization import Encoding

    from esign.certs.authority import CertificateAuthority
    from esign.certs.trust import TrustContext
    from esign.envelope import open_envelope, seal
    from esign.keys.algorithms import generate_key
    from esign.keys.storage import load_key, save_key
    from esign.signing.sign import sign

    workdir.mkdir(parents=True, exist_ok=True)
    # The keys' password: $ESIGN_PASSWORD if set (so the files can be reused with the other
    # commands), else a fresh random one. Never printed.
    import secrets

    password = os.environ.get("ESIGN_PASSWORD") or secrets.token_urlsafe(16)

    _step(1, "keys: generating EC P-256 keys for Ivanov and for the tax service")
    ivanov_key, tax_key = generate_key("ec-p256"), generate_key("ec-p256")
    save_key(ivanov_key, workdir / "ivanov.key.pem", password)
    save_key(tax_key, workdir / "tax-service.key.pem", password)
    print("    saved as encrypted PKCS#8 (PBES2): ivanov.key.pem, tax-service.key.pem")

    _step(2, "certificates: a root CA issues a signing and an encryption certificate")
    ca = CertificateAuthority.create_root("CN=Tax Service Root CA,O=Tax Service")
    ivanov_cert = ca.issue(ivanov_key.public_key(), subject="CN=Ivan Ivanov", profile="signing")
    tax_cert = ca.issue(tax_key.public_key(), subject="CN=Tax Service", profile="encryption")
    for name, cert in (
        ("ca.pem", ca.certificate),
        ("ivanov.pem", ivanov_cert),
        ("tax-service.pem", tax_cert),
    ):
        (workdir / name).write_bytes(cert.public_bytes(Encoding.PEM))
    print(f"    CA: {ca.certificate.subject.rfc4514_string()}")
    print(f"    Ivanov: serial {ivanov_cert.serial_number:x} (digitalSignature, nonRepudiation)")
    print(f"    Tax Service: serial {tax_cert.serial_number:x} (keyAgreement)")

    _step(3, "signed: Ivanov signs his return (CMS SignedData, CAdES B-B attributes)")
    (workdir / "return.txt").write_bytes(TAX_RETURN)
    ivanov_key = load_key(workdir / "ivanov.key.pem", password)  # back from disk
    signed = sign(TAX_RETURN, signer=(ivanov_key, ivanov_cert), detached=False)
    (workdir / "return.p7s").write_bytes(signed)
    print(f"    return.p7s: {len(signed)} bytes")

    _step(4, "sealed: the signed return is encrypted to the tax service (AES-256-GCM, ECDH)")
    # the same sealing as `esign seal`: signed, with the intended recipients bound inside
    envelope = seal(TAX_RETURN, signer=(ivanov_key, ivanov_cert), recipients=[tax_cert])
    (workdir / "return.p7m").write_bytes(envelope)
    print(f"    return.p7m: {len(envelope)} bytes (CMS AuthEnvelopedData)")

    _step(5, "opened: the tax service decrypts with its private key")
    crl = ca.crl()  # revocation is checked by default: the CA's current CRL is the evidence
    (workdir / "ca.crl").write_bytes(crl.public_bytes(Encoding.DER))
    trust = TrustContext([ca.certificate], crls=[crl], name="tax service")
    tax_key = load_key(workdir / "tax-service.key.pem", password)
    opened = open_envelope(envelope, recipient=(tax_key, tax_cert), trust=trust)
    print(f"    document recovered, identical to the original: {opened.content == TAX_RETURN}")

    _step(6, "verified: the report on Ivanov's signature")
    for line in str(opened.report).splitlines():
        print(f"    {line}")

    _step(7, "tampered: one byte of the envelope is changed, and opening is tried again")
    tampered = bytearray(envelope)
    tampered[len(tampered) // 2] ^= 0x01
    (workdir / "return-tampered.p7m").write_bytes(bytes(tampered))
    try:
        open_envelope(bytes(tampered), recipient=(tax_key, tax_cert), trust=trust)
    except EsignError as exc:
        print(f"    opening failed, as it must: {type(exc).__name__}: {exc}")
    else:
        print("    ERROR: the tampered envelope opened")
        return 1

    files = ", ".join(sorted(os.listdir(workdir)))
    if kept:
        print(f"files kept in {workdir}: {files}")
    else:
        print(f"files made: {files} (in a temporary folder, removed now; --workdir DIR keeps them)")
    return 0 if opened.report.valid else 1


def cmd_demo(args: argparse.Namespace) -> int:
    if args.workdir:
        return run(Path(args.workdir))
    import tempfile

    with tempfile.TemporaryDirectory(prefix="esign-demo-") as tmp:
        return run(Path(tmp), kept=False)
