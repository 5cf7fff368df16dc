"""RFC 3161 time-stamps: a time-stamp authority, an HTTP TSA server and an HTTP client.

The token format (TimeStampReq/TimeStampResp, TSTInfo in a SignedData with an ESS
signing-certificate attribute) is pyHanko's: :class:`TimeStampAuthority` drives pyHanko's
``DummyTimeStamper`` with a real key, certificate and injectable clock, and
:class:`HttpTimeStamper` is pyHanko's ``TimeStamper`` speaking RFC 3161 over HTTP with the
standard library (no extra HTTP dependency). Either one is passed to ``esign.sign(...,
timestamper=...)`` to make a CAdES B-T signature.
"""

from __future__ import annotations

import asyncio
import datetime
import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import DummyTimeStamper, TimeStamper

from esign._sync import run_sync
from esign.certs.trust import to_asn1
from esign.errors import PARSE_ERRORS, EsignError, KeyUsageError, MalformedInputError
from esign.keys.algorithms import PrivateKey
from esign.keys.handle import KeyHandle

Clock = Callable[[], datetime.datetime]

MAX_TSA_MESSAGE = 64 << 10  # a TimeStampReq/Resp is a few KiB at most
TSA_CONTENT_TYPES = ("application/timestamp-query", "application/timestamp-reply")

#: ETSI EN 319 421 "best practices time-stamp policy" (itu-t(0) identified-organization(4)
#: etsi(0) time-stamp-policy(2023) policy-identifiers(1) baseline-ts-policy(1)): the
#: default TSTInfo policy. A TSA that publishes its own practice statement passes its own
#: OID as ``policy=`` (``esign tsa serve --policy``).
BASELINE_TSA_POLICY = "0.4.0.2023.1.1"


class TimeStampError(EsignError):
    """A time-stamp could not be obtained (TSA unreachable, refused, or malformed reply)."""

    code = "timestamp_failed"


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class _ClockedStamper(DummyTimeStamper):  # type: ignore[misc]
    """pyHanko's in-process TSA, with esign's clock and any signing key.

    pyHanko builds the TSTInfo (``_build_tst_info``: imprint, nonce, serial, policy); the
    token is then signed by pyHanko's general CMS signer, so EC, Ed25519, RSA-PSS and
    ML-DSA TSA keys all work and the token carries signing-certificate-v2 and CMS
    algorithm protection (pyHanko's own test TSA is RSA PKCS#1 v1.5 only).
    """

    def __init__(self, clock: Clock, signer: Any, digest: str, policy: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock
        self._signer = signer
        self._digest = digest
        self._policy = policy

    def _build_tst_info(self, *args: Any, **kwargs: Any) -> tsp.TSTInfo:
        # pyHanko's test stamper writes its own test policy OID; ours is the TSA's.
        tst_info: tsp.TSTInfo = super()._build_tst_info(*args, **kwargs)
        tst_info["policy"] = tsp.ObjectIdentifier(self._policy)
        return tst_info

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        result: tsp.TimeStampResp = run_sync(self.async_request_tsa_response(req))
        return result

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        moment = self._clock()
        tst_info = self._build_tst_info(req["message_imprint"], moment, req)
        content = cms.EncapsulatedContentInfo(
            {
                "content_type": cms.ContentType("tst_info"),
                "content": cms.ParsableOctetString(tst_info.dump()),
            }
        )
        token = await self._signer.async_sign_general_data(
            content,
            self._digest,
            detached=False,
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=moment),
        )
        status = tsp.PKIStatusInfo({"status": tsp.PKIStatus("granted")})
        return tsp.TimeStampResp({"status": status, "time_stamp_token": token})


class TimeStampAuthority:
    """A time-stamp authority: a key and a certificate with the timeStamping EKU.

    ``policy`` is the TSA policy OID written into every TSTInfo (RFC 3161 §2.4.2): the
    one in your TSA's practice statement; the default is ETSI's baseline policy.
    ``timestamper`` signs tokens in process; ``respond`` answers a DER TimeStampReq (what
    an HTTP TSA does); ``serve`` runs that over HTTP on the loopback interface.
    """

    def __init__(
        self,
        key: PrivateKey | KeyHandle,
        certificate: x509.Certificate,
        *,
        chain: Sequence[x509.Certificate] = (),
        clock: Clock = _utc_now,
        policy: str = BASELINE_TSA_POLICY,
    ) -> None:
        try:
            x509.ObjectIdentifier(policy)
        except ValueError:
            raise ValueError(f"not an object identifier for the TSA policy: {policy!r}") from None
        try:
            eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            eku = None
        if eku is None or ExtendedKeyUsageOID.TIME_STAMPING not in eku:
            raise KeyUsageError("a TSA certificate needs the timeStamping extended key usage")
        from esign.signing.sign import _pyhanko_signer, digest_for

        self.certificate = certificate
        self.policy = policy
        self.timestamper: TimeStamper = _ClockedStamper(
            clock,
            _pyhanko_signer(key, certificate, chain),
            digest_for(key),
            policy,
            tsa_cert=to_asn1(certificate),
            tsa_key=None,  # pyHanko's own signing is replaced: the key is never exported
            certs_to_embed=[to_asn1(c) for c in chain],
        )

    def respond(self, request: bytes) -> bytes:
        """Answer one DER TimeStampReq with a DER TimeStampResp (RFC 3161 §2.4)."""
        if len(request) > MAX_TSA_MESSAGE:
            raise MalformedInputError("time-stamp request too large")
        try:
            req = tsp.TimeStampReq.load(request, strict=True)
            req.native  # noqa: B018 - parse every field now
        except PARSE_ERRORS as exc:
            raise MalformedInputError(f"not a TimeStampReq: {exc}") from exc
        response: tsp.TimeStampResp = run_sync(self.timestamper.async_request_tsa_response(req))
        der: bytes = response.dump()
        return der

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> TsaServer:
        """Start an HTTP TSA on ``host:port`` (0: any free port) in a thread."""
        return TsaServer(self, host, port)


class TsaServer:
    """RFC 3161 over HTTP (POST application/timestamp-query), for tests and own TSAs.

    A context manager; ``url`` is where to send requests, ``stop`` shuts it down.
    """

    def __init__(self, authority: TimeStampAuthority, host: str, port: int) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Content-Type") != TSA_CONTENT_TYPES[0] or not (
                    0 < length <= MAX_TSA_MESSAGE
                ):
                    self.send_error(400, "expected a time-stamp query")
                    return
                try:
                    body = authority.respond(self.rfile.read(length))
                except EsignError:
                    self.send_error(400, "malformed time-stamp query")
                    return
                self.send_response(200)
                self.send_header("Content-Type", TSA_CONTENT_TYPES[1])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: tests and demos do not want access logs

        self._server = http.server.ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}/"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> TsaServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HttpTimeStamper(TimeStamper):  # type: ignore[misc]
    """An RFC 3161 client for a TSA over HTTP(S), on the standard library's urllib.

    pyHanko builds the request (with a nonce) and checks the reply; this class only
    carries bytes, with a timeout and a size bound.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        super().__init__(include_nonce=True)
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"a TSA URL must be http:// or https://, not {url!r}")
        self.url = url
        self.timeout = timeout

    def _post(self, body: bytes) -> bytes:
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={"Content-Type": TSA_CONTENT_TYPES[0]},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                if reply.headers.get("Content-Type") != TSA_CONTENT_TYPES[1]:
                    raise TimeStampError(f"the TSA at {self.url} did not send a time-stamp reply")
                data: bytes = reply.read(MAX_TSA_MESSAGE + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise TimeStampError(f"cannot reach the TSA at {self.url}: {exc}") from exc
        if len(data) > MAX_TSA_MESSAGE:
            raise TimeStampError("the TSA reply is too large")
        return data

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        data = await asyncio.to_thread(self._post, req.dump())
        try:
            response = tsp.TimeStampResp.load(data, strict=True)
            status = response["status"]["status"].native
        except PARSE_ERRORS as exc:
            raise TimeStampError(f"malformed TSA reply: {exc}") from exc
        if status not in ("granted", "granted_with_mods"):
            raise TimeStampError(f"the TSA refused the request: {status}")
        return response
