"""A trust context as plain bytes, so it can travel to worker processes and cluster nodes.

:class:`~esign.certs.TrustContext` holds parsed certificates and caches that do not pickle;
a :class:`TrustSpec` holds what builds one (DER certificates, CRLs, OCSP responses and the
settings), is sent to each worker once, and is turned into a context there once.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from esign.certs import TrustContext


def _ders(certificates: Any) -> tuple[bytes, ...]:
    return tuple(c if isinstance(c, bytes) else c.public_bytes(Encoding.DER) for c in certificates)


@dataclass(frozen=True)
class TrustSpec:
    """The inputs of a :class:`TrustContext`, as bytes and plain settings."""

    anchors: tuple[bytes, ...]
    intermediates: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsps: tuple[bytes, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        anchors: Any,
        *,
        intermediates: Any = (),
        crls: Any = (),
        ocsps: Any = (),
        **options: Any,
    ) -> TrustSpec:
        """Anchors and intermediates as certificates or DER; other options as for the context."""
        return cls(_ders(anchors), _ders(intermediates), tuple(crls), tuple(ocsps), options)

    @classmethod
    def from_context(cls, trust: TrustContext) -> TrustSpec:
        """What a context was built from (its public settings: anchors, CRLs, policy, ...).

        OCSP responses given to the context are not public: pass them to :meth:`of`.
        """
        options = {
            name: getattr(trust, name)
            for name in (
                "name",
                "check_revocation",
                "legacy_algorithms",
                "allow_fetching",
                "fetch_timeout",
                "policy",
                "trusted_lists",
                "retroactive_revocation",
            )
            if hasattr(trust, name)
        }
        return cls(_ders(trust.anchors), _ders(trust.intermediates), tuple(trust.crls), (), options)

    def build(self) -> TrustContext:
        """The trust context (done once per worker)."""
        return TrustContext(
            [x509.load_der_x509_certificate(d) for d in self.anchors],
            intermediates=[x509.load_der_x509_certificate(d) for d in self.intermediates],
            crls=list(self.crls),
            ocsps=list(self.ocsps),
            **self.options,
        )

    @property
    def token(self) -> str:
        """A digest naming this spec, so a worker builds each context once."""
        return hashlib.sha256(pickle.dumps(self, protocol=5)).hexdigest()
