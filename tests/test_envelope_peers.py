"""Envelopes against independent CMS peers: Bouncy Castle (a small Java program compiled
here with javac), GnuPG's gpgsm, and the openssl command line.

Each test is one interop point of issue 11: the peer accepts esign's bytes, or esign the
peer's. On CI the peers are installed by ``.ci/run`` and a missing one is a failure.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import hashes

from esign import open_envelope, open_stream, seal, sign, verify
from esign.envelope.recipients import PasswordIdentity, PasswordRecipient

from .conftest import Pki, make_pki, run
from .test_cli import esign

DOCUMENT = b"Tax return 2026\nIncome: 1 250 000\n"
PASSWORD = "s3cret pass"
FAST = 2048
BC_JARS = [Path("/usr/share/java") / f"{name}.jar" for name in ("bcprov", "bcpkix", "bcutil")]


def _need(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required on CI (.ci/run installs it)")
    pytest.skip(f"{what} not installed")


@pytest.fixture(scope="session")
def bouncy_castle(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """``java -cp ... CmsPeer``: tests/peers/CmsPeer.java compiled against Debian's jars."""
    javac, java = shutil.which("javac"), shutil.which("java")
    if javac is None or java is None or not all(jar.exists() for jar in BC_JARS):
        _need("Bouncy Castle (libbcprov-java libbcpkix-java libbcutil-java) with a JDK")
    classes = tmp_path_factory.mktemp("bc-classes")
    classpath = ":".join(str(jar) for jar in BC_JARS)
    source = Path(__file__).parent / "peers" / "CmsPeer.java"
    built = run(javac, "-d", classes, "-cp", classpath, source)
    assert built.returncode == 0, built.stderr
    return [java, "-cp", f"{classpath}:{classes}", "CmsPeer"]  # type: ignore[list-item]


def signed_document(pki: Pki) -> bytes:
    return sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)


# --- Bouncy Castle: password recipients ----------------------------------------------------


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "aes-256-cbc"])
def test_bouncy_castle_opens_esign_password_envelopes(
    bouncy_castle: list[str], tmp_path: Path, pki: Pki, cipher: str
) -> None:
    envelope = seal(
        DOCUMENT,
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=[PasswordRecipient(PASSWORD.encode(), FAST)],
        cipher=cipher,  # type: ignore[arg-type]
    )
    record = cms.ContentInfo.load(envelope)["content"]["recipient_infos"][0].chosen
    prf = record["key_derivation_algorithm"]["parameters"]["prf"]
    assert prf["parameters"].dump() == b"\x05\x00"  # NULL, as RFC 8018 A.2 declares
    (tmp_path / "e.p7m").write_bytes(envelope)
    opened = run(*bouncy_castle, "decrypt-password", tmp_path / "e.p7m", PASSWORD, tmp_path / "s")
    assert opened.returncode == 0, opened.stderr
    report = verify((tmp_path / "s").read_bytes(), trust=pki.trust)
    assert report.valid, report.errors


def test_esign_opens_a_bouncy_castle_password_envelope_with_version_0(
    bouncy_castle: list[str], tmp_path: Path, pki: Pki
) -> None:
    (tmp_path / "signed.p7s").write_bytes(signed_document(pki))
    made = run(
        *bouncy_castle, "encrypt-password", tmp_path / "signed.p7s", PASSWORD, tmp_path / "e.p7m"
    )
    assert made.returncode == 0, made.stderr
    envelope = (tmp_path / "e.p7m").read_bytes()
    assert cms.ContentInfo.load(envelope)["content"]["version"].native == "v0"  # RFC says 3
    identity = PasswordIdentity(PASSWORD.encode())
    for opened in (
        open_envelope(envelope, recipient=identity, trust=pki.trust),
        open_stream(io.BytesIO(envelope), io.BytesIO(), recipient=identity, trust=pki.trust),
    ):
        assert opened.report.valid, opened.report.errors
        assert "envelope_version" in [w.code for w in opened.report.warnings]
    files = pki.write(tmp_path)
    result = esign(
        "open", tmp_path / "e.p7m", "--with-password",
        "--trust", files["ca"], "--crl", files["crl"], "--json",
        env={"ESIGN_ENVELOPE_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "envelope_version" in result.stdout


# --- openssl: two records for one key -------------------------------------------------------


@pytest.mark.parametrize("keyid", [False, True], ids=["issuer-serial", "key-id"])
def test_openssl_envelope_with_a_legacy_and_an_oaep_record_opens_via_oaep(
    openssl: str, tmp_path: Path, keyid: bool
) -> None:
    pki = make_pki(recipient_alg="rsa-3072")
    files = pki.write(tmp_path)
    (tmp_path / "signed.p7s").write_bytes(signed_document(pki))
    made = run(
        openssl, "cms", "-encrypt", "-binary", "-aes-256-gcm", "-outform", "DER",
        "-in", tmp_path / "signed.p7s", "-out", tmp_path / "e.p7m",
        "-recip", files["tax_cert"],  # PKCS#1 v1.5 (openssl's default), first
        "-recip", files["tax_cert"], "-keyopt", "rsa_padding_mode:oaep",
        *(["-keyid"] if keyid else []),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    envelope = (tmp_path / "e.p7m").read_bytes()
    records = cms.ContentInfo.load(envelope)["content"]["recipient_infos"]
    algorithms = [r.chosen["key_encryption_algorithm"]["algorithm"].native for r in records]
    assert algorithms == ["rsaes_pkcs1v15", "rsaes_oaep"]
    for cert in (pki.tax_cert, None):
        opened = open_envelope(envelope, recipient=(pki.tax_key, cert), trust=pki.trust)
        assert opened.content == DOCUMENT and opened.report.valid, opened.report.errors
    streamed = open_stream(
        io.BytesIO(envelope), io.BytesIO(), recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust
    )
    assert streamed.report.valid
    result = esign(
        "open", tmp_path / "e.p7m", "--key", files["tax_key"], "--cert", files["tax_cert"],
        "--trust", files["ca"], "--crl", files["crl"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


# --- gpgsm: PKCS#1 v1.5 key transport, opened only on request -------------------------------


@pytest.fixture
def gpgsm_home(tmp_path: Path) -> Iterator[Path]:
    """A throw-away GnuPG home that trusts the test CA and checks no CRLs (offline)."""
    if shutil.which("gpgsm") is None:
        _need("gpgsm")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    (home / "gpgsm.conf").write_text("disable-crl-checks\ndisable-policy-checks\n")
    yield home
    subprocess.run(
        ["gpgconf", "--kill", "all"], env={**os.environ, "GNUPGHOME": str(home)}, check=False
    )


def test_gpgsm_envelope_opens_with_the_command_line_opt_in(
    gpgsm_home: Path, tmp_path: Path
) -> None:
    pki = make_pki(recipient_alg="rsa-3072")
    files = pki.write(tmp_path)
    env = {**os.environ, "GNUPGHOME": str(gpgsm_home)}
    imported = subprocess.run(
        ["gpgsm", "--batch", "--import", files["ca"], files["tax_cert"]],
        env=env, capture_output=True, check=False,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    ca_fingerprint = pki.ca.certificate.fingerprint(hashes.SHA1())  # gpgsm's trust list key
    (gpgsm_home / "trustlist.txt").write_text(f"{ca_fingerprint.hex(':').upper()} S relax\n")
    (tmp_path / "signed.p7s").write_bytes(signed_document(pki))
    encrypted = subprocess.run(
        ["gpgsm", "--batch", "--encrypt", "-r", pki.tax_cert.subject.rfc4514_string(),
         "--output", str(tmp_path / "e.p7m"), str(tmp_path / "signed.p7s")],
        env=env, capture_output=True, check=False,
    )  # fmt: skip
    assert encrypted.returncode == 0, encrypted.stderr
    records = cms.ContentInfo.load((tmp_path / "e.p7m").read_bytes())["content"]["recipient_infos"]
    assert records[0].chosen["key_encryption_algorithm"]["algorithm"].native == "rsaes_pkcs1v15"
    base = [
        "open", tmp_path / "e.p7m", "--key", files["tax_key"], "--cert", files["tax_cert"],
        "--trust", files["ca"], "--crl", files["crl"],
    ]  # fmt: skip
    refused = esign(*base)
    assert refused.returncode == 2 and "legacy algorithm refused" in refused.stderr
    assert "Traceback" not in refused.stderr
    opened = esign(*base, "--legacy-pkcs1v15", "--out", tmp_path / "doc")
    assert opened.returncode == 0, opened.stderr
    assert (tmp_path / "doc").read_bytes() == DOCUMENT


# --- RSA-PSS: a salt as long as the hash, which gpgsm expects --------------------------------


def _pss_signers(pki: Pki) -> dict[str, bytes]:
    """Every way esign writes an RSA-PSS CMS signature with an in-memory key or a handle."""
    from esign.keys import LocalKey
    from esign.signing.sign import countersign
    from esign.signing.timestamps import TimeStampAuthority

    signer = (pki.ivanov_key, pki.ivanov_cert)
    detached = sign(DOCUMENT, signer=signer, detached=True)
    tsa_key = pki.ivanov_key  # any RSA key: the TSA token is pyHanko's own signer path
    tsa_cert = pki.ca.issue(tsa_key.public_key(), subject="CN=PSS TSA", profile="tsa")
    stamped = sign(
        DOCUMENT,
        signer=signer,
        detached=True,
        timestamper=TimeStampAuthority(tsa_key, tsa_cert).timestamper,
    )
    signer_info = cms.ContentInfo.load(stamped)["content"]["signer_infos"][0]
    token = signer_info["unsigned_attrs"][0]["values"][0].dump()
    return {
        "in-memory key": detached,
        "local key handle": sign(
            DOCUMENT, signer=(LocalKey(pki.ivanov_key), pki.ivanov_cert), detached=True
        ),
        "counter-signature": countersign(detached, signer=signer),
        "time-stamp token": token,
    }


def _salts(der: bytes) -> list[int]:
    """The salt length of every RSA-PSS SignerInfo, counter-signatures included."""
    found = []
    infos = list(cms.ContentInfo.load(der)["content"]["signer_infos"])
    while infos:
        info = infos.pop()
        algorithm = info["signature_algorithm"]
        if algorithm["algorithm"].native == "rsassa_pss":
            params = algorithm["parameters"]
            assert params["hash_algorithm"]["algorithm"].native == "sha256"
            assert params["mask_gen_algorithm"]["parameters"]["algorithm"].native == "sha256"
            found.append(params["salt_length"].native)
        for attribute in info["unsigned_attrs"] or []:
            if attribute["type"].native == "counter_signature":
                infos.extend(attribute["values"])
    return found


def test_rsa_pss_salt_is_the_hash_length_everywhere(openssl: str, tmp_path: Path) -> None:
    """Each RSA-PSS signature esign writes says salt 32 for SHA-256 and is made so: openssl
    verifies it, and so does cryptography with exactly that salt length."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    pki = make_pki(signer_alg="rsa-3072")
    files = pki.write(tmp_path)
    (tmp_path / "doc").write_bytes(DOCUMENT)
    for what, der in _pss_signers(pki).items():
        assert _salts(der) and set(_salts(der)) == {32}, what
        info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
        public = pki.ivanov_key.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(  # raises if the salt were any other length
            info["signature"].native,
            info["signed_attrs"].untag().dump(),
            padding.PSS(padding.MGF1(hashes.SHA256()), 32),
            hashes.SHA256(),
        )
        (tmp_path / "s.p7s").write_bytes(der)
        content = [] if what == "time-stamp token" else ["-content", tmp_path / "doc"]
        checked = run(
            openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "s.p7s",
            *content, "-CAfile", files["ca"], "-purpose", "any", "-out", "/dev/null",
        )  # fmt: skip
        assert checked.returncode == 0, (what, checked.stderr)


def test_gpgsm_verifies_an_esign_rsa_pss_signature(gpgsm_home: Path, tmp_path: Path) -> None:
    pki = make_pki(signer_alg="rsa-3072")
    files = pki.write(tmp_path)
    env = {**os.environ, "GNUPGHOME": str(gpgsm_home)}
    imported = subprocess.run(
        ["gpgsm", "--batch", "--import", files["ca"]], env=env, capture_output=True, check=False
    )
    assert imported.returncode == 0, imported.stderr
    ca_fingerprint = pki.ca.certificate.fingerprint(hashes.SHA1())
    (gpgsm_home / "trustlist.txt").write_text(f"{ca_fingerprint.hex(':').upper()} S relax\n")
    (tmp_path / "doc").write_bytes(DOCUMENT)
    (tmp_path / "s.p7s").write_bytes(
        sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=True)
    )
    verified = subprocess.run(
        ["gpgsm", "--batch", "--status-fd", "1", "--verify", str(tmp_path / "s.p7s"),
         str(tmp_path / "doc")],
        env=env, capture_output=True, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, (verified.stdout, verified.stderr)
    assert b"[GNUPG:] GOODSIG" in verified.stdout
    assert b"[GNUPG:] TRUST_FULLY" in verified.stdout or b"VALIDSIG" in verified.stdout
