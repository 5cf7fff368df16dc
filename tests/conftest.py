"""Shared fixtures: a small PKI for the taxpayer story, and the openssl command line."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, settings

from esign.certs import CertificateAuthority, TrustContext
from esign.keys import PrivateKey, generate_key

# Deterministic, deadline-free hypothesis runs so CI never flakes; "dev" explores more.
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("dev", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@dataclass
class Pki:
    """Root CA, Ivanov (signer) and the tax service (recipient)."""

    ca: CertificateAuthority
    ivanov_key: PrivateKey
    ivanov_cert: x509.Certificate
    tax_key: PrivateKey
    tax_cert: x509.Certificate

    @property
    def trust(self) -> TrustContext:
        """The tax service's trust domain, with the CA's current CRL (revocation is
        checked by default)."""
        return TrustContext([self.ca.certificate], crls=[self.ca.crl()], name="tax service")

    def write(self, folder: Path) -> dict[str, Path]:
        """Write every key (unencrypted, for openssl) and certificate as PEM files."""
        paths: dict[str, Path] = {}
        pem = serialization.Encoding.PEM
        for name, cert in (
            ("ca", self.ca.certificate),
            ("ivanov_cert", self.ivanov_cert),
            ("tax_cert", self.tax_cert),
        ):
            paths[name] = folder / f"{name}.pem"
            paths[name].write_bytes(cert.public_bytes(pem))
        paths["crl"] = folder / "ca.crl"  # the CA's current CRL: revocation is checked
        paths["crl"].write_bytes(self.ca.crl().public_bytes(pem))
        for name, key in (("ivanov_key", self.ivanov_key), ("tax_key", self.tax_key)):
            paths[name] = folder / f"{name}.pem"
            paths[name].write_bytes(
                key.private_bytes(
                    pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        return paths


def make_pki(signer_alg: str = "ec-p256", recipient_alg: str = "ec-p256") -> Pki:
    ca = CertificateAuthority.create_root("CN=Tax Service Root CA,O=Tax Service")
    ivanov_key = generate_key(signer_alg)
    tax_key = generate_key(recipient_alg)
    return Pki(
        ca=ca,
        ivanov_key=ivanov_key,
        ivanov_cert=ca.issue(ivanov_key.public_key(), subject="CN=Ivan Ivanov", profile="signing"),
        tax_key=tax_key,
        tax_cert=ca.issue(tax_key.public_key(), subject="CN=Tax Service", profile="encryption"),
    )


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="session")
def other_pki() -> Pki:
    """A second, unrelated PKI: its CA is not trusted by the first."""
    return make_pki()


@pytest.fixture(scope="session")
def openssl() -> str:
    """Path of the openssl command line; missing is a failure on CI, a skip elsewhere."""
    path = shutil.which("openssl")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is required on CI (.ci/run installs it)")
        pytest.skip("openssl command line not installed")
    return path


def run(*args: str | Path, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a command, capturing output; the caller asserts on the result."""
    return subprocess.run([str(a) for a in args], input=input, capture_output=True, check=False)


def openssl_decrypt_verify(
    openssl: str, envelope: Path, files: dict[str, Path], workdir: Path
) -> bytes:
    """``openssl cms -decrypt`` with the tax service's key, then ``openssl cms -verify`` with
    the CA as the only anchor: the document, if both real openssl steps succeed."""
    signed, document = workdir / "openssl-decrypted.p7s", workdir / "openssl-verified.bin"
    decrypted = run(
        openssl, "cms", "-decrypt", "-inform", "DER", "-in", envelope,
        "-recip", files["tax_cert"], "-inkey", files["tax_key"], "-out", signed,
    )  # fmt: skip
    assert decrypted.returncode == 0, decrypted.stderr
    verified = run(
        openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", signed,
        "-CAfile", files["ca"], "-out", document,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert b"Verification successful" in verified.stderr
    return document.read_bytes()
