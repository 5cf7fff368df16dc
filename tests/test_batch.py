"""Batch verification and opening: in-process, a local pool, a real Dask LocalCluster.

Every engine must give the same verdict per item as ``esign.verify`` on its own; a bad
item is a row, never a crash; a rerun skips what is done."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import esign
from esign.batch import BatchItem, TrustSpec, collect_items, open_many, verify_many
from esign.batch.results import done_paths
from esign.cli.main import main
from esign.errors import MalformedInputError
from tests.conftest import Pki

N_GOOD = 12


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, pki: Pki, other_pki: Pki) -> Path:
    """Detached and attached signatures, a tampered one, an untrusted one, and junk."""
    folder = tmp_path_factory.mktemp("corpus")
    for i in range(N_GOOD):
        doc = folder / f"return-{i:02}.txt"
        doc.write_bytes(f"tax return {i}".encode())
        sig = esign.sign(doc.read_bytes(), signer=(pki.ivanov_key, pki.ivanov_cert), detached=True)
        (folder / f"return-{i:02}.txt.p7s").write_bytes(sig)
    attached = esign.sign(b"attached", signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)
    (folder / "attached.p7m").write_bytes(attached)
    (folder / "tampered.txt").write_bytes(b"original")
    tampered = esign.sign(b"original", signer=(pki.ivanov_key, pki.ivanov_cert), detached=True)
    (folder / "tampered.txt.p7s").write_bytes(tampered)
    (folder / "tampered.txt").write_bytes(b"changed")
    (folder / "stranger.txt").write_bytes(b"hello")
    (folder / "stranger.txt.p7s").write_bytes(
        esign.sign(b"hello", signer=(other_pki.ivanov_key, other_pki.ivanov_cert), detached=True)
    )
    (folder / "junk.p7s").write_bytes(os.urandom(200))
    (folder / "notes.txt").write_bytes(b"not a signature, not picked up by the folder scan")
    return folder


def rows(path: Path) -> dict[str, dict[str, object]]:
    lines = path.read_text().splitlines()
    found = {json.loads(line)["path"]: json.loads(line) for line in lines}
    assert len(found) == len(lines), "an item was written twice"
    return found


def expected(corpus: Path, pki: Pki) -> dict[str, bool]:
    """The verdict of ``esign.verify`` alone, item by item (junk: not valid)."""
    verdicts = {}
    for item in collect_items([corpus]):
        data = None if item.data is None else Path(item.data).read_bytes()
        try:
            report = esign.verify(Path(item.path).read_bytes(), data, trust=pki.trust)
            verdicts[item.path] = report.valid
        except MalformedInputError:
            verdicts[item.path] = False
    return verdicts


def test_collect_pairs_detached_data_and_skips_other_files(corpus: Path) -> None:
    items = {Path(i.path).name: i for i in collect_items([corpus])}
    assert set(items) == {
        *(f"return-{i:02}.txt.p7s" for i in range(N_GOOD)),
        "attached.p7m",
        "tampered.txt.p7s",
        "stranger.txt.p7s",
        "junk.p7s",
    }
    assert items["return-00.txt.p7s"].data == str(corpus / "return-00.txt")
    assert items["attached.p7m"].data is None
    with pytest.raises(MalformedInputError):
        list(collect_items([corpus / "missing.p7s"]))


@pytest.mark.parametrize("workers", [1, 2])
def test_local_engines_match_verify_item_by_item(
    corpus: Path, pki: Pki, tmp_path: Path, workers: int
) -> None:
    out = tmp_path / "results.jsonl"
    summary = verify_many(
        collect_items([corpus]), trust=pki.trust, out=out, workers=workers, chunk_size=3
    )
    found = rows(out)
    assert {p: r["valid"] for p, r in found.items()} == expected(corpus, pki)
    assert (summary.valid, summary.not_valid, summary.failed) == (N_GOOD + 1, 2, 1)
    junk = found[str(corpus / "junk.p7s")]
    assert junk["processed"] is False and junk["errors"]
    assert junk["subindication"] == "FORMAT_FAILURE"
    good = found[str(corpus / "return-00.txt.p7s")]
    assert good["level"] == "advanced"
    assert good["signer"]["subject"] == pki.ivanov_cert.subject.rfc4514_string()  # type: ignore[index]
    tampered = found[str(corpus / "tampered.txt.p7s")]
    assert tampered["valid"] is False and tampered["errors"]


def test_dask_local_cluster_gives_the_same_rows(corpus: Path, pki: Pki, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        out = tmp_path / "dask.jsonl"
        summary = verify_many(
            collect_items([corpus]), trust=pki.trust, out=out, scheduler=client, chunk_size=2
        )
        # the trust context was built once per worker, not once per chunk
        built = client.run(lambda: len(__import__("esign.batch.worker").batch.worker._STATE))
    assert summary.engine.startswith("dask")
    assert {p: r["valid"] for p, r in rows(out).items()} == expected(corpus, pki)
    assert sorted(built.values()) == [1, 1]


def test_resume_skips_done_items_and_survives_a_torn_line(
    corpus: Path, pki: Pki, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    items = list(collect_items([corpus]))
    verify_many(items[:5], trust=pki.trust, out=out, workers=1)
    with out.open("a") as f:
        f.write('{"path": "half a line')  # the process died while writing
    summary = verify_many(items, trust=pki.trust, out=out, workers=1)
    assert summary.skipped == 5
    assert summary.processed == len(items) - 5
    assert set(rows(out)) == {i.path for i in items}
    again = verify_many(items, trust=pki.trust, out=out, workers=1)
    assert again.processed == 0 and again.skipped == len(items)


def test_a_foreign_file_as_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text("this is not a result file\n")
    with pytest.raises(MalformedInputError):
        done_paths(out)


def test_parquet_has_one_row_per_item(corpus: Path, pki: Pki, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "r.jsonl"
    summary = verify_many(collect_items([corpus]), trust=pki.trust, out=out, workers=1)
    assert summary.parquet is not None
    table = pq.read_table(summary.parquet)
    assert table.num_rows == len(rows(out))
    assert sum(table.column("valid").to_pylist()) == N_GOOD + 1


def test_trust_spec_pickles_and_rebuilds(pki: Pki) -> None:
    spec = TrustSpec.from_context(pki.trust)
    again = pickle.loads(pickle.dumps(spec))
    assert again.token == spec.token
    assert again.build().anchors == [pki.ca.certificate]


def test_open_many_writes_valid_contents_only(pki: Pki, other_pki: Pki, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(4):
        envelope = esign.seal(
            f"return {i}".encode(),
            signer=(pki.ivanov_key, pki.ivanov_cert),
            recipients=[pki.tax_cert],
        )
        (inbox / f"r{i}.p7m").write_bytes(envelope)
    (inbox / "foreign.p7m").write_bytes(
        esign.seal(b"x", signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[other_pki.tax_cert])
    )
    out_dir = tmp_path / "opened"
    summary = open_many(
        collect_items([inbox], suffixes=(".p7m",)),
        key=pki.tax_key,
        cert=pki.tax_cert,
        trust=pki.trust,
        out_dir=out_dir,
        out=tmp_path / "open.jsonl",
        workers=2,
    )
    assert (summary.valid, summary.not_valid, summary.failed) == (4, 1, 0)
    assert sorted(p.name for p in out_dir.iterdir()) == ["r0", "r1", "r2", "r3"]
    assert (out_dir / "r2").read_bytes() == b"return 2"
    foreign = rows(tmp_path / "open.jsonl")[str(inbox / "foreign.p7m")]
    assert foreign.get("content") is None
    assert foreign["errors"][0]["code"]  # type: ignore[index]


def test_cli_batch_verify(
    corpus: Path, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anchor, crl = tmp_path / "ca.pem", tmp_path / "ca.crl"
    anchor.write_bytes(pki.ca.certificate.public_bytes(Encoding.PEM))
    crl.write_bytes(pki.ca.crl().public_bytes(Encoding.PEM))
    out = tmp_path / "cli.jsonl"
    code = main(["batch", "verify", str(corpus), "--trust", str(anchor), "--crl", str(crl),
                 "--out", str(out), "--workers", "2", "--no-parquet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1, err  # some items are not valid
    assert f"{N_GOOD + 4} items: {N_GOOD + 1} valid, 2 not valid, 1 could not be processed" in err
    assert {p: r["valid"] for p, r in rows(out).items()} == expected(corpus, pki)
    assert not (tmp_path / "cli.parquet").exists()
    # only the good ones, by manifest: exit 0
    manifest = tmp_path / "list.txt"
    manifest.write_text(
        "".join(f"{corpus}/return-{i:02}.txt.p7s\t{corpus}/return-{i:02}.txt\n" for i in range(3))
    )
    code = main(["batch", "verify", "--manifest", str(manifest), "--trust", str(anchor),
                 "--crl", str(crl), "--out", str(tmp_path / "m.jsonl"),
                 "--workers", "1"])  # fmt: skip
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["batch", "verify", "nowhere/*.p7s", "--trust", "ca.pem", "--out", "o.jsonl"],
        ["batch", "verify", "--trust", "ca.pem", "--out", "o.jsonl"],
        ["batch", "verify", "x.p7s", "--trust", "missing.pem", "--out", "o.jsonl"],
    ],
)
def test_cli_bad_input_is_exit_2_with_one_line(
    args: list[str],
    tmp_path: Path,
    pki: Pki,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ca.pem").write_bytes(pki.ca.certificate.public_bytes(Encoding.PEM))
    (tmp_path / "x.p7s").write_bytes(b"junk")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unreachable_scheduler_is_a_named_error(pki: Pki, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from esign.errors import EsignError

    (tmp_path / "x.p7s").write_bytes(b"junk")
    with pytest.raises(EsignError, match="Dask scheduler"):
        verify_many(
            [BatchItem(str(tmp_path / "x.p7s"))],
            trust=pki.trust,
            out=tmp_path / "o.jsonl",
            scheduler="tcp://127.0.0.1:1",
        )


def test_cli_batch_open(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from esign.keys import save_key

    monkeypatch.setenv("ESIGN_PASSWORD", "tax-password")
    save_key(pki.tax_key, tmp_path / "tax.key.pem", "tax-password")
    (tmp_path / "ca.pem").write_bytes(pki.ca.certificate.public_bytes(Encoding.PEM))
    (tmp_path / "ca.crl").write_bytes(pki.ca.crl().public_bytes(Encoding.PEM))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(3):
        (inbox / f"r{i}.p7m").write_bytes(
            esign.seal(
                b"return %d" % i,
                signer=(pki.ivanov_key, pki.ivanov_cert),
                recipients=[pki.tax_cert],
            )
        )
    code = main(["batch", "open", str(inbox), "--key", str(tmp_path / "tax.key.pem"),
                 "--trust", str(tmp_path / "ca.pem"), "--crl", str(tmp_path / "ca.crl"),
                 "--out-dir", str(tmp_path / "out"),
                 "--out", str(tmp_path / "o.jsonl"), "--workers", "1"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "r1").read_bytes() == b"return 1"
    assert all(r["valid"] for r in rows(tmp_path / "o.jsonl").values())
