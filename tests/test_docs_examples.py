"""Every ```python block of docs/ and README.md runs, file by file, in order, as written.

One test per Markdown file, in a fresh Python process and a fresh working directory: a
page's blocks share one namespace (a page builds on its earlier examples), and nothing a
page does (environment variables, a PKCS#11 library loaded with its configuration, files
written) leaks into another page or into the test process. A traceback names the
Markdown file and line. A block that should not run is not a ```python block.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")] if "```python" in p.read_text()
)
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

RUNNER = """
import json, sys
page, blocks = json.loads(sys.stdin.read())
namespace = {"__name__": "__main__"}
for line, code in blocks:
    exec(compile("\\n" * (line - 1) + code, page, "exec"), namespace)
"""


def blocks(page: Path) -> list[tuple[int, str]]:
    """(line number of the first code line, code) of each ```python block."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


def test_every_page_with_python_is_collected() -> None:
    assert {p.name for p in PAGES} >= {"README.md", "signing.md", "simple.md", "envelope.md"}
    assert sum(len(blocks(p)) for p in PAGES) >= 30


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_examples_run(page: Path, tmp_path: Path) -> None:
    if "Pkcs11Token" in page.read_text() and not Path("/usr/lib/softhsm/libsofthsm2.so").exists():
        if os.environ.get("CI"):
            pytest.fail("softhsm2 is required on CI (.ci/run installs it)")
        pytest.skip("softhsm2 not installed")
    result = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps([str(page), blocks(page)]),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith(("ESIGN_", "SOFTHSM"))},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
