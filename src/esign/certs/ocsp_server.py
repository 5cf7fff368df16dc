"""An OCSP responder over HTTP (RFC 6960 Appendix A): POST and GET, from a CA's registry.

Small on purpose: the standard library's threaded HTTP server, bounded request sizes, and
:meth:`CertificateAuthority.ocsp_response` for every answer; an unreadable request gets
``malformedRequest``, a responder key that fails to sign ``internalError`` (RFC 6960 §2.3).
Use it as a context manager::

    with OcspServer(ca) as server:          # 127.0.0.1, a free port
        print(server.url)                   # give this to `openssl ocsp -url`
"""

from __future__ import annotations

import base64
import binascii
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509 import ocsp

from esign.certs.revocation import unsuccessful_ocsp
from esign.errors import OcspSigningError
from esign.keys.algorithms import PrivateKey

if TYPE_CHECKING:
    from esign.certs.authority import CertificateAuthority

MAX_REQUEST = 64 << 10  # an OCSP request for one certificate is a few hundred bytes


class OcspServer:
    """Serve ``ca``'s OCSP answers on ``host:port`` (port 0: any free port) in a thread."""

    def __init__(
        self,
        ca: CertificateAuthority,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        responder: tuple[PrivateKey, x509.Certificate] | None = None,
    ) -> None:
        self.ca = ca
        self.responder = responder
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_REQUEST:
                    self.send_error(413 if length else 400)
                    return
                self._answer(self.rfile.read(length))

            def do_GET(self) -> None:
                encoded = urllib.parse.unquote(self.path.rsplit("/", 1)[-1])
                if len(encoded) > MAX_REQUEST:
                    self.send_error(414)
                    return
                try:
                    der = base64.b64decode(encoded, validate=True)
                except (binascii.Error, ValueError):
                    der = b""  # answered as malformedRequest
                self._answer(der)

            def _answer(self, der: bytes) -> None:
                try:
                    body = server.ca.ocsp_response(der, responder=server.responder)
                except OcspSigningError:  # the responder's fault, not the request's
                    body = unsuccessful_ocsp(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: a responder logs to its operator, not to stderr of tests

        self._http = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> OcspServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    def __enter__(self) -> OcspServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
