"""Attached signatures as streams: esign.signing.streaming, and the CLI above 16 MiB.

Small documents here (the framing is the same at any size, and chunking is forced small);
test_signing_stream_large.py runs the 300 MiB case against openssl and measures memory.
"""

from __future__ import annotations

import datetime
import importlib
import io
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import esign
from esign.ber import TruncatedError
from esign.errors import EsignError, InputTooLargeError, MalformedInputError
from esign.signing import streaming
from esign.signing.streaming import read_signed_stream, sign_stream, verify_stream

from .conftest import Pki, run
from .test_cli import assert_clean_failure
from .test_cli import esign as esign_cli

verify_module = importlib.import_module("esign.signing.verify")
DOCUMENT = os.urandom(150_000) + b"the end"


def streamed(pki: Pki, document: bytes, **kw: object) -> bytes:
    out = io.BytesIO()
    size = sign_stream(io.BytesIO(document), out, signer=(pki.ivanov_key, pki.ivanov_cert), **kw)  # type: ignore[arg-type]
    assert size == len(document)
    return out.getvalue()


@pytest.fixture(scope="module")
def small_chunks() -> object:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(streaming, "CHUNK", 4096)  # many chunks from a small document
        yield


@pytest.fixture(scope="module")
def signature(pki: Pki, small_chunks: object) -> bytes:
    return streamed(pki, DOCUMENT)


@pytest.mark.parametrize("document", [b"", b"x", DOCUMENT], ids=["empty", "one-byte", "chunked"])
def test_round_trip_same_report_as_verify(pki: Pki, small_chunks: object, document: bytes) -> None:
    signature = streamed(pki, document)
    # one fixed moment for both verifiers, taken after the session's PKI was made (under
    # pytest-xdist a module-level "now" can precede the certificates)
    at = datetime.datetime.now(datetime.timezone.utc)
    assert signature.startswith(b"\x30\x80")  # BER, indefinite length, as openssl -stream
    content = io.BytesIO()
    report = verify_stream(io.BytesIO(signature), trust=pki.trust, out=content, at=at)
    assert report.valid, report.errors
    assert content.getvalue() == document
    # The in-memory verifier reads the same bytes to the same report, field for field.
    assert esign.verify(signature, trust=pki.trust, at=at).to_dict() == report.to_dict()


def test_openssl_reads_esign_and_esign_reads_openssl_stream(
    pki: Pki, openssl: str, tmp_path: Path, small_chunks: object
) -> None:
    files = pki.write(tmp_path)
    ours = tmp_path / "ours.p7s"
    ours.write_bytes(streamed(pki, DOCUMENT))
    verified = run(
        openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", ours,
        "-CAfile", files["ca"], "-out", tmp_path / "ours.out",
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert (tmp_path / "ours.out").read_bytes() == DOCUMENT
    (tmp_path / "doc").write_bytes(DOCUMENT)
    for extra in (["-stream"], []):  # BER indefinite lengths, and openssl's DER
        theirs = tmp_path / "theirs.p7s"
        signed = run(
            openssl, "cms", "-sign", "-binary", "-nodetach", *extra, "-outform", "DER",
            "-in", tmp_path / "doc", "-signer", files["ivanov_cert"],
            "-inkey", files["ivanov_key"], "-out", theirs,
        )  # fmt: skip
        assert signed.returncode == 0, signed.stderr
        assert theirs.read_bytes().startswith(b"\x30\x80") == bool(extra)
        content = io.BytesIO()
        with theirs.open("rb") as source:
            report = verify_stream(source, trust=pki.trust, out=content)
        assert report.valid, report.errors
        assert content.getvalue() == DOCUMENT


@given(st.data())
def test_any_flipped_byte_is_never_valid(pki: Pki, signature: bytes, data: st.DataObject) -> None:
    """Anywhere in a streamed signature — framing, document, certificates, signer info."""
    position = data.draw(st.integers(0, len(signature) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = bytearray(signature)
    tampered[position] ^= mask
    try:
        report = verify_stream(io.BytesIO(bytes(tampered)), trust=pki.trust)
    except EsignError:
        return
    assert not report.valid, (position, mask)


def test_every_region_flipped_is_never_valid(pki: Pki, signature: bytes) -> None:
    """Deterministic companion: every header byte, the framing of the first and last
    chunks, bytes inside the document, and every 5th byte after it (certificates, signer)."""
    found = read_signed_stream(io.BytesIO(signature))
    trailer = len(found.certificates) + len(found.signer_infos) + 6 * 2  # + the EOCs
    first = signature.index(b"\x04\x82\x10\x00")  # the first 4 KiB chunk's header
    positions = [*range(first + 4), *range(first + 4096, first + 4096 + 8)]
    positions += [first + 50_000, len(signature) - trailer - 9]
    positions += range(len(signature) - trailer - 8, len(signature), 5)
    for position in positions:
        tampered = bytearray(signature)
        tampered[position] ^= 0x01
        try:
            report = verify_stream(io.BytesIO(bytes(tampered)), trust=pki.trust)
        except EsignError:
            continue
        assert not report.valid, position


def test_truncated_trailing_and_detached_are_named_errors(pki: Pki, signature: bytes) -> None:
    for cut in (1, 40, len(signature) // 2, len(signature) - 1):
        with pytest.raises(TruncatedError, match="truncated"):
            verify_stream(io.BytesIO(signature[:cut]), trust=pki.trust)
    with pytest.raises(MalformedInputError, match="bytes follow its end"):
        verify_stream(io.BytesIO(signature + b"\x00"), trust=pki.trust)
    detached = esign.sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert))
    with pytest.raises(MalformedInputError, match="detached signature"):
        verify_stream(io.BytesIO(detached), trust=pki.trust)
    with pytest.raises(MalformedInputError, match="the input is text"):
        verify_stream(io.BytesIO(b"hello, this is not a signature"), trust=pki.trust)
    with pytest.raises(MalformedInputError, match="PEM signature is read in memory"):
        verify_stream(io.BytesIO(b"-----BEGIN CMS-----\nMA==\n"), trust=pki.trust)


def test_budget_applies_to_everything_but_the_document(
    pki: Pki, signature: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The document is unbounded; the parts after it keep MAX_CMS_BYTES (here made small)."""
    found = read_signed_stream(io.BytesIO(signature))
    non_content = len(found.certificates) + len(found.crls) + len(found.signer_infos)
    assert found.size == len(DOCUMENT) > non_content
    monkeypatch.setattr(streaming, "MAX_CMS_BYTES", non_content)
    assert verify_stream(io.BytesIO(signature), trust=pki.trust).valid  # at the edge
    monkeypatch.setattr(streaming, "MAX_CMS_BYTES", non_content - 1)
    with pytest.raises(InputTooLargeError, match="the document itself has no limit"):
        verify_stream(io.BytesIO(signature), trust=pki.trust)


def test_digest_algorithm_budget_at_its_edge(pki: Pki, signature: bytes) -> None:
    """Each announced digest is a pass over the whole document: at most MAX_DIGEST_ALGORITHMS."""
    from asn1crypto import algos, cms

    from esign import limits

    names = ["sha256", "sha1", "sha224", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"]
    names.append("sha3_224")
    original = cms.DigestAlgorithms([{"algorithm": "sha256"}]).dump()
    assert original in signature
    for count, fits in ((limits.MAX_DIGEST_ALGORITHMS, True), (len(names), False)):
        announced = cms.DigestAlgorithms(
            [algos.DigestAlgorithm({"algorithm": name}) for name in names[:count]]
        ).dump()
        changed = signature.replace(original, announced, 1)
        if fits:
            assert verify_stream(io.BytesIO(changed), trust=pki.trust).valid
        else:
            with pytest.raises(InputTooLargeError, match="MAX_DIGEST_ALGORITHMS"):
                verify_stream(io.BytesIO(changed), trust=pki.trust)


def test_verify_of_large_bytes_streams(
    pki: Pki, signature: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """esign.verify no longer refuses an attached signature above the in-memory budget."""
    monkeypatch.setattr(verify_module, "MAX_CMS_BYTES", len(signature) - 1)
    report = esign.verify(signature, trust=pki.trust)
    assert report.valid, report.errors


def test_cli_streams_large_attached_files(pki: Pki, tmp_path: Path) -> None:
    """Above 16 MiB: esign sign --attached writes BER as a stream; esign verify --out FILE
    and --out - extract the document only once it verified."""
    files = pki.write(tmp_path)
    document = tmp_path / "big.bin"
    with document.open("wb") as handle:
        handle.truncate(17 << 20)  # sparse, with data at both ends
        handle.write(os.urandom(4096))
        handle.seek(-5, os.SEEK_END)
        handle.write(b"tail!")
    signature = tmp_path / "big.p7s"
    sign = esign_cli(
        "sign", document, "--key", files["ivanov_key"], "--cert", files["ivanov_cert"],
        "--attached", "--out", signature,
    )  # fmt: skip
    assert sign.returncode == 0, sign.stderr
    assert "streamed" in sign.stdout
    assert signature.read_bytes()[:2] == b"\x30\x80"
    trust = ["--trust", files["ca"], "--crl", files["crl"]]
    out = tmp_path / "content.bin"
    verified = esign_cli("verify", signature, *trust, "--out", out)
    assert verified.returncode == 0, verified.stderr
    assert out.read_bytes() == document.read_bytes()
    import subprocess
    import sys

    piped = subprocess.run(
        [sys.executable, "-m", "esign", "verify", str(signature), *map(str, trust), "--out", "-"],
        capture_output=True,
        check=False,
    )
    assert piped.returncode == 0 and piped.stdout == document.read_bytes()
    # One byte of the document changed: exit 1, nothing written.
    with signature.open("r+b") as handle:
        handle.seek(10 << 20)
        byte = handle.read(1)
        handle.seek(10 << 20)
        handle.write(bytes([byte[0] ^ 0x01]))
    tampered_out = tmp_path / "tampered.bin"
    tampered = esign_cli("verify", signature, *trust, "--out", tampered_out)
    assert tampered.returncode == 1 and "content_modified" in tampered.stdout
    assert not tampered_out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".esign-")]
    # Truncated: exit 2, one line.
    with signature.open("r+b") as handle:
        handle.truncate(12 << 20)
    assert_clean_failure(esign_cli("verify", signature, *trust), 2)


def test_gost_attached_signature_verifies_as_a_stream() -> None:
    """Streebog is not in hashlib: the document is spooled to a temporary file on the way
    and the GOST verifier reads it from there; the report is verify's."""
    pytest.importorskip("gostcrypto")
    from cryptography.hazmat.primitives.serialization import Encoding

    from esign.certs import TrustContext

    from ._gost import make_gost_pki

    gpki = make_gost_pki("gost2012-256-tca")
    document = b"tax return 2026, Ivanov I. I." * 1000
    signature = esign.sign(document, signer=(gpki.key, gpki.cert), detached=False)  # type: ignore[arg-type]
    trust = TrustContext([gpki.ca.certificate], crls=[gpki.ca.crl().public_bytes(Encoding.DER)])
    at = datetime.datetime.now(datetime.timezone.utc)  # after the certificates were issued
    content = io.BytesIO()
    report = verify_stream(io.BytesIO(signature), trust=trust, out=content, at=at)
    assert report.valid, report.errors
    assert content.getvalue() == document
    assert esign.verify(signature, trust=trust, at=at).to_dict() == report.to_dict()
    with pytest.raises(EsignError, match="GOST signatures are not streamed"):
        sign_stream(io.BytesIO(document), io.BytesIO(), signer=(gpki.key, gpki.cert))  # type: ignore[arg-type]
