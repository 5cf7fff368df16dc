"""The public surface: what each package exports, as the reference docs list it.

docs/reference/index.md ("API surface") names every stable export and every hazmat call;
these tests fail when a package's ``__all__`` and that table drift apart, when an export
does not resolve, when a hazmat call leaks into a stable package, or when the user
documentation reaches into an internal envelope module.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SURFACE = (ROOT / "docs" / "reference" / "index.md").read_text()
ROW = re.compile(r"^\| `(esign[a-z_.]*)` \| ([^|]*) \|", re.M)
INTERNAL = re.compile(r"esign\.envelope\.(writer|reader|cipher|binding|ber)\b|recipients\.common")


def documented() -> dict[str, set[str]]:
    """package -> the names its row of the API surface tables lists."""
    section = SURFACE[SURFACE.index("## API surface") :]
    return {m[1]: set(re.findall(r"`([A-Za-z_0-9]+)`", m[2])) for m in ROW.finditer(section)}


def test_the_surface_tables_cover_every_package() -> None:
    assert set(documented()) == {
        "esign",
        "esign.keys",
        "esign.certs",
        "esign.signing",
        "esign.envelope",
        "esign.envelope.recipients",
        "esign.simple",
        "esign.batch",
        "esign.gost",
        "esign.hazmat.envelope",
        "esign.hazmat.signing",
    }


@pytest.mark.parametrize("package", sorted(documented()))
def test_all_matches_the_docs_and_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == documented()[package]
    assert len(module.__all__) == len(set(module.__all__))
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_hazmat_calls_stay_out_of_the_stable_packages() -> None:
    hazmat = documented()["esign.hazmat.envelope"] | documented()["esign.hazmat.signing"]
    for package, names in documented().items():
        if not package.startswith("esign.hazmat"):
            assert not names & hazmat, package


def test_user_documentation_uses_no_internal_envelope_module() -> None:
    pages = [ROOT / "README.md", ROOT / "docs" / "notebooks" / "taxpayer.ipynb"]
    pages += (ROOT / "docs").glob("*.md")
    for page in pages:
        for line in page.read_text().splitlines():
            if "import" in line:
                assert not INTERNAL.search(line), f"{page.name}: {line.strip()}"
