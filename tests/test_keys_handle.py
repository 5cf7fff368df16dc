"""The KeyHandle protocol over local keys: every job of every algorithm, in CMS's forms."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa
from cryptography.hazmat.primitives.asymmetric import x25519 as x25519_mod

from esign import sign as esign_sign  # noqa: F401  (the CMS layer is importable alongside)
from esign import verify
from esign._sync import run_sync
from esign.certs import CertificateAuthority, TrustContext
from esign.errors import DecryptionError, UnsupportedAlgorithmError
from esign.keys import (
    ALGORITHMS,
    KeyHandle,
    KeyUse,
    LocalKey,
    PrivateKey,
    PublicKey,
    generate_key,
    names_for,
)
from esign.keys.cms_signer import HandleSigner

from .conftest import run

DATA = b"Tax return 2026: income 1 250 000"


@cache
def key_of(name: str) -> PrivateKey:
    return generate_key(name)


def verify_raw(public: PublicKey, signature: bytes, scheme: str, digest: str) -> None:
    """Verify with cryptography directly: raises InvalidSignature if wrong."""
    hash_ = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[
        digest
    ]
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, DATA, ec.ECDSA(hash_))
    elif isinstance(public, rsa.RSAPublicKey):
        pad: padding.AsymmetricPadding = (
            padding.PSS(padding.MGF1(hash_), hash_.digest_size)
            if scheme == "rsa-pss"
            else padding.PKCS1v15()
        )
        public.verify(signature, DATA, pad, hash_)
    elif isinstance(
        public,
        (
            ed25519.Ed25519PublicKey,
            mldsa.MLDSA44PublicKey,
            mldsa.MLDSA65PublicKey,
            mldsa.MLDSA87PublicKey,
        ),
    ):
        public.verify(signature, DATA)
    else:
        raise AssertionError(f"cannot verify {type(public).__name__}")


def test_the_one_table_of_uses() -> None:
    gost = [f"gost2012-256-{s}" for s in ("a", "b", "c", "tca", "tcb", "tcc", "tcd", "xa", "xb")]
    assert names_for(KeyUse.SIGN) == [
        "ec-p256", "ec-p384", "ed25519", *gost, "gost2012-512-a", "gost2012-512-b",
        "gost2012-512-c", "ml-dsa-44", "ml-dsa-65", "ml-dsa-87", "rsa-3072", "rsa-4096",
    ]  # fmt: skip
    assert names_for(KeyUse.AGREE) == ["ec-p256", "ec-p384", "x25519"]
    assert names_for(KeyUse.TRANSPORT) == ["ml-kem-1024", "ml-kem-768", "rsa-3072", "rsa-4096"]
    assert ALGORITHMS["rsa-3072"].signature_schemes == ("rsa-pss", "rsa-pkcs1v15")
    assert ALGORITHMS["rsa-3072"].encryption_schemes == ("rsa-oaep",)
    assert ALGORITHMS["ml-kem-768"].post_quantum and not ALGORITHMS["ec-p256"].post_quantum


# GOST keys sign Streebog digests only: tests/test_gost.py covers their handle.
@pytest.mark.parametrize("name", [n for n in names_for(KeyUse.SIGN) if not n.startswith("gost")])
def test_every_signing_algorithm_signs_with_every_scheme(name: str) -> None:
    handle: KeyHandle = LocalKey(key_of(name))
    assert isinstance(handle, KeyHandle) and handle.algorithm == name
    for scheme in ALGORITHMS[name].signature_schemes:
        for digest in ("sha256", "sha384", "sha512"):
            signature = handle.sign(DATA, digest=digest, scheme=scheme)
            verify_raw(handle.public_key(), signature, scheme, digest)


@pytest.mark.parametrize("name", sorted(set(ALGORITHMS) - set(names_for(KeyUse.SIGN))))
def test_non_signing_algorithms_refuse_to_sign(name: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="cannot sign"):
        LocalKey(key_of(name)).sign(DATA)


def test_wrong_scheme_and_weak_digest_are_named() -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="do not sign with rsa-pss"):
        LocalKey(key_of("ec-p256")).sign(DATA, scheme="rsa-pss")
    with pytest.raises(UnsupportedAlgorithmError, match="digest 'sha1'"):
        LocalKey(key_of("ec-p256")).sign(DATA, digest="sha1")


def test_rsa_oaep_key_transport() -> None:
    handle = LocalKey(key_of("rsa-3072"))
    public = handle.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    cek = bytes(range(32))
    assert handle.decrypt(public.encrypt(cek, oaep)) == cek
    tampered = bytearray(public.encrypt(cek, oaep))
    tampered[10] ^= 1
    with pytest.raises(DecryptionError):
        handle.decrypt(bytes(tampered))
    with pytest.raises(UnsupportedAlgorithmError):
        LocalKey(key_of("ec-p256")).decrypt(b"x")


@pytest.mark.parametrize("name", ["ec-p256", "ec-p384", "x25519"])
def test_key_agreement_matches_the_peer(name: str) -> None:
    handle = LocalKey(key_of(name))
    peer = generate_key(name)
    expected = (
        peer.exchange(ec.ECDH(), handle.public_key())  # type: ignore[arg-type,call-arg]
        if isinstance(peer, ec.EllipticCurvePrivateKey)
        else peer.exchange(handle.public_key())  # type: ignore[union-attr,arg-type]
    )
    assert handle.exchange(peer.public_key()) == expected
    with pytest.raises(UnsupportedAlgorithmError):
        handle.exchange(generate_key("ec-p384" if name == "ec-p256" else "ec-p256").public_key())
    assert isinstance(x25519_mod.X25519PrivateKey.generate(), x25519_mod.X25519PrivateKey)


@pytest.mark.parametrize("name", ["ml-kem-768", "ml-kem-1024"])
def test_ml_kem_decapsulation(name: str) -> None:
    handle = LocalKey(key_of(name))
    public = handle.public_key()
    assert isinstance(public, (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey))
    shared, ciphertext = public.encapsulate()
    assert handle.decapsulate(ciphertext) == shared
    with pytest.raises(DecryptionError):
        handle.decapsulate(ciphertext[:-1])
    with pytest.raises(UnsupportedAlgorithmError):
        LocalKey(key_of("rsa-3072")).decapsulate(ciphertext)


# -- the handle as pyHanko's signer: CMS that esign and openssl verify --------------------


@pytest.mark.parametrize("name", ["ec-p256", "ec-p384", "rsa-3072", "ed25519"])
def test_handle_signs_cms_through_pyhanko(openssl: str, tmp_path: Path, name: str) -> None:
    ca = CertificateAuthority.create_root("CN=Handle Test CA")
    key = key_of(name)
    cert = ca.issue(key.public_key(), subject="CN=Ivan Ivanov", profile="signing")
    signer = HandleSigner(LocalKey(key), cert)
    digest = "sha384" if name == "ec-p384" else "sha512" if name == "ed25519" else "sha256"
    signed = run_sync(signer.async_sign_general_data(DATA, digest, detached=True))
    der = signed.dump()
    report = verify(der, DATA, trust=TrustContext([ca.certificate], crls=[ca.crl()]))
    assert report.valid, report.errors
    if name == "ed25519":
        return  # OpenSSL 3.0 cms -verify fails on Ed25519 (eddsa_digest_signverify_init)
    (tmp_path / "sig.p7s").write_bytes(der)
    (tmp_path / "data").write_bytes(DATA)
    (tmp_path / "ca.pem").write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    result = run(
        openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig.p7s",
        "-content", tmp_path / "data", "-CAfile", tmp_path / "ca.pem", "-purpose", "any",
        "-out", "/dev/null",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_oaep_parameters_sha1_mgf_and_label() -> None:
    handle = LocalKey(key_of("rsa-3072"))
    public = handle.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    cek = b"k" * 32
    sha1 = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
    assert handle.decrypt(public.encrypt(cek, sha1), digest="sha1") == cek
    mixed = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA384(), b"label")
    ciphertext = public.encrypt(cek, mixed)
    assert handle.decrypt(ciphertext, digest="sha384", mgf_digest="sha1", label=b"label") == cek
    with pytest.raises(DecryptionError):
        handle.decrypt(ciphertext, digest="sha384", mgf_digest="sha1", label=b"other")
    with pytest.raises(UnsupportedAlgorithmError):
        handle.decrypt(ciphertext, digest="md5")


@pytest.mark.interop
@pytest.mark.parametrize("md", ["sha1", "sha256"])
def test_handle_decrypts_what_openssl_encrypts(openssl: str, tmp_path: Path, md: str) -> None:
    handle = LocalKey(key_of("rsa-3072"))
    pub = tmp_path / "pub.pem"
    pub.write_bytes(
        handle.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    cek = bytes(range(32))
    result = run(
        openssl, "pkeyutl", "-encrypt", "-pubin", "-inkey", pub,
        "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", f"rsa_oaep_md:{md}",
        "-pkeyopt", f"rsa_mgf1_md:{md}", input=cek,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert handle.decrypt(result.stdout, digest=md) == cek
