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

HEAVY = ("pyhanko", "aiohttp", "pyhanko_certvalidator")


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in out.stdout.split()}


@pytest.mark.parametrize(
    "code",
    [
        "import esign",
        "from esign.cli.main import build_parser; build_parser()",
        "import esign.signing.sign, esign.keys, esign.certs.profiles",
    ],
)
def test_heavy_stacks_are_not_imported(code: str) -> None:
    loaded = _loaded_after(code)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


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
