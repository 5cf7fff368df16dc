"""The cost of the worst input each budget of ``esign.limits`` lets through.

Each row is one input built at the limit (the largest an attacker may send and still be
processed), timed against an ordinary verification in the same run: a 1 KiB attached
CAdES B-B signature, P-256, one CA and its CRL. The ratio is worst / ordinary (how many
ordinary verifications the worst input costs). Rows marked "refused" time the input one
past the limit, which must cost about as little as the ordinary one.

Run: ``python benchmarks/bench_budgets.py [--quick]`` (``--quick`` scales the KDF and CRL
rows down tenfold and says so in the row).
"""

from __future__ import annotations

import contextlib
import datetime
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from asn1crypto import cms, core
from asn1crypto import ocsp as asn1_ocsp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from esign import limits
from esign.certs import CertificateAuthority, TrustContext
from esign.certs.revinfo import parse_crl, parse_ocsp_response
from esign.envelope import open_envelope, seal
from esign.envelope.recipients import PasswordIdentity, PasswordRecipient
from esign.errors import EsignError
from esign.keys import generate_key
from esign.signing.sign import countersign, rebuilt, sign
from esign.signing.verify import verify

DOC = bytes(range(256)) * 4


def _time(call: Callable[[], Any], rounds: int = 1) -> float:
    """Median seconds of ``call``; an EsignError (a refusal) counts as the end."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        with contextlib.suppress(EsignError):
            call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def _big_crl(ca: CertificateAuthority, entries: int) -> bytes:
    """A CRL of ``entries`` serials, DER written directly (a builder takes minutes)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    utc = lambda t: _tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())  # noqa: E731
    when = utc(now - datetime.timedelta(days=1))
    revoked = b"".join(
        _tlv(0x30, _tlv(0x02, s.to_bytes((s.bit_length() + 8) // 8, "big")) + when)
        for s in range(1000, 1000 + entries)
    )
    algorithm = _tlv(0x30, _tlv(0x06, bytes.fromhex("2a8648ce3d040302")))  # ecdsa-with-SHA256
    tbs = _tlv(
        0x30,
        _tlv(0x02, b"\x01")
        + algorithm
        + ca.certificate.subject.public_bytes()
        + utc(now - datetime.timedelta(hours=1))
        + utc(now + datetime.timedelta(days=1))
        + _tlv(0x30, revoked),
    )
    key = ca.key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return _tlv(0x30, tbs + algorithm + _tlv(0x03, b"\x00" + signature))


def _with_signer(signed: bytes, signers: list[Any] | None = None, **changes: Any) -> bytes:
    content = cms.ContentInfo.load(signed)["content"]
    first = rebuilt(content["signer_infos"][0], **changes) if changes else None
    infos = signers if signers is not None else [first]
    new = rebuilt(content, signer_infos=cms.SignerInfos(infos))
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": new}).dump())


def main() -> None:
    quick = "--quick" in sys.argv
    scale = 10 if quick else 1
    ca = CertificateAuthority.create_root("CN=Budget Root CA")
    key = generate_key("ec-p256")
    cert = ca.issue(key.public_key(), subject="CN=Signer", profile="signing")
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    at = datetime.datetime.now(datetime.timezone.utc)
    ordinary = sign(DOC, signer=(key, cert), detached=False)
    verify(ordinary, trust=trust, at=at)  # warm the caches, as a service would be
    base = _time(lambda: verify(ordinary, trust=trust, at=at), rounds=21)
    rows: list[tuple[str, str, float]] = []

    def row(budget: str, worst: str, seconds: float) -> None:
        rows.append((budget, worst, seconds))
        print(f"{budget:32} {worst:58} {seconds * 1000:10.1f} ms {seconds / base:10.1f}x")

    print(f"ordinary verification: {base * 1000:.2f} ms\n")
    print(f"{'budget':32} {'worst input at the limit':58} {'time':>13} {'ratio':>11}")

    # counter-signatures: 16 real ones, each checked and its path validated
    counter = ordinary
    for _ in range(limits.MAX_COUNTERSIGNATURES):
        counter = countersign(counter, signer=(key, cert))
    row("MAX_COUNTERSIGNATURES", "16 valid counter-signatures",
        _time(lambda: verify(counter, trust=trust, at=at), 3))  # fmt: skip
    one = cms.ContentInfo.load(counter)["content"]["signer_infos"][0]["unsigned_attrs"][0]
    extra = [*one["values"], one["values"][0]]
    attribute = cms.CMSAttribute({"type": "counter_signature", "values": extra})
    over = _with_signer(ordinary, unsigned_attrs=cms.CMSAttributes([attribute]))
    row("MAX_COUNTERSIGNATURES", "17 counter-signatures (refused)",
        _time(lambda: verify(over, trust=trust, at=at), 3))  # fmt: skip

    # attributes: 64 unsigned attributes of an unknown type
    attrs = cms.CMSAttributes(
        [cms.CMSAttribute({"type": "1.3.6.1.4.1.99999.1", "values": [core.Null()]})]
        * limits.MAX_ATTRIBUTES
    )
    many_attrs = _with_signer(ordinary, unsigned_attrs=attrs)
    row("MAX_ATTRIBUTES", "64 unsigned attributes",
        _time(lambda: verify(many_attrs, trust=trust, at=at), 5))  # fmt: skip

    # signers: 64 copies of the signer (each verified)
    content = cms.ContentInfo.load(ordinary)["content"]
    signers = _with_signer(ordinary, [content["signer_infos"][0]] * limits.MAX_SIGNERS)
    row("MAX_SIGNERS", "64 signers", _time(lambda: verify(signers, trust=trust, at=at), 3))

    # certificates: 256 embedded certificates
    new = rebuilt(content, certificates=cms.CertificateSet([content["certificates"][0]] * 256))
    certs = bytes(cms.ContentInfo({"content_type": "signed_data", "content": new}).dump())
    row("MAX_CERTIFICATES", "256 embedded certificates",
        _time(lambda: verify(certs, trust=trust, at=at), 5))  # fmt: skip

    # CRL entries: a CRL at the entry limit, parsed; and carried by a forged signature
    entries = limits.MAX_CRL_ENTRIES // scale
    crl = _big_crl(ca, entries)
    note = "" if scale == 1 else f" (--quick: {entries})"
    row("MAX_CRL_ENTRIES", f"a CRL of {entries} entries, {len(crl) >> 20} MiB{note}",
        _time(lambda: parse_crl(crl)))  # fmt: skip
    value = bytearray(content["signer_infos"][0]["signature"].native)
    value[-1] ^= 1
    forged = _with_signer(ordinary, signature=cms.OctetString(bytes(value)))
    carried = cms.ContentInfo.load(forged)["content"]
    new = rebuilt(
        carried,
        crls=cms.RevocationInfoChoices([cms.RevocationInfoChoice({"crl": parse_crl(crl)})]),
    )
    forged_crl = bytes(cms.ContentInfo({"content_type": "signed_data", "content": new}).dump())
    row("signature before revinfo", "forged signature carrying that CRL",
        _time(lambda: verify(forged_crl, trust=trust, at=at)))  # fmt: skip

    # OCSP: 64 single responses
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.certificate, hashes.SHA256())
    der = ca.ocsp_response(request.build().public_bytes(serialization.Encoding.DER))
    basic = asn1_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
    data = basic["tbs_response_data"]
    tbs = rebuilt(
        data, responses=asn1_ocsp.Responses([data["responses"][0]] * limits.MAX_OCSP_RESPONSES)
    )
    big_ocsp = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {
                "response_type": "basic_ocsp_response",
                "response": rebuilt(basic, tbs_response_data=tbs),
            },
        }
    ).dump()
    row("MAX_OCSP_RESPONSES", "an OCSP response of 64 single responses",
        _time(lambda: parse_ocsp_response(big_ocsp), 5))  # fmt: skip

    # recipients: 256 records, ours the last one tried
    others = []
    for i in range(limits.MAX_RECIPIENTS - 1):
        other = generate_key("ec-p256")
        others.append(ca.issue(other.public_key(), subject=f"CN=R{i}", profile="encryption"))
    mine_key = generate_key("ec-p256")
    mine = ca.issue(mine_key.public_key(), subject="CN=Me", profile="encryption")
    envelope = seal(DOC, signer=(key, cert), recipients=[*others, mine])
    opener = (mine_key, mine)
    row("MAX_RECIPIENTS", "256 recipient records",
        _time(lambda: open_envelope(envelope, recipient=opener, trust=trust), 3))  # fmt: skip

    # KDF work per open: password records whose total is the budget, the wrong password
    per_record = limits.MAX_PBKDF2_ITERATIONS // scale
    records = max(1, limits.MAX_KDF_ITERATIONS_PER_OPEN // limits.MAX_PBKDF2_ITERATIONS)
    passwords = [PasswordRecipient(b"p%d" % i, 1000) for i in range(records + 255)]
    sealed = seal(DOC, signer=(key, cert), recipients=passwords)
    patched = _patch_iterations(sealed, per_record)
    note = "" if scale == 1 else f" (--quick: {per_record} each)"
    wrong = PasswordIdentity(b"x")
    row("MAX_KDF_ITERATIONS_PER_OPEN",
        f"{records + 255} records at the cap, wrong password{note}",
        _time(lambda: open_envelope(patched, recipient=wrong, trust=trust)))  # fmt: skip


def _patch_iterations(envelope: bytes, iterations: int) -> bytes:
    """Set every password record's PBKDF2 iteration count (what an attacker does)."""
    info = cms.ContentInfo.load(envelope)
    content = info["content"]
    records = []
    for record in content["recipient_infos"]:
        pwri = record.chosen
        kdf = pwri["key_derivation_algorithm"]
        params = rebuilt(kdf["parameters"], iteration_count=iterations)
        new_kdf = rebuilt(kdf, parameters=params)
        new_pwri = rebuilt(pwri, key_derivation_algorithm=new_kdf)
        records.append(cms.RecipientInfo({"pwri": new_pwri}))
    new = rebuilt(content, recipient_infos=cms.RecipientInfos(records))
    return bytes(
        cms.ContentInfo({"content_type": info["content_type"].native, "content": new}).dump()
    )


if __name__ == "__main__":
    main()
