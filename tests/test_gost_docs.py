"""The Python example of docs/gost.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "gost.md"


def test_gost_docs_example_runs(capsys: object) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)  # our own docs, run as written
    report = namespace["report"]
    assert "CryptoPro-A (1.2.643.2.2.35.1)" in report.signature_algorithm  # type: ignore[attr-defined]
