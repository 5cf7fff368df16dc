"""docs/notebooks/ run top to bottom in a real Jupyter kernel (nbclient), and show HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "docs" / "notebooks").glob("*.ipynb"))


def test_the_taxpayer_notebook_exists() -> None:
    assert [p.name for p in NOTEBOOKS] == ["taxpayer.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_and_renders_html(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # raises CellExecutionError on any failing cell
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    text = "".join(o.get("text", "") for o in outputs)
    assert "['SIMPLE', 'ADVANCED', 'QUALIFIED']" in text  # the three levels side by side
    assert "certificate authority" in html and "recently revoked" in html
    assert "qualified statements" in html and "QcCompliance" in html
    assert "opened envelope" in html and "content not shown" in html
    assert "income 1 250 000" not in html  # an envelope's view never shows the document
    assert "certificate path" in html and "not trusted" in html  # after revocation
    assert "evidence missing" in html and "<li>" in html and "[&#x27;" not in html
