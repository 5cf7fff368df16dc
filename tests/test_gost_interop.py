"""GOST R 34.10-2012 both ways with openssl 3 + Debian's GOST engine (issue 13).

For the 256-bit sets A (CryptoPro-A), XA (CryptoPro-XchA), TCA (TC26-256-A) and the
512-bit set A: openssl's keys and certificates load in esign; esign's keys, certificates
and CRLs pass openssl; esign's CAdES passes ``openssl cms -verify``; openssl's
``cms -sign -cades`` verifies in esign; one flipped byte fails on both sides; and an
``openssl ts -reply`` GOST time-stamp is accepted as CAdES-T evidence.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import esign
from esign.certs import TrustContext
from esign.errors import WrongPasswordError
from esign.gost import cms as gost_cms
from esign.gost import keys as gost_keys
from esign.gost import streebog
from esign.gost.authority import GostAuthority
from esign.gost.chain import validate as validate_chain
from esign.gost.x509 import public_key_of, verify_certificate_signature
from esign.keys.pkcs8 import Pbkdf2Kdf
from esign.keys.storage import dump_key, parse_key

from ._gost import (
    SET_IDS,
    SETS,
    GostOpenssl,
    GostPki,
    gost_openssl_from,
    make_gost_pki,
    provider_config,
    write_cert,
    write_key,
)

pytestmark = pytest.mark.interop
DOC = "Налоговая декларация 3-НДФЛ, 2026".encode()
DER = serialization.Encoding.DER


@pytest.fixture(scope="module")
def gost(tmp_path_factory: pytest.TempPathFactory) -> GostOpenssl:
    return gost_openssl_from(None, tmp_path_factory.mktemp("gost-conf"))


@pytest.fixture(scope="module", params=SETS, ids=SET_IDS)
def gost_set(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    param: tuple[str, str, str] = request.param
    return param


@pytest.fixture(scope="module")
def pki(gost_set: tuple[str, str, str]) -> GostPki:
    """A GOST CA on the same set as its signer, so both key sizes sign certificates."""
    name = gost_set[2]
    return make_gost_pki(name, ca_alg=name)


def _openssl_key(gost: GostOpenssl, folder: Path, algorithm: str, paramset: str) -> Path:
    path = folder / f"{algorithm}-{paramset}.key"
    gost.ok("genpkey", "-algorithm", algorithm, "-pkeyopt", f"paramset:{paramset}", "-out", path)
    return path


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def test_streebog_backends_agree(tmp_path: Path) -> None:
    """hashlib with OpenSSL's GOST provider (chosen when loaded) and gostcrypto give the same
    bytes, so signatures do not depend on which backend a process has."""
    env = dict(os.environ, OPENSSL_CONF=str(provider_config(tmp_path)))
    code = (
        "import sys; from esign.gost import streebog; "
        "data = sys.stdin.buffer.read(); "
        "print(streebog.backend(), streebog.digest(256, data).hex(), "
        "streebog.digest(512, data).hex())"
    )
    child = subprocess.run(
        [sys.executable, "-c", code], input=DOC * 100, env=env, capture_output=True, check=True
    )
    backend, d256, d512 = child.stdout.decode().split()
    assert backend == "openssl"
    gostcrypto = streebog._GostcryptoHasher(256)
    gostcrypto.update(DOC * 100)
    assert d256 == gostcrypto.digest().hex()
    wide = streebog._GostcryptoHasher(512)
    wide.update(DOC * 100)
    assert d512 == wide.digest().hex()


# -- keys ------------------------------------------------------------------------------------


def test_openssl_keys_load(
    gost: GostOpenssl, gost_set: tuple[str, str, str], tmp_path: Path
) -> None:
    algorithm, paramset, name = gost_set
    key_file = _openssl_key(gost, tmp_path, algorithm, paramset)
    key = parse_key(key_file.read_bytes())
    assert isinstance(key, gost_keys.GostPrivateKey)
    assert key.paramset.key_name == name
    openssl_spki = gost.ok("pkey", "-in", key_file, "-pubout", "-outform", "DER")
    assert key.public_key().spki_der() == openssl_spki
    # The engine's own encrypted form (PBES2, AES-256-CBC) with its password.
    encrypted = gost.ok(
        "pkcs8", "-topk8", "-in", key_file, "-v2", "aes-256-cbc", "-passout", "pass:secret 1"
    )
    again = parse_key(encrypted, "secret 1")
    assert isinstance(again, gost_keys.GostPrivateKey) and again.same_key(key)
    with pytest.raises(WrongPasswordError):
        parse_key(encrypted, "secret 2")


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_esign_encrypted_keys_read_by_openssl(
    gost: GostOpenssl, gost_set: tuple[str, str, str], tmp_path: Path, kdf: str
) -> None:
    key = gost_keys.generate(gost_set[2])
    kwargs = {"kdf": Pbkdf2Kdf(iterations=10_000)} if kdf == "pbkdf2" else {}
    path = tmp_path / "key.pem"
    path.write_bytes(dump_key(key, "pass word", **kwargs))  # type: ignore[arg-type]
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    spki = gost.ok("pkey", "-in", path, "-passin", "pass:pass word", "-pubout", "-outform", "DER")
    assert spki == key.public_key().spki_der()
    # ... and the engine's unencrypted export of it is byte for byte esign's PKCS#8.
    plain = gost.ok("pkey", "-in", path, "-passin", "pass:pass word", "-outform", "DER")
    assert plain == key.pkcs8_der()


# -- certificates and CRLs ---------------------------------------------------------------------


def test_openssl_certificates_load(
    gost: GostOpenssl, gost_set: tuple[str, str, str], tmp_path: Path
) -> None:
    algorithm, paramset, _ = gost_set
    key_file = _openssl_key(gost, tmp_path, algorithm, paramset)
    cert_file = tmp_path / "self.pem"
    gost.ok(
        "req",
        "-x509",
        "-new",
        "-key",
        key_file,
        "-subj",
        "/CN=openssl GOST",
        "-days",
        "3",
        "-out",
        cert_file,
    )
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    assert public_key_of(cert) == parse_key(key_file.read_bytes()).public_key()  # type: ignore[union-attr]
    verify_certificate_signature(cert, cert)
    with pytest.raises(esign.errors.InvalidSignatureError):
        tampered = x509.load_der_x509_certificate(_flip(cert.public_bytes(DER), -3))
        verify_certificate_signature(tampered, cert)


def test_esign_certificates_and_crls_pass_openssl_verify(
    gost: GostOpenssl, pki: GostPki, tmp_path: Path
) -> None:
    ca_file = write_cert(pki.ca.certificate, tmp_path / "ca.pem")
    leaf_file = write_cert(pki.cert, tmp_path / "leaf.pem")
    result = gost.run("verify", "-CAfile", ca_file, leaf_file)
    assert result.returncode == 0 and b": OK" in result.stdout, result.stderr
    # A CRL signed by the GOST CA, first clean, then listing the leaf.
    crl_file = tmp_path / "crl.pem"
    crl_file.write_bytes(pki.ca.crl().public_bytes(serialization.Encoding.PEM))
    assert (
        gost.run(
            "verify", "-crl_check", "-CRLfile", crl_file, "-CAfile", ca_file, leaf_file
        ).returncode
        == 0
    )
    assert gost.run("crl", "-in", crl_file, "-CAfile", ca_file, "-noout").returncode == 0
    pki.ca.revoke(pki.cert, x509.ReasonFlags.key_compromise)
    try:
        crl_file.write_bytes(pki.ca.crl().public_bytes(serialization.Encoding.PEM))
        revoked = gost.run(
            "verify", "-crl_check", "-CRLfile", crl_file, "-CAfile", ca_file, leaf_file
        )
        assert revoked.returncode != 0 and b"revoked" in revoked.stdout + revoked.stderr
    finally:
        pki.ca.revoked.clear()
    # One flipped byte in the signature: openssl and esign both refuse the certificate.
    tampered = x509.load_der_x509_certificate(_flip(pki.cert.public_bytes(DER), -2))
    bad_file = write_cert(tampered, tmp_path / "bad.pem")
    assert gost.run("verify", "-CAfile", ca_file, bad_file).returncode != 0
    outcome = validate_chain(tampered, anchors=[pki.ca.certificate])
    assert not outcome.ok and outcome.code == "path_invalid"


@pytest.mark.parametrize("hash_algorithm", ["sha1", "sha256"])
def test_esign_gost_ocsp_passes_openssl(
    gost: GostOpenssl, pki: GostPki, tmp_path: Path, hash_algorithm: str
) -> None:
    """GOST-signed OCSP responses: openssl verifies them and reads the status; esign's
    TrustContext uses them for revocation of a leaf that names the responder."""
    ca = GostAuthority(pki.ca.key, pki.ca.certificate, ocsp_url="http://127.0.0.1:9/ocsp")
    key = gost_keys.generate("gost2012-256-tca")
    leaf = ca.issue(key.public_key(), subject="CN=OCSP subject")
    ca_file = write_cert(ca.certificate, tmp_path / "ca.pem")
    leaf_file = write_cert(leaf, tmp_path / "leaf.pem")
    response = tmp_path / "response.der"
    for status in ("good", "revoked"):
        if status == "revoked":
            ca.revoke(leaf, x509.ReasonFlags.key_compromise)
        response.write_bytes(ca.ocsp_response(leaf, hash_algorithm=hash_algorithm))
        result = gost.run(
            "ocsp",
            "-respin",
            response,
            "-issuer",
            ca_file,
            f"-{hash_algorithm}",
            "-cert",
            leaf_file,
            "-CAfile",
            ca_file,
        )
        assert result.returncode == 0, result.stderr
        assert b"Response verify OK" in result.stderr + result.stdout
        assert f"leaf.pem: {status}".encode() in result.stdout
        path = TrustContext([ca.certificate], ocsps=[response.read_bytes()]).validate(leaf)
        assert path.trusted == (status == "good"), path.failures
    # One flipped byte of the response signature: openssl refuses, esign finds no status.
    der = bytearray(response.read_bytes())
    der[-3] ^= 1
    response.write_bytes(bytes(der))
    refused = gost.run(
        "ocsp",
        "-respin",
        response,
        "-issuer",
        ca_file,
        f"-{hash_algorithm}",
        "-cert",
        leaf_file,
        "-CAfile",
        ca_file,
    )
    assert b"Response verify OK" not in refused.stderr + refused.stdout
    assert not TrustContext([ca.certificate], ocsps=[bytes(der)]).validate(leaf).trusted


# -- CMS / CAdES ------------------------------------------------------------------------------


def test_esign_cades_passes_openssl_cms_verify(
    gost: GostOpenssl, pki: GostPki, tmp_path: Path
) -> None:
    signature = esign.sign(DOC, signer=(pki.key, pki.cert))  # type: ignore[arg-type]
    doc = tmp_path / "doc.txt"
    doc.write_bytes(DOC)
    ca_file = write_cert(pki.ca.certificate, tmp_path / "ca.pem")
    sig_file = tmp_path / "doc.p7s"
    sig_file.write_bytes(signature)
    gost.ok(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        sig_file,
        "-content",
        doc,
        "-CAfile",
        ca_file,
        "-out",
        tmp_path / "out",
    )
    printed = gost.ok("cms", "-cmsout", "-print", "-inform", "DER", "-in", sig_file).decode()
    assert "signingCertificateV2" in printed and "issuerAndSerialNumber" in printed
    # One flipped byte of the signature value: openssl and esign refuse.
    value = gost_cms_signature_value(signature)
    bad = signature.replace(value, _flip(value, len(value) // 2))
    sig_file.write_bytes(bad)
    assert (
        gost.run(
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            sig_file,
            "-content",
            doc,
            "-CAfile",
            ca_file,
            "-out",
            tmp_path / "out",
        ).returncode
        != 0
    )
    trust = TrustContext([pki.ca.certificate], crls=[pki.ca.crl()])
    assert not esign.verify(bad, DOC, trust=trust).valid
    assert esign.verify(signature, DOC, trust=trust).valid


def test_esign_gost_smime_passes_openssl_smime_verify(
    gost: GostOpenssl, pki: GostPki, tmp_path: Path
) -> None:
    from esign.signing.smime import write_smime

    mail = write_smime(DOC, signer=(pki.key, pki.cert), detached=True)  # type: ignore[arg-type]
    bits = pki.key.paramset.bits
    assert f'micalg="gostr3411-2012-{bits}"'.encode() in mail
    path = tmp_path / "mail.eml"
    path.write_bytes(mail)
    ca_file = write_cert(pki.ca.certificate, tmp_path / "ca.pem")
    gost.ok("smime", "-verify", "-in", path, "-CAfile", ca_file, "-out", tmp_path / "out")
    assert DOC in (tmp_path / "out").read_bytes()


def gost_cms_signature_value(signature: bytes) -> bytes:
    from asn1crypto import cms

    value: bytes = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]["signature"].native
    return value


@pytest.fixture(scope="module")
def openssl_pki(
    gost: GostOpenssl, gost_set: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """A CA and a signer made entirely by openssl with the GOST engine."""
    algorithm, paramset, _ = gost_set
    folder = tmp_path_factory.mktemp("openssl-gost-pki")
    ca_key = _openssl_key(gost, folder, algorithm, paramset)
    ca = folder / "ca.pem"
    gost.ok(
        "req",
        "-x509",
        "-new",
        "-key",
        ca_key,
        "-subj",
        "/CN=openssl GOST CA",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        ca,
    )
    key = folder / "signer.key"
    gost.ok("genpkey", "-algorithm", algorithm, "-pkeyopt", f"paramset:{paramset}", "-out", key)
    csr = folder / "signer.csr"
    gost.ok("req", "-new", "-key", key, "-subj", "/CN=Petrov/C=RU", "-out", csr)
    ext = folder / "ext.cnf"
    ext.write_text("keyUsage=critical,digitalSignature,nonRepudiation\n")
    cert = folder / "signer.pem"
    gost.ok(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        ext,
        "-out",
        cert,
    )
    yield {"ca": ca, "key": key, "cert": cert, "folder": folder}


def test_openssl_cades_verifies_in_esign(
    gost: GostOpenssl,
    gost_set: tuple[str, str, str],
    openssl_pki: dict[str, Path],
    tmp_path: Path,
) -> None:
    md = "md_gost12_512" if gost_set[0] == "gost2012_512" else "md_gost12_256"
    doc = tmp_path / "doc.txt"
    doc.write_bytes(DOC)
    signature = gost.ok(
        "cms",
        "-sign",
        "-cades",
        "-md",
        md,
        "-binary",
        "-in",
        doc,
        "-signer",
        openssl_pki["cert"],
        "-inkey",
        openssl_pki["key"],
        "-outform",
        "DER",
    )
    ca = x509.load_pem_x509_certificate(openssl_pki["ca"].read_bytes())
    # openssl's CA here publishes no CRL: the explicit opt-out
    trust = TrustContext([ca], name="openssl GOST CA", check_revocation=False)
    report = esign.verify(signature, DOC, trust=trust)
    assert report.valid, report.errors
    assert report.level is esign.SignatureLevel.ADVANCED
    assert report.signer is not None and report.signer.subject == "C=RU,CN=Petrov"
    bits = 512 if "512" in gost_set[0] else 256
    assert report.digest_algorithm == f"streebog{bits}"
    assert report.signature_algorithm is not None and f"{bits}-bit" in report.signature_algorithm
    # The content changed by one byte, or the signature value: invalid.
    assert [e.code for e in esign.verify(signature, _flip(DOC, 3), trust=trust).errors] == [
        "content_modified"
    ]
    value = gost_cms_signature_value(signature)
    bad = signature.replace(value, _flip(value, 5))
    assert [e.code for e in esign.verify(bad, DOC, trust=trust).errors] == ["bad_signature"]
    # Attached form too.
    attached = gost.ok(
        "cms",
        "-sign",
        "-cades",
        "-md",
        md,
        "-binary",
        "-nodetach",
        "-in",
        doc,
        "-signer",
        openssl_pki["cert"],
        "-inkey",
        openssl_pki["key"],
        "-outform",
        "DER",
    )
    assert esign.verify(attached, trust=trust).valid


# -- CAdES-T with an openssl GOST time-stamp ----------------------------------------------------


TS_CONFIG = """
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
serial = {serial}
signer_digest = md_gost12_256
default_policy = 1.2.643.100.113.1
digests = md_gost12_256, md_gost12_512, sha256
accuracy = secs:1
ess_cert_id_alg = md_gost12_256
"""


def _openssl_tsa_token(gost: GostOpenssl, folder: Path, digest_hex: str, tsa: GostPki) -> bytes:
    (folder / "serial").write_text("01\n")
    config = folder / "ts.cnf"
    config.write_text(TS_CONFIG.format(serial=folder / "serial"))
    query = folder / "q.tsq"
    gost.ok("ts", "-query", "-digest", digest_hex, "-md_gost12_256", "-cert", "-out", query)
    token = folder / "token.der"
    gost.ok(
        "ts",
        "-reply",
        "-queryfile",
        query,
        "-signer",
        write_cert(tsa.cert, folder / "tsa.pem"),
        "-inkey",
        write_key(tsa.key, folder / "tsa.key"),
        "-config",
        config,
        "-token_out",
        "-out",
        token,
    )
    return token.read_bytes()


def test_openssl_gost_timestamp_is_cades_t_evidence(gost: GostOpenssl, tmp_path: Path) -> None:
    signer = make_gost_pki("gost2012-256-xa")
    tsa_ca = gost_cms_tsa()
    signature = esign.sign(DOC, signer=(signer.key, signer.cert))  # type: ignore[arg-type]
    imprint = gost_cms.timestamp_digest(signature)
    token = _openssl_tsa_token(gost, tmp_path, imprint.hex(), tsa_ca)
    stamped = gost_cms.add_timestamp(signature, token)
    trust = TrustContext([signer.ca.certificate], crls=[signer.ca.crl()])
    tsa_trust = TrustContext([tsa_ca.ca.certificate], crls=[tsa_ca.ca.crl()], name="GOST TSA")
    report = esign.verify(stamped, DOC, trust=trust, tsa_trust=tsa_trust)
    assert report.valid, report.errors
    assert report.timestamp is not None and report.timestamp_authority == "CN=GOST TSA"
    assert report.validation_time == report.timestamp
    assert abs(
        report.timestamp - datetime.datetime.now(datetime.timezone.utc)
    ) < datetime.timedelta(minutes=5)
    # openssl still reads the CAdES-T (the token is an unsigned attribute).
    (tmp_path / "doc").write_bytes(DOC)
    (tmp_path / "t.p7s").write_bytes(stamped)
    gost.ok(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        tmp_path / "t.p7s",
        "-content",
        tmp_path / "doc",
        "-CAfile",
        write_cert(signer.ca.certificate, tmp_path / "ca.pem"),
        "-out",
        tmp_path / "out",
    )
    # A token over another signature, an untrusted TSA, a flipped byte: no time, not valid.
    other = _openssl_tsa_token(gost, tmp_path, "00" * 32, tsa_ca)
    wrong = esign.verify(
        gost_cms.add_timestamp(signature, other), DOC, trust=trust, tsa_trust=tsa_trust
    )
    assert "timestamp_invalid" in [e.code for e in wrong.errors] and wrong.timestamp is None
    untrusted = esign.verify(stamped, DOC, trust=trust, tsa_trust=trust)
    assert "timestamp_untrusted" in [e.code for e in untrusted.errors]
    token_value = gost_cms_signature_value(token)
    flipped = gost_cms.add_timestamp(signature, token.replace(token_value, _flip(token_value, 7)))
    assert not esign.verify(flipped, DOC, trust=trust, tsa_trust=tsa_trust).valid


def gost_cms_tsa() -> GostPki:
    from esign.gost.authority import GostAuthority

    ca = GostAuthority.create_root("CN=GOST TSA Root", algorithm="gost2012-256-tca")
    key = gost_keys.generate("gost2012-256-tca")
    cert = ca.issue(key.public_key(), subject="CN=GOST TSA", profile="tsa")
    return GostPki(ca, key, cert)
