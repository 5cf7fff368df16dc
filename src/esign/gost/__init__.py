"""GOST R 34.10-2012 / 34.11-2012 (Streebog): keys, a GOST CA, CMS/CAdES (extra ``gost``).

Modules: :mod:`~esign.gost.params` (parameter sets and OIDs), :mod:`~esign.gost.keys`,
:mod:`~esign.gost.streebog`, :mod:`~esign.gost.x509` (GOST-signed certificates, CRLs, OCSP),
:mod:`~esign.gost.authority` (``GostAuthority``), :mod:`~esign.gost.chain`
(pyhanko-certvalidator plug-ins), :mod:`~esign.gost.cms` and :mod:`~esign.gost.verify`.
``esign.sign`` / ``esign.verify`` dispatch here for GOST keys and signatures. The
arithmetic is gostcrypto's, imported only when a GOST operation runs.
"""
