"""Property-based tests: any change to a document or an envelope breaks verification.

Mutations are single edits — flip one bit, insert a byte, delete a byte, truncate —
drawn by hypothesis over the whole input. Verification of the original signature must
fail with a reason; opening a mutated envelope must raise an EsignError and nothing else.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esign import open_envelope, seal, sign, verify
from esign.errors import EsignError
from esign.signing.report import VerificationReport

from .conftest import Pki, make_pki

PKI: Pki = make_pki()  # module-level: hypothesis re-runs the body many times


@dataclass(frozen=True)
class Mutation:
    kind: str
    position: int
    value: int

    def apply(self, data: bytes) -> bytes:
        if not data and self.kind != "insert":
            return data + bytes([self.value])  # an empty input can only grow
        i = self.position % (len(data) + (1 if self.kind == "insert" else 0))
        if self.kind == "flip":
            return data[:i] + bytes([data[i] ^ (1 << (self.value % 8))]) + data[i + 1 :]
        if self.kind == "insert":
            return data[:i] + bytes([self.value]) + data[i:]
        if self.kind == "delete":
            return data[:i] + data[i + 1 :]
        if self.kind == "replace":
            replacement = self.value if self.value != data[i] else (self.value + 1) % 256
            return data[:i] + bytes([replacement]) + data[i + 1 :]
        return data[:i]  # truncate


mutations = st.builds(
    Mutation,
    kind=st.sampled_from(["flip", "insert", "delete", "truncate", "replace"]),
    position=st.integers(min_value=0, max_value=1 << 20),
    value=st.integers(min_value=0, max_value=255),
)


@given(document=st.binary(max_size=2048), mutation=mutations)
def test_any_change_to_the_document_fails_detached_verification(
    document: bytes, mutation: Mutation
) -> None:
    signature = sign(document, signer=(PKI.ivanov_key, PKI.ivanov_cert), detached=True)
    assert verify(signature, document, trust=PKI.trust).valid
    changed = mutation.apply(document)
    if changed == document:
        return  # cannot happen for these edits, but never assert on an unchanged input
    report = verify(signature, changed, trust=PKI.trust)
    assert not report.valid
    assert report.level is None
    assert [e.code for e in report.errors] == ["content_modified"]
    assert "changed" in report.errors[0].message


ENVELOPE = seal(
    b"Tax return 2026\nIncome: 1 250 000\n",
    signer=(PKI.ivanov_key, PKI.ivanov_cert),
    recipients=[PKI.tax_cert],
)


@given(mutation=mutations)
def test_any_change_to_the_envelope_raises_an_esign_error(mutation: Mutation) -> None:
    changed = mutation.apply(ENVELOPE)
    assert changed != ENVELOPE
    with pytest.raises(EsignError):
        open_envelope(changed, recipient=(PKI.tax_key, PKI.tax_cert), trust=PKI.trust)


def test_every_single_byte_of_the_envelope_is_protected() -> None:
    """Exhaustive over positions (not random): inverting any one byte makes opening fail."""
    opened_anyway = []
    for position in range(len(ENVELOPE)):
        changed = bytearray(ENVELOPE)
        changed[position] ^= 0xFF
        try:
            open_envelope(bytes(changed), recipient=(PKI.tax_key, PKI.tax_cert), trust=PKI.trust)
        except EsignError:
            continue
        opened_anyway.append(position)
    assert opened_anyway == [], f"positions that still opened: {opened_anyway}"


@given(data=st.binary(max_size=512))
def test_arbitrary_bytes_never_escape_as_another_exception(data: bytes) -> None:
    for call in (
        lambda: verify(data, b"x", trust=PKI.trust),
        lambda: open_envelope(data, recipient=(PKI.tax_key, PKI.tax_cert), trust=PKI.trust),
    ):
        with contextlib.suppress(EsignError):
            # Anything but an EsignError escaping fails the test; random bytes never verify.
            result = call()
            report = result if isinstance(result, VerificationReport) else result.report
            assert not report.valid


# --- envelopes with every recipient kind ----------------------------------------------------


def _pool() -> list[tuple[object, object]]:
    """(what to seal for, how to open) for every recipient kind, under PKI's CA."""
    from cryptography.hazmat.primitives.asymmetric import mlkem

    from esign.envelope.recipients import PasswordIdentity, PasswordRecipient, identity_for
    from esign.keys import generate_key

    from .test_envelope_recipients import kem_certificate

    pool: list[tuple[object, object]] = [(PKI.tax_cert, identity_for(PKI.tax_key, PKI.tax_cert))]
    for alg in ("rsa-3072", "ec-p384", "x25519"):
        key = generate_key(alg)
        cert = PKI.ca.issue(key.public_key(), subject=f"CN={alg}", profile="encryption")
        pool.append((cert, identity_for(key, cert)))
    kem_key = mlkem.MLKEM768PrivateKey.generate()
    kem_cert = kem_certificate(PKI, kem_key)
    pool.append((kem_cert, identity_for(kem_key, kem_cert)))
    pool.append((PasswordRecipient(b"pass phrase", 1000), PasswordIdentity(b"pass phrase")))
    return pool


POOL = _pool()
OUTSIDER = make_pki()
recipient_sets = st.lists(
    st.integers(min_value=0, max_value=len(POOL) - 1), min_size=1, max_size=4, unique=True
)


@given(document=st.binary(max_size=4096), chosen=recipient_sets, streamed=st.booleans())
def test_seal_then_open_returns_the_exact_document(
    document: bytes, chosen: list[int], streamed: bool
) -> None:
    import io

    from esign.envelope import open_stream, seal_stream

    recipients = [POOL[i][0] for i in chosen]
    signer = (PKI.ivanov_key, PKI.ivanov_cert)
    if streamed:
        out = io.BytesIO()
        seal_stream(io.BytesIO(document), out, signer=signer, recipients=recipients)  # type: ignore[arg-type]
        envelope = out.getvalue()
    else:
        envelope = seal(document, signer=signer, recipients=recipients)  # type: ignore[arg-type]
    for i in chosen:
        identity = POOL[i][1]
        opened = open_envelope(envelope, recipient=identity, trust=PKI.trust)  # type: ignore[arg-type]
        assert opened.content == document
        assert opened.report.valid, opened.report.errors
        dst = io.BytesIO()
        streamed_open = open_stream(io.BytesIO(envelope), dst, recipient=identity, trust=PKI.trust)  # type: ignore[arg-type]
        assert dst.getvalue() == document and streamed_open.report.valid


MULTI = seal(
    b"Tax return 2026\nIncome: 1 250 000\n",
    signer=(PKI.ivanov_key, PKI.ivanov_cert),
    recipients=[POOL[0][0], POOL[1][0], POOL[3][0], POOL[5][0]],  # type: ignore[list-item]
)


@given(mutation=mutations, opener=st.sampled_from([0, 1, 3, 5]), streamed=st.booleans())
def test_any_change_to_a_multi_recipient_envelope_fails_for_every_recipient(
    mutation: Mutation, opener: int, streamed: bool
) -> None:
    """Also changes inside *another* recipient's record: the signed binding pins them all."""
    import io

    from esign.envelope import open_stream

    changed = mutation.apply(MULTI)
    assert changed != MULTI
    identity = POOL[opener][1]
    with pytest.raises(EsignError):
        if streamed:
            open_stream(io.BytesIO(changed), io.BytesIO(), recipient=identity, trust=PKI.trust)  # type: ignore[arg-type]
        else:
            open_envelope(changed, recipient=identity, trust=PKI.trust)  # type: ignore[arg-type]


@given(document=st.binary(max_size=1024), chosen=recipient_sets, target=st.integers(0, 5))
def test_a_forwarded_envelope_is_detected(document: bytes, chosen: list[int], target: int) -> None:
    """A recipient re-encrypts the signed document to someone the signer did not name."""
    from esign.hazmat.envelope import encrypt_envelope

    envelope = seal(
        document,
        signer=(PKI.ivanov_key, PKI.ivanov_cert),
        recipients=[POOL[i][0] for i in chosen],  # type: ignore[misc]
    )
    first = open_envelope(envelope, recipient=POOL[chosen[0]][1], trust=PKI.trust)  # type: ignore[arg-type]
    if target in chosen:
        forward_to, identity = OUTSIDER.tax_cert, (OUTSIDER.tax_key, OUTSIDER.tax_cert)
    else:
        forward_to, identity = POOL[target]  # type: ignore[assignment]
    if target == 5:  # a password recipient: the forwarder picks a new password
        from esign.envelope.recipients import PasswordIdentity, PasswordRecipient

        forward_to, identity = PasswordRecipient(b"new", 1000), PasswordIdentity(b"new")  # type: ignore[assignment]
    forwarded = encrypt_envelope(first.signature, [forward_to])  # type: ignore[list-item]
    opened = open_envelope(forwarded, recipient=identity, trust=PKI.trust)  # type: ignore[arg-type]
    assert opened.content == document
    assert not opened.report.valid
    assert "not_an_intended_recipient" in [e.code for e in opened.report.errors]
