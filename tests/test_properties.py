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
            call()  # anything other than an EsignError fails the test
