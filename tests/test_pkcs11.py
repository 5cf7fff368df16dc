"""Keys on a PKCS#11 token, tested against a real SoftHSM2 token made for this run.

The token lives in a temporary directory with its own softhsm2.conf (SOFTHSM2_CONF), is
initialised with softhsm2-util, and is used through /usr/lib/softhsm/libsofthsm2.so.
Missing softhsm2 is a skip locally and a failure on CI (like the openssl fixture).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from esign import sign, verify
from esign._sync import run_sync
from esign.certs import CertificateAuthority, TrustContext
from esign.errors import (
    DecryptionError,
    KeyNotFoundError,
    KeyStorageError,
    TokenError,
    UnsupportedAlgorithmError,
    WrongPasswordError,
)
from esign.keys import KeyHandle, Pkcs11Key, Pkcs11Token, generate_key
from esign.keys.cms_signer import HandleSigner
from esign.keys.pkcs11_token import SOFTHSM2_LIBRARY
from esign.signing.sign import countersign

from .conftest import run

PIN = "4321"
LABEL = "esign-test"
OTHER = "esign-other"  # opened and closed by single tests
DATA = b"Tax return 2026"


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh SoftHSM2 token; yields the PKCS#11 module path."""
    util = shutil.which("softhsm2-util")
    if util is None or not os.path.exists(SOFTHSM2_LIBRARY):
        if os.environ.get("CI"):
            pytest.fail("softhsm2 is required on CI (.ci/run installs it)")
        pytest.skip("softhsm2 not installed")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\n"
        "objectstore.backend = file\nlog.level = ERROR\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    for label in (LABEL, OTHER):
        result = run(
            util, "--init-token", "--free", "--label", label, "--so-pin", "87654321", "--pin", PIN
        )
        assert result.returncode == 0, result.stderr
    yield SOFTHSM2_LIBRARY
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture(scope="module")
def token(softhsm: str) -> Iterator[Pkcs11Token]:
    with Pkcs11Token(LABEL, PIN, library=softhsm) as session:
        yield session


@pytest.mark.parametrize(
    ("name", "digest"),
    [("ec-p256", "sha256"), ("ec-p384", "sha384"), ("ed25519", "sha512"), ("rsa-3072", "sha256")],
)
def test_generate_on_the_token_and_sign(token: Pkcs11Token, name: str, digest: str) -> None:
    key = token.generate_key(name, f"sign-{name}")
    assert isinstance(key, KeyHandle) and key.algorithm == name
    public = key.public_key()
    signature = key.sign(DATA, digest=digest)
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(
            signature, DATA, ec.ECDSA(hashes.SHA384() if digest == "sha384" else hashes.SHA256())
        )
    elif isinstance(public, ed25519.Ed25519PublicKey):
        public.verify(signature, DATA)
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(
            signature, DATA, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()
        )
        v15 = key.sign(DATA, scheme="rsa-pkcs1v15")
        public.verify(v15, DATA, padding.PKCS1v15(), hashes.SHA256())


def test_the_private_key_never_leaves_the_token(token: Pkcs11Token) -> None:
    import pkcs11

    key = token.generate_key("ec-p256", "sealed")
    private = key._private
    assert private[pkcs11.Attribute.SENSITIVE] is True
    assert private[pkcs11.Attribute.EXTRACTABLE] is False
    assert private[pkcs11.Attribute.NEVER_EXTRACTABLE] is True
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        private[pkcs11.Attribute.VALUE]


def test_rsa_oaep_decryption_on_the_token(token: Pkcs11Token) -> None:
    key = token.generate_key("rsa-3072", "transport")
    public = key.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    cek = os.urandom(32)
    sha1 = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
    assert key.decrypt(public.encrypt(cek, sha1), digest="sha1") == cek
    damaged = bytearray(public.encrypt(cek, sha1))
    damaged[5] ^= 1
    with pytest.raises(DecryptionError):
        key.decrypt(bytes(damaged), digest="sha1")
    # OAEP with SHA-256 depends on the token: SoftHSM 2.6 implements only SHA-1 OAEP.
    sha256 = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    try:
        assert key.decrypt(public.encrypt(cek, sha256)) == cek
    except TokenError as exc:
        assert "does not support RSA-OAEP with sha256" in str(exc)


@pytest.mark.parametrize("name", ["ec-p256", "ec-p384"])
def test_ecdh_on_the_token(token: Pkcs11Token, name: str) -> None:
    key = token.generate_key(name, f"agree-{name}")
    peer = generate_key(name)
    assert isinstance(peer, ec.EllipticCurvePrivateKey)
    expected = peer.exchange(ec.ECDH(), key.public_key())  # type: ignore[arg-type]
    assert key.exchange(peer.public_key()) == expected
    with pytest.raises(UnsupportedAlgorithmError):
        key.exchange(generate_key("ec-p384" if name == "ec-p256" else "ec-p256").public_key())


def test_token_key_signs_cms_that_esign_and_openssl_verify(
    token: Pkcs11Token, openssl: str, tmp_path: Path
) -> None:
    ca = CertificateAuthority.create_root("CN=Token Test CA")
    key = token.generate_key("ec-p256", "cms")
    cert = ca.issue(key.public_key(), subject="CN=Ivan Ivanov", profile="signing")
    der = run_sync(
        HandleSigner(key, cert).async_sign_general_data(DATA, "sha256", detached=True)
    ).dump()
    assert verify(der, DATA, trust=TrustContext([ca.certificate], crls=[ca.crl()])).valid
    (tmp_path / "s.p7s").write_bytes(der)
    (tmp_path / "d").write_bytes(DATA)
    (tmp_path / "ca.pem").write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    result = run(
        openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "s.p7s",
        "-content", tmp_path / "d", "-CAfile", tmp_path / "ca.pem", "-purpose", "any",
        "-out", "/dev/null",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["ec-p256", "rsa-3072", "ed25519"])
def test_esign_sign_takes_a_token_key(
    token: Pkcs11Token, openssl: str, tmp_path: Path, name: str
) -> None:
    """``esign.sign`` with a token key: the private key never leaves the token."""
    ca = CertificateAuthority.create_root("CN=Token Test CA")
    key = token.generate_key(name, f"esign-sign-{name}")
    cert = ca.issue(key.public_key(), subject="CN=Ivan Ivanov", profile="signing")
    der = sign(DATA, signer=(key, cert))
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    assert verify(der, DATA, trust=trust).valid
    assert not verify(der, DATA + b"!", trust=trust).valid
    assert verify(countersign(der, signer=(key, cert)), DATA, trust=trust).valid
    if name == "ed25519":  # openssl 3.0 refuses Ed25519 with a SHA-512 message digest
        return
    (tmp_path / "s.p7s").write_bytes(der)
    (tmp_path / "d").write_bytes(DATA)
    (tmp_path / "ca.pem").write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    result = run(
        openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "s.p7s",
        "-content", tmp_path / "d", "-CAfile", tmp_path / "ca.pem", "-purpose", "any",
        "-out", "/dev/null",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_keys_are_found_again_by_label(softhsm: str) -> None:
    with Pkcs11Token(OTHER, PIN, library=softhsm) as first:
        made = first.generate_key("ec-p256", "persistent")
        with pytest.raises(TokenError, match="already open"):
            Pkcs11Token(OTHER, "a wrong PIN cannot be checked now", library=softhsm)
    with Pkcs11Token(OTHER, PIN, library=softhsm) as again:
        found = again.key("persistent")
        assert isinstance(found, Pkcs11Key)
        assert found.public_key() == made.public_key()
        assert "persistent" in again.labels()
        with pytest.raises(KeyNotFoundError):
            again.key("no such label")
        with pytest.raises(KeyStorageError, match="already holds"):
            again.generate_key("ec-p256", "persistent")


def test_errors_are_named(token: Pkcs11Token, softhsm: str) -> None:
    with pytest.raises(WrongPasswordError):
        Pkcs11Token(OTHER, "0000", library=softhsm)
    with pytest.raises(TokenError, match="no such token"):
        Pkcs11Token("absent-token", PIN, library=softhsm)
    with pytest.raises(TokenError, match="no PKCS#11 module"):
        Pkcs11Token(LABEL, PIN, library="/nonexistent/libpkcs11.so")
    with pytest.raises(UnsupportedAlgorithmError, match="not generated on tokens"):
        token.generate_key("ml-dsa-65", "pq")
    ec_key = token.generate_key("ec-p256", "no-transport")
    with pytest.raises(UnsupportedAlgorithmError):
        ec_key.decrypt(b"x")
    with pytest.raises(UnsupportedAlgorithmError):
        ec_key.decapsulate(b"x")


@pytest.mark.parametrize("name", ["ec-p256", "ec-p384"])
def test_token_key_opens_an_envelope(token: Pkcs11Token, name: str) -> None:
    """Sealed to a certificate whose key lives on the token; ECDH happens on the token."""
    from esign import open_envelope, seal

    ca = CertificateAuthority.create_root("CN=Token Envelope CA")
    signer = generate_key("ec-p256")
    signer_cert = ca.issue(signer.public_key(), subject="CN=Ivanov", profile="signing")
    key = token.generate_key(name, f"envelope-{name}")
    cert = ca.issue(key.public_key(), subject="CN=Tax Service", profile="encryption")
    envelope = seal(DATA, signer=(signer, signer_cert), recipients=[cert])
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    opened = open_envelope(envelope, recipient=(key, cert), trust=trust)
    assert opened.content == DATA and opened.report.valid, opened.report.errors
    with pytest.raises(DecryptionError):
        damaged = bytearray(envelope)
        damaged[-30] ^= 1
        open_envelope(bytes(damaged), recipient=(key, cert), trust=TrustContext([ca.certificate]))


@pytest.mark.parametrize("signer_alg", ["ec-p256", "rsa-3072"])
def test_token_keys_seal_and_open_streamed(token: Pkcs11Token, signer_alg: str) -> None:
    """Both ends on the token: the signer signs there while sealing, the recipient's ECDH
    happens there while opening; nothing leaves the token."""
    import io

    from esign import open_stream, seal_stream

    ca = CertificateAuthority.create_root("CN=Token Seal CA")
    signer = token.generate_key(signer_alg, f"seal-signer-{signer_alg}")
    signer_cert = ca.issue(signer.public_key(), subject="CN=Ivanov", profile="signing")
    tax = token.generate_key("ec-p256", f"seal-tax-{signer_alg}")
    tax_cert = ca.issue(tax.public_key(), subject="CN=Tax Service", profile="encryption")
    out = io.BytesIO()
    seal_stream(io.BytesIO(DATA), out, signer=(signer, signer_cert), recipients=[tax_cert])
    dst = io.BytesIO()
    opened = open_stream(
        io.BytesIO(out.getvalue()),
        dst,
        recipient=(tax, tax_cert),
        trust=TrustContext([ca.certificate], crls=[ca.crl()]),
    )
    assert dst.getvalue() == DATA and opened.report.valid, opened.report.errors


def test_command_line_names_token_keys_by_pkcs11_uri(
    token: Pkcs11Token, softhsm: str, tmp_path: Path
) -> None:
    """``--key pkcs11:token=...;object=...``: PIN from $ESIGN_PASSWORD, or in the URI."""
    from .test_cli import assert_clean_failure, esign

    ca = CertificateAuthority.create_root("CN=Token CLI CA")
    signer = token.generate_key("ec-p256", "cli-signer")
    tax = token.generate_key("ec-p384", "cli-tax")
    pem = serialization.Encoding.PEM
    for name, cert in (
        ("ca", ca.certificate),
        ("signer", ca.issue(signer.public_key(), subject="CN=Ivanov", profile="signing")),
        ("tax", ca.issue(tax.public_key(), subject="CN=Tax", profile="encryption")),
    ):
        (tmp_path / f"{name}.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "ca.crl").write_bytes(ca.crl().public_bytes(pem))
    (tmp_path / "doc").write_bytes(DATA)
    sealed = esign(
        "seal", tmp_path / "doc", "--key", f"pkcs11:token={LABEL};object=cli-signer",
        "--cert", tmp_path / "signer.pem", "--to", tmp_path / "tax.pem",
        "--out", tmp_path / "e.p7m", env={"ESIGN_PASSWORD": PIN},
    )  # fmt: skip
    assert sealed.returncode == 0, sealed.stderr
    uri = f"pkcs11:token={LABEL};object=cli-tax?pin-value={PIN}&module-path={softhsm}"
    opened = esign(
        "open", tmp_path / "e.p7m", "--key", uri, "--cert", tmp_path / "tax.pem",
        "--trust", tmp_path / "ca.pem", "--crl", tmp_path / "ca.crl", "--out", tmp_path / "out",
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert (tmp_path / "out").read_bytes() == DATA
    for bad_key, pin in (
        (f"pkcs11:token={LABEL};object=cli-tax", "0000"),  # wrong PIN
        (f"pkcs11:token={LABEL};object=nothing-here", PIN),  # no such key
        ("pkcs11:object=cli-tax", PIN),  # no token named
    ):
        result = esign(
            "open", tmp_path / "e.p7m", "--key", bad_key, "--trust", tmp_path / "ca.pem",
            env={"ESIGN_PASSWORD": pin},
        )  # fmt: skip
        assert_clean_failure(result, 2)


@pytest.mark.parametrize("name", ["ec-p256", "rsa-3072", "ed25519"])
def test_csr_create_for_a_token_key(
    token: Pkcs11Token, softhsm: str, openssl: str, tmp_path: Path, name: str
) -> None:
    """``esign csr create --key pkcs11:...``: the token signs the request; openssl checks
    its proof of possession and a CA issues from it."""
    from .test_cli import esign

    key = token.generate_key(name, f"csr-{name}")
    uri = f"pkcs11:token={LABEL};object=csr-{name}?pin-value={PIN}&module-path={softhsm}"
    csr = tmp_path / "token.csr"
    made = esign("csr", "create", "--key", uri, "--subject", "CN=Token Holder", "--out", csr)
    assert made.returncode == 0, made.stderr
    checked = run(openssl, "req", "-verify", "-noout", "-in", csr)
    assert checked.returncode == 0 and b"verify OK" in checked.stdout + checked.stderr
    ca = CertificateAuthority.create_root("CN=CSR CA")
    issued = ca.issue_from_csr(csr.read_bytes(), profile="signing")
    assert issued.public_key() == key.public_key()


@pytest.mark.parametrize("name", ["ec-p256", "rsa-3072", "ed25519"])
def test_ca_whose_key_is_on_the_token_issues_what_openssl_accepts(
    token: Pkcs11Token, openssl: str, tmp_path: Path, name: str
) -> None:
    """Certificates, a CRL and an OCSP response signed on the token; the taxpayer's token
    key signs, esign and openssl verify with that CA."""
    from cryptography.x509 import ocsp

    from esign.certs.revocation import read_ocsp_response

    ca_key = token.generate_key(name, f"ca-{name}")
    ca = CertificateAuthority.create_root("CN=Token CA", key=ca_key)
    assert ca.certificate.public_key() == ca_key.public_key()
    ivanov = token.generate_key("ec-p256", f"ivanov-under-{name}")
    cert = ca.issue(ivanov.public_key(), subject="CN=Ivan Ivanov", profile="signing")
    dropped = ca.issue(generate_key("ec-p256").public_key(), subject="CN=Lost Key")
    ca.revoke(dropped, "keyCompromise")
    crl = ca.crl()
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(dropped, ca.certificate, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    (tmp_path / "req.der").write_bytes(request)
    (tmp_path / "resp.der").write_bytes(ca.ocsp_response(request))
    der = sign(DATA, signer=(ivanov, cert))
    assert verify(der, DATA, trust=TrustContext([ca.certificate], crls=[crl])).valid
    pem = serialization.Encoding.PEM
    for file, item in (("ca.pem", ca.certificate), ("u.pem", cert), ("d.pem", dropped)):
        (tmp_path / file).write_bytes(item.public_bytes(pem))
    (tmp_path / "ca.crl").write_bytes(crl.public_bytes(pem))
    checked = [
        "verify",
        "-crl_check",
        "-CAfile",
        tmp_path / "ca.pem",
        "-CRLfile",
        tmp_path / "ca.crl",
    ]
    assert run(openssl, *checked, tmp_path / "u.pem").returncode == 0
    assert run(openssl, *checked, tmp_path / "d.pem").returncode != 0
    crl_check = run(
        openssl, "crl", "-in", tmp_path / "ca.crl", "-CAfile", tmp_path / "ca.pem", "-noout"
    )
    assert crl_check.returncode == 0 and b"verify OK" in crl_check.stderr, crl_check.stderr
    ocsp_check = run(
        openssl, "ocsp", "-reqin", tmp_path / "req.der", "-respin", tmp_path / "resp.der",
        "-CAfile", tmp_path / "ca.pem", "-issuer", tmp_path / "ca.pem",
    )  # fmt: skip
    assert b"Response verify OK" in ocsp_check.stderr, ocsp_check.stderr
    answer = read_ocsp_response(
        (tmp_path / "resp.der").read_bytes(), issuer=ca.certificate, serial=dropped.serial_number
    )
    assert answer.status.value == "revoked"


def test_taxpayer_story_with_every_key_on_the_token_on_the_command_line(
    token: Pkcs11Token, softhsm: str, openssl: str, tmp_path: Path
) -> None:
    """The CA's, the taxpayer's and the tax service's keys on SoftHSM2, named by URI."""
    from .test_envelope_handles import command_line_story

    keys = {
        "ca": token.generate_key("ec-p384", "story-ca"),
        "ivanov": token.generate_key("ec-p256", "story-ivanov"),
        "tax": token.generate_key("ec-p384", "story-tax"),  # SoftHSM2: no OAEP-SHA256
    }
    command_line_story(
        tmp_path,
        {name: f"pkcs11:token={LABEL};object=story-{name}" for name in keys},
        {name: key.public_key() for name, key in keys.items()},
        PIN,
        openssl,
    )
