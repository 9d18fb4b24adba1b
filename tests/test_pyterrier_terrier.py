"""Terrier's own BM25 (a JVM) as bench's first stage: only where Java, pyterrier[java] and Terrier's jars are present.

Skipped cleanly otherwise (no JDK on PATH, no pyjnius, or Terrier's jars not obtainable, as
without network): the rest of bench.pyterrier needs none of them. Where it runs, the Terrier
run inside ``bench run`` scores what ``pt.Experiment`` gives the same retriever, to 1e-6.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("java") is None or importlib.util.find_spec("jnius") is None,
                                reason="Terrier needs a JDK on PATH and pyterrier[java] (pyjnius)")


def test_terrier_bm25_as_a_bench_first_stage(vaswani: Path, tmp_path: Path, capsys):
    pt = pytest.importorskip("pyterrier")
    from ir_measures import AP, nDCG

    import bench.pyterrier as bpt
    from bench.cli import main

    try:
        pt.java.init()
    except Exception as exc:  # Terrier's jars come from Maven Central on first use
        pytest.skip(f"Terrier cannot start here: {exc}")
    ds = bpt.dataset("vaswani", data_dir=vaswani.parent)
    index = tmp_path / "index"
    pt.IterDictIndexer(str(index), meta={"docno": 20}).index(ds.get_corpus_iter())
    experiment = tmp_path / "terrier.toml"
    experiment.write_text(f"""
collection = "vaswani"
data_dir = "{vaswani.parent}"
measures = ["nDCG@10", "AP"]
[first_stage]
kind = "pyterrier"
depth = 100
[first_stage.options]
factory = "pyterrier_toys:terrier_bm25"
args = {{ index = "{index}", depth = 100 }}
""", encoding="utf-8")
    assert main(["-q", "run", str(experiment), "--output", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "out" / "reports" / "terrier" / "results.json").read_text())
    system = record["systems"][0]
    direct = pt.Experiment([pt.terrier.Retriever(str(index), wmodel="BM25", num_results=100)], ds.get_topics(), ds.get_qrels(),
                           [nDCG @ 10, AP])
    assert direct["nDCG@10"][0] == pytest.approx(system["metrics"]["nDCG@10"], abs=1e-6)
    assert direct["AP"][0] == pytest.approx(system["metrics"]["AP"], abs=1e-6)
    assert system["latency"]["stage"]["queries"] == record["queries"]
