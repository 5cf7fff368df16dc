"""openssl with Debian's GOST engine, loaded through a private OPENSSL_CONF (never the
system default), and small GOST PKI builders shared by the GOST tests."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from esign.gost.authority import GostAuthority
from esign.gost.keys import GostPrivateKey, generate

ENGINE_GLOB = "/usr/lib/*/engines-3/gost.so"  # Debian: libengine-gost-openssl
PEM = serialization.Encoding.PEM

#: (openssl algorithm, engine paramset, esign key name): the sets the issue asks for.
SETS = (
    ("gost2012_256", "A", "gost2012-256-a"),
    ("gost2012_256", "XA", "gost2012-256-xa"),
    ("gost2012_256", "TCA", "gost2012-256-tca"),
    ("gost2012_512", "A", "gost2012-512-a"),
)
SET_IDS = [name for _, _, name in SETS]


@dataclass
class GostOpenssl:
    """The openssl binary and the environment that loads the GOST engine."""

    binary: str
    env: dict[str, str]

    def run(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [self.binary, *map(str, args)], env=self.env, cwd=cwd, capture_output=True, check=False
        )

    def ok(self, *args: str | Path, cwd: Path | None = None) -> bytes:
        result = self.run(*args, cwd=cwd)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout


def engine_config(folder: Path) -> Path:
    """An openssl.cnf that loads the GOST engine (keys, CMS) for this process only."""
    engine = next(iter(sorted(glob.glob(ENGINE_GLOB))), None)
    if engine is None:
        if os.environ.get("CI"):
            pytest.fail("the GOST engine is required on CI (.ci/run installs it)")
        pytest.skip("openssl GOST engine (libengine-gost-openssl) not installed")
    path = folder / "openssl-gost.cnf"
    path.write_text(
        "openssl_conf = openssl_def\n"
        "[openssl_def]\nengines = engine_section\n"
        "[engine_section]\ngost = gost_section\n"
        f"[gost_section]\nengine_id = gost\ndynamic_path = {engine}\ndefault_algorithms = ALL\n"
    )
    return path


def provider_config(folder: Path) -> Path:
    """An openssl.cnf that activates the GOST provider (hashlib then has Streebog)."""
    if not glob.glob("/usr/lib/*/ossl-modules/gostprov.so"):
        pytest.skip("openssl GOST provider (gostprov) not installed")
    path = folder / "openssl-gostprov.cnf"
    path.write_text(
        "openssl_conf = openssl_def\n[openssl_def]\nproviders = provider_section\n"
        "[provider_section]\ndefault = default_section\ngostprov = gost_section\n"
        "[default_section]\nactivate = 1\n[gost_section]\nactivate = 1\n"
    )
    return path


def write_key(key: GostPrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def write_cert(certificate: x509.Certificate, path: Path) -> Path:
    path.write_bytes(certificate.public_bytes(PEM))
    return path


@dataclass
class GostPki:
    """A GOST root CA and a signer (key + certificate) on one parameter set."""

    ca: GostAuthority
    key: GostPrivateKey
    cert: x509.Certificate


def make_gost_pki(signer_alg: str, ca_alg: str = "gost2012-256-tca") -> GostPki:
    ca = GostAuthority.create_root("CN=GOST Test Root,O=Tax Service", algorithm=ca_alg)
    key = generate(signer_alg)
    cert = ca.issue(key.public_key(), subject="CN=Ivanov")
    return GostPki(ca, key, cert)


def gost_openssl_from(binary: str | None, folder: Path) -> GostOpenssl:
    if binary is None:
        binary = shutil.which("openssl")
        if binary is None:
            pytest.skip("openssl command line not installed")
    env = dict(os.environ, OPENSSL_CONF=str(engine_config(folder)))
    return GostOpenssl(binary, env)
