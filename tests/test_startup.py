"""Start-up: what ``import esign`` and the command line load before doing anything.

Speed itself is measured in benchmarks/; these tests pin the cause: building the
``esign`` parser (``esign --help``) imports neither pyHanko, aiohttp nor the PDF code, and
the lazy package exports still give the same objects as before.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any

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


#: What building the parser must not import: the library behind the option choices (CA
#: profiles, the registry and SQLite, trusted lists, key algorithms, asn1crypto).
PARSER_FREE = (
    "esign.certs.profiles",
    "esign.certs.registry",
    "esign.certs.trusted_list",
    "esign.keys.algorithms",
    "sqlite3",
    "asn1crypto",
)
#: What verifying an ordinary signature must not import: pyHanko's CMS/PDF validation
#: (its integrity check is the fallback for unusual signatures), the mail parser and the
#: signer (S/MIME input only), the GOST verifier, the CA.
VERIFY_FREE = (
    "pyhanko.sign.validation.generic_cms",
    "pyhanko.sign.diff_analysis",
    "pyhanko.pdf_utils.reader",
    "email.message",
    "esign.signing.sign",
    "esign.gost.verify",
    "esign.certs.profiles",
    "esign.certs.registry",
    "aiohttp",
)


def _modules_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_parser_leaves_option_names_to_the_library_until_used() -> None:
    loaded = _modules_after("from esign.cli.main import build_parser; build_parser()")
    assert not {m for m in loaded if m.startswith(PARSER_FREE)}


def test_lazy_choices_still_check_and_list_the_names(capsys: pytest.CaptureFixture[str]) -> None:
    from esign.certs.profiles import PROFILES
    from esign.cli.main import build_parser
    from esign.keys.algorithms import ALGORITHMS

    parser = build_parser()
    args = parser.parse_args(["key", "generate", "--alg", "ed25519", "--out", "k.pem"])
    assert args.alg == "ed25519"
    with pytest.raises(SystemExit):
        parser.parse_args(["key", "generate", "--alg", "rsa-512", "--out", "k.pem"])
    assert "invalid choice: 'rsa-512'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["cert", "issue", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert ", ".join(sorted(PROFILES)) in shown
    with pytest.raises(SystemExit):
        parser.parse_args(["key", "generate", "--help"])
    assert ", ".join(sorted(ALGORITHMS)) in " ".join(capsys.readouterr().out.split())


def test_revocation_reasons_in_the_help_are_the_registrys() -> None:
    from esign.certs.registry import REVOCATION_REASONS
    from esign.cli.ca_cmds import REASONS

    assert REASONS.split(", ") == list(REVOCATION_REASONS)


def test_verify_command_imports_only_what_the_fast_path_needs(pki: Any, tmp_path: Path) -> None:
    import esign

    files = pki.write(tmp_path)
    (tmp_path / "doc").write_bytes(b"1 KiB of tax return" * 50)
    for name, detached in (("detached.p7s", True), ("attached.p7s", False)):
        signature = esign.sign(
            (tmp_path / "doc").read_bytes(),
            signer=(pki.ivanov_key, pki.ivanov_cert),
            detached=detached,
        )
        (tmp_path / name).write_bytes(signature)
    for args in (
        ["detached.p7s", "--data", str(tmp_path / "doc")],
        ["attached.p7s"],
    ):
        argv = ["esign", "verify", *args, "--trust", str(files["ca"]), "--crl", str(files["crl"])]
        loaded = _modules_after(
            "import os\n"
            f"os.chdir({str(tmp_path)!r})\n"
            f"sys.argv = {argv!r}\n"
            "from esign.cli.main import main\n"
            "assert main() == 0\n"
        )
        assert "esign.signing.verify" in loaded  # it did verify
        assert not {m for m in loaded if m.startswith(VERIFY_FREE)}, args
