"""GOST R 34.10-2012 / 34.11-2012 (Streebog): keys, a GOST CA, CMS/CAdES (extra ``gost``).

Modules: :mod:`~esign.gost.params` (parameter sets and OIDs), :mod:`~esign.gost.keys`,
:mod:`~esign.gost.streebog`, :mod:`~esign.gost.x509` (GOST-signed certificates, CRLs, OCSP),
:mod:`~esign.gost.authority` (``GostAuthority``), :mod:`~esign.gost.chain`
(pyhanko-certvalidator plug-ins), :mod:`~esign.gost.cms` and :mod:`~esign.gost.verify`.
``esign.sign`` / ``esign.verify`` dispatch here for GOST keys and signatures, and
``esign.keys.generate_key("gost2012-256-a")`` makes a key. The package exports the
authority and the key types; the arithmetic is gostcrypto's, imported only when a GOST
operation runs.
"""

from typing import TYPE_CHECKING

from esign._lazy import lazy_exports

if TYPE_CHECKING:
    from esign.gost.authority import GostAuthority
    from esign.gost.keys import GostPrivateKey, GostPublicKey

__all__ = ["GostAuthority", "GostPrivateKey", "GostPublicKey"]

lazy_exports(
    __name__,
    {
        "GostAuthority": "esign.gost.authority",
        "GostPrivateKey": "esign.gost.keys",
        "GostPublicKey": "esign.gost.keys",
    },
)
