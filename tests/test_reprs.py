"""Python reprs say what an object is, in the CLI's terms (hex serials), never its content."""

from __future__ import annotations

import os

from esign import open_envelope, seal, sign, verify
from esign.certs import TrustContext
from esign.keys.vault import Argon2Params, KeyVault
from esign.simple.credentials import CredentialStore

from .conftest import Pki

DOC = b"Tax return 2026: income 1 250 000, the secret part"


def test_records_and_reports_show_serials_in_hex(pki: Pki) -> None:
    serial = pki.ivanov_cert.serial_number
    record = pki.ca.registry.get(serial)
    assert record is not None
    assert f"serial=0x{serial:x}" in repr(record)
    assert str(serial) not in repr(record)
    report = verify(sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert)), DOC, trust=pki.trust)
    assert report.signer is not None
    assert f"serial=0x{serial:x}" in repr(report.signer)
    assert str(serial) not in repr(report)


def test_opened_envelope_repr_never_holds_the_document(pki: Pki) -> None:
    envelope = seal(DOC, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    opened = open_envelope(envelope, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert opened.content == DOC
    text = repr(opened)
    assert "secret part" not in text and f"content=<{len(DOC)} bytes>" in text
    assert "CN=Tax Service (certificate serial" in opened.intended_recipients[0]


def test_ca_trust_vault_and_credential_store_reprs(pki: Pki) -> None:
    ca = repr(pki.ca)
    assert ca.startswith("<CertificateAuthority CN=Tax Service Root CA,O=Tax Service (root):")
    assert f"{pki.ca.registry.count()} issued" in ca and "revoked>" in ca
    trust = repr(pki.trust)
    assert "anchors CN=Tax Service Root CA" in trust and "1 CRL(s)" in trust
    unchecked = TrustContext([pki.ca.certificate], check_revocation=False, name="lab")
    assert repr(unchecked).startswith("<TrustContext 'lab'") and "not checked" in repr(unchecked)
    fast = Argon2Params(iterations=1, lanes=1, memory_cost=8 * 1024)
    vault = KeyVault(":memory:", kdf=fast)
    vault.import_key("ivanov", pki.ivanov_key, "pw-1234567")
    assert repr(vault) == "<KeyVault ':memory:': 1 key(s) [ivanov]>"
    store = CredentialStore(secret_key=os.urandom(32))
    assert repr(store) == "<CredentialStore ':memory:': 0 account(s), issuer 'esign'>"
    assert "0x" not in repr(store) and "object at" not in repr(store) + repr(vault) + ca + trust
