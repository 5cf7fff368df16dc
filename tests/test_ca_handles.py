"""A CA and a TSA whose keys stay in the KeyVault: certificates, CRLs, OCSP responses and
time-stamp tokens are signed through the key handle, and the openssl command line accepts
every one of them. (The same on a SoftHSM2 token: tests/test_pkcs11.py.)"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from esign import open_envelope, seal, sign, verify
from esign.certs import CertificateAuthority, TrustContext
from esign.certs.revocation import read_ocsp_response
from esign.errors import EsignError
from esign.keys import LocalKey, generate_key
from esign.keys.vault import Argon2Params, KeyVault
from esign.signing.timestamps import TimeStampAuthority

from .conftest import run
from .test_envelope_handles import _NoExport

FAST = Argon2Params(iterations=1, lanes=1, memory_cost=8 * 1024)
PEM = serialization.Encoding.PEM
DOC = b"Tax return 2026"


def _write(path: Path, *items: x509.Certificate | x509.CertificateRevocationList) -> Path:
    path.write_bytes(b"".join(item.public_bytes(PEM) for item in items))
    return path


@pytest.mark.parametrize("algorithm", ["ec-p256", "ec-p384", "rsa-3072", "ed25519", "ml-dsa-65"])
def test_ca_key_in_the_vault_issues_crls_and_ocsp(
    algorithm: str, openssl: str, tmp_path: Path
) -> None:
    with KeyVault(":memory:", kdf=FAST) as vault:
        vault.import_key("ca", generate_key(algorithm), "ca password")
        with vault.unlock("ca", "ca password") as handle:
            guarded = _NoExport(handle)
            ca = CertificateAuthority.create_root("CN=Vault CA", key=guarded)  # type: ignore[arg-type]
            user_key = generate_key("ec-p256")
            user = ca.issue(user_key.public_key(), subject="CN=Ivan Ivanov", profile="signing")
            dropped = ca.issue(generate_key("ec-p256").public_key(), subject="CN=Dropped")
            ca.revoke(dropped, "keyCompromise")
            crl = ca.crl()
            request = (
                ocsp.OCSPRequestBuilder()
                .add_certificate(dropped, ca.certificate, hashes.SHA256())
                .build()
                .public_bytes(serialization.Encoding.DER)
            )
            answer = ca.ocsp_response(request)
    # cryptography itself checks each signature against the CA's public key
    assert user.verify_directly_issued_by(ca.certificate) is None
    assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
    if algorithm != "ml-dsa-65":  # esign's OCSP reader checks EC, RSA and Ed25519 only
        status = read_ocsp_response(answer, issuer=ca.certificate, serial=dropped.serial_number)
        assert status.status.value == "revoked"
    if (
        algorithm == "ml-dsa-65"
        and run(openssl, "list", "-signature-algorithms").stdout.find(b"ML-DSA-65") < 0
    ):
        return  # openssl before 3.5 has no ML-DSA
    ca_pem = _write(tmp_path / "ca.pem", ca.certificate)
    crl_pem = _write(tmp_path / "ca.crl", crl)
    checked = ["verify", "-crl_check", "-CAfile", ca_pem, "-CRLfile", crl_pem]
    assert run(openssl, *checked, _write(tmp_path / "u.pem", user)).returncode == 0
    refused = run(openssl, *checked, _write(tmp_path / "d.pem", dropped))
    assert refused.returncode != 0 and b"revoked" in refused.stdout + refused.stderr
    crl_check = run(openssl, "crl", "-in", crl_pem, "-CAfile", ca_pem, "-noout")
    assert crl_check.returncode == 0 and b"verify OK" in crl_check.stderr, crl_check.stderr
    (tmp_path / "req.der").write_bytes(request)
    (tmp_path / "resp.der").write_bytes(answer)
    ocsp_check = run(
        openssl, "ocsp", "-reqin", tmp_path / "req.der", "-respin", tmp_path / "resp.der",
        "-CAfile", ca_pem, "-issuer", ca_pem,
    )  # fmt: skip
    assert ocsp_check.returncode == 0, ocsp_check.stderr
    assert b"Response verify OK" in ocsp_check.stderr


def test_a_handle_that_signs_with_another_key_is_caught() -> None:
    """The result is checked against the handle's own public key before it is returned."""

    class Liar(LocalKey):
        def public_key(self):  # type: ignore[no-untyped-def]
            return generate_key("ec-p256").public_key()

    honest = CertificateAuthority.create_root("CN=Honest")
    liar = Liar(generate_key("ec-p256"))

    class Wrapped:  # not a LocalKey: goes through the handle path
        algorithm = "ec-p256"

        def public_key(self):  # type: ignore[no-untyped-def]
            return liar.public_key()

        def sign(self, data: bytes, **kw: object) -> bytes:
            return liar.sign(data, **kw)  # type: ignore[arg-type]

        def decrypt(self, *a: object, **kw: object) -> bytes:
            raise NotImplementedError

        exchange = decapsulate = decrypt

    ca = CertificateAuthority(Wrapped(), honest.certificate)  # type: ignore[arg-type]
    with pytest.raises(EsignError, match="does not verify"):
        ca.issue(generate_key("ec-p256").public_key(), subject="CN=X")


def test_ca_and_tsa_keys_in_the_vault_the_whole_story(tmp_path: Path) -> None:
    """Library: the CA and TSA keys live in the vault, so does the taxpayer's; a B-T
    signature with a token from the vault-held TSA verifies, with the vault CA's CRL."""
    with KeyVault(tmp_path / "service.vault", kdf=FAST) as vault:
        vault.import_key("ca", generate_key("ec-p384"), "ca pw")
        vault.import_key("tsa", generate_key("ec-p256"), "tsa pw")
        vault.import_key("ivanov", generate_key("ec-p256"), "ivanov pw")
        vault.import_key("tax", generate_key("x25519"), "tax pw")
        with (
            vault.unlock("ca", "ca pw") as ca_key,
            vault.unlock("tsa", "tsa pw") as tsa_key,
            vault.unlock("ivanov", "ivanov pw") as ivanov,
            vault.unlock("tax", "tax pw") as tax,
        ):
            ca = CertificateAuthority.create_root("CN=Service CA", key=_NoExport(ca_key))  # type: ignore[arg-type]
            tsa_cert = ca.issue(tsa_key.public_key(), subject="CN=Vault TSA", profile="tsa")
            tsa = TimeStampAuthority(_NoExport(tsa_key), tsa_cert)  # type: ignore[arg-type]
            cert = ca.issue(ivanov.public_key(), subject="CN=Ivan Ivanov", profile="signing")
            signature = sign(
                DOC,
                signer=(_NoExport(ivanov), cert),
                timestamper=tsa.timestamper,  # type: ignore[arg-type]
            )
            trust = TrustContext([ca.certificate], crls=[ca.crl()])
            report = verify(signature, DOC, trust=trust)
            tax_cert = ca.issue(tax.public_key(), subject="CN=Tax Service", profile="encryption")
            envelope = seal(DOC, signer=(_NoExport(ivanov), cert), recipients=[tax_cert])  # type: ignore[arg-type]
            opened = open_envelope(envelope, recipient=(_NoExport(tax), tax_cert), trust=trust)  # type: ignore[arg-type]
    assert opened.content == DOC and opened.report.valid, opened.report.errors
    assert report.valid, report.errors
    assert report.timestamp_authority == "CN=Vault TSA"
    assert report.timestamp is not None
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((report.timestamp - now).total_seconds()) < 300


def test_delegated_ocsp_responder_key_in_the_vault(openssl: str, tmp_path: Path) -> None:
    """A responder certificate with the OCSPSigning EKU, its key a vault entry."""
    ca = CertificateAuthority.create_root("CN=Root In Memory")
    with KeyVault(":memory:", kdf=FAST) as vault:
        vault.import_key("ocsp", generate_key("ec-p256"), "pw")
        with vault.unlock("ocsp", "pw") as key:
            responder = ca.issue(key.public_key(), subject="CN=Responder", profile="ocsp")
            user = ca.issue(generate_key("ec-p256").public_key(), subject="CN=User")
            request = (
                ocsp.OCSPRequestBuilder()
                .add_certificate(user, ca.certificate, hashes.SHA256())
                .build()
                .public_bytes(serialization.Encoding.DER)
            )
            answer = ca.ocsp_response(request, responder=(_NoExport(key), responder))  # type: ignore[arg-type]
    status = read_ocsp_response(answer, issuer=ca.certificate, serial=user.serial_number)
    assert status.status.value == "good"
    parsed = ocsp.load_der_ocsp_response(answer)
    assert (
        parsed.responder_key_hash
        == x509.SubjectKeyIdentifier.from_public_key(
            responder.public_key()  # type: ignore[arg-type]
        ).digest
    )
    (tmp_path / "req.der").write_bytes(request)
    (tmp_path / "resp.der").write_bytes(answer)
    ca_pem = _write(tmp_path / "ca.pem", ca.certificate)
    checked = run(
        openssl, "ocsp", "-reqin", tmp_path / "req.der", "-respin", tmp_path / "resp.der",
        "-CAfile", ca_pem, "-issuer", ca_pem,
    )  # fmt: skip
    assert b"Response verify OK" in checked.stderr, checked.stderr
