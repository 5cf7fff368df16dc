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


def test_cli_reference_runs_as_written(tmp_path: Path) -> None:
    """docs/cli.md's "Every command" block: each command, in order, in an empty folder."""
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("the openssl command line is needed")
    text = (ROOT / "docs" / "cli.md").read_text()
    section = text.split("## Every command", 1)[1]
    script = re.search(r"^```sh\n(.*?)^```", section, re.S | re.M)
    assert script is not None
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "esign").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m esign "$@"\n')
    (shim / "esign").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIGN_")}
    env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.group(1)],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert (work / "extracted.txt").read_bytes() == (work / "story" / "return.txt").read_bytes()
    assert (work / "opened.txt").read_bytes() == (work / "story" / "return.txt").read_bytes()


def _commands() -> list[str]:
    import argparse

    from esign.cli.main import build_parser

    found: list[str] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    before = len(found)
                    walk(sub, [*prefix, name])
                    if len(found) == before:
                        found.append(" ".join([*prefix, name]))

    walk(build_parser(), [])
    return found


def test_every_command_has_an_example_in_cli_md() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    missing = [c for c in _commands() if f"esign {c} " not in text]
    assert not missing, missing
