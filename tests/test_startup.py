"""Start-up: what ``import esign`` and the command line load before doing anything.

Speed itself is measured in benchmarks/; these tests pin the cause: building the
``esign`` parser (``esign --help``) imports neither pyHanko, aiohttp nor the PDF code, and
the lazy package exports still give the same objects as before.
"""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

#: pyHanko's PDF signer, its time-stamp client and aiohttp, the path validator, PDF code.
HEAVY = (
    "aiohttp",
    "pyhanko.sign.signers",
    "pyhanko.sign.timestamps",
    "pyhanko.pdf_utils",
    "pyhanko_certvalidator",
)


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {name for name in out.stdout.split() if name.startswith(HEAVY)}


@pytest.mark.parametrize(
    "code",
    [
        "import esign",
        "from esign.cli.main import build_parser; build_parser()",
        "import esign.signing.sign, esign.keys, esign.certs.profiles",
    ],
)
def test_heavy_stacks_are_not_imported(code: str) -> None:
    assert not _loaded_after(code)


def test_verify_skips_pyhankos_signer_and_network_stacks() -> None:
    loaded = _loaded_after("import esign.signing.verify")
    assert not {name for name in loaded if name.startswith(("aiohttp", "pyhanko.sign.signers"))}


def test_pyhanko_packages_still_whole_when_used() -> None:
    code = (
        "import esign, esign.signing.verify\n"
        "from pyhanko.sign import SimpleSigner, signers\n"
        "from pyhanko.sign.validation import *\n"
        "assert SimpleSigner is signers.SimpleSigner\n"
        "assert callable(async_validate_pdf_signature)\n"
        "import pyhanko.sign.timestamps\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_exports_are_the_objects() -> None:
    import esign
    import esign.signing
    import esign.signing.verify as verify_module  # the submodule named like the function
    from esign.signing import sign, verify
    from esign.signing.sign import sign as sign_function

    assert isinstance(verify_module, types.FunctionType)  # as with eager imports
    assert sys.modules["esign.signing.verify"].verify is verify
    assert sign is sign_function and esign.sign is sign
    assert esign.verify is verify
    assert "CertificateAuthority" in dir(esign)
    from esign.certs import CertificateAuthority
    from esign.certs.authority import CertificateAuthority as direct

    assert CertificateAuthority is direct
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = esign.nothing  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        from esign import nothing  # type: ignore[attr-defined]  # noqa: F401
