"""``bench.pyterrier.evaluate``: pt.Experiment's DataFrame, and a bench record the rest of bench accepts (Java hidden).

The DataFrame is compared with ``pt.Experiment`` run directly on the same pipelines (its own
execution and ir_measures), the record's means with that DataFrame, and the record goes
through ``bench report`` (significance against the first pipeline), ``bench leaderboard`` and
``bench reproduce``, which rebuilds the pipelines from their factories.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pt = pytest.importorskip("pyterrier")

import pyterrier_toys as toys  # noqa: E402

from bench.cli import main  # noqa: E402

QUERIES, DOCS = 12, 40


@pytest.fixture(scope="module", autouse=True)
def no_java(tmp_path_factory: pytest.TempPathFactory):
    """Java hidden for the whole module; afterwards PyTerrier must not have started (or even loaded) a JVM."""
    with toys.java_kept_out(tmp_path_factory.mktemp("shims")):
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return toys.make_collection(tmp_path_factory.mktemp("evaldata") / "pipes", QUERIES, DOCS).parent


def _factories(data: Path) -> list[dict]:
    corpus = str(data / "pipes" / "corpus.jsonl")
    return [{"factory": "pyterrier_toys:overlap_retriever", "args": {"corpus": corpus, "depth": 10}},
            {"factory": "pyterrier_toys:cascade", "args": {"corpus": corpus, "depth": 10, "scale": 2.0}}]


def test_evaluate_is_pt_experiment_and_its_record_reports_ranks_and_reproduces(data: Path, tmp_path: Path, capsys):
    from ir_measures import AP, nDCG

    import bench.pyterrier as bpt

    ds = bpt.dataset("pipes", data_dir=data)
    corpus = str(data / "pipes" / "corpus.jsonl")
    out = tmp_path / "out"
    metrics = [nDCG @ 10, AP]
    got = bpt.evaluate(_factories(data), eval_metrics=metrics, names=["overlap", "cascade"], collection=ds, output=out, baseline=0)
    direct = pt.Experiment([toys.overlap_retriever(corpus, 10), toys.cascade(corpus, 10, 2.0)], ds.get_topics(), ds.get_qrels(), metrics,
                           names=["overlap", "cascade"], baseline=0)
    assert list(got.columns) == list(direct.columns) and "AP p-value" in got.columns
    for column in direct.columns:
        if column == "name":
            assert list(got[column]) == list(direct[column])
        else:
            assert got[column].tolist() == pytest.approx(direct[column].tolist(), abs=1e-12, nan_ok=True)
    path = Path(got.attrs["bench_record"])
    assert path == out / "reports" / "pipes-pyterrier" / "results.json"
    record = json.loads(path.read_text())
    assert [s["name"] for s in record["systems"]] == ["overlap", "cascade"] and record["measures"] == ["nDCG@10", "AP"]
    for (_, row), system in zip(got.iterrows(), record["systems"]):
        assert row["nDCG@10"] == pytest.approx(system["metrics"]["nDCG@10"], abs=1e-6)
        assert row["AP"] == pytest.approx(system["metrics"]["AP"], abs=1e-6)
        assert len(system["per_query"]["AP"]) == QUERIES and system["latency"]["stage"]["queries"] == QUERIES
        assert system["info"]["kind"] == "pyterrier" and system["info"]["factory"].startswith("pyterrier_toys:")
    assert record["pyterrier"]["pipelines"][1]["args"]["scale"] == 2.0 and record["pyterrier"]["qids"] is None
    assert (path.parent / "report.html").is_file() and "cascade" in (path.parent / "report.md").read_text()
    capsys.readouterr()
    # bench report: significance of cascade against overlap, from the per-query values
    assert main(["-q", "report", str(path), "--output", str(tmp_path / "report")]) == 0
    table = capsys.readouterr().out
    assert "Baseline: overlap" in table and "paired t-test on per-query values" in table and "| cascade |" in table
    assert "Wins / ties / losses per query" in table
    # bench leaderboard: both pipelines are rows
    assert main(["-q", "leaderboard", str(out / "reports"), "--output", str(tmp_path / "board")]) == 0
    board = capsys.readouterr().out
    assert "overlap" in board and "cascade" in board
    # bench reproduce: the pipelines rebuilt from their factories give the recorded numbers
    assert main(["-q", "reproduce", str(path), "--output", str(tmp_path / "again")]) == 0, capsys.readouterr().err
    assert "reproduced" in capsys.readouterr().out


def test_evaluate_from_frames_writes_the_topics_and_reproduces_factories_only(data: Path, tmp_path: Path, capsys):
    import bench.pyterrier as bpt

    ds = bpt.dataset("pipes", data_dir=data)
    topics = ds.get_topics().head(8)
    qrels = ds.get_qrels()
    factory, _ = _factories(data)
    out = tmp_path / "out"
    obj = toys.overlap_retriever(factory["args"]["corpus"], 5)
    got = bpt.evaluate([factory, obj], topics, qrels, ["nDCG@10"], names=["by-factory", "by-object"], name="mine", output=out)
    assert list(got.columns) == ["name", "nDCG@10"] and len(got) == 2
    record = json.loads((out / "reports" / "mine" / "results.json").read_text())
    assert record["queries"] == 8 and record["collection"]["source"].startswith("local:")
    assert (out / "reports" / "mine" / "data" / "mine" / "queries.tsv").read_text().count("\n") == 8
    assert record["pyterrier"]["pipelines"][1]["factory"] is None
    # a second evaluation reuses the factory's run, and recomputes the object's (it has no key to trust)
    bpt.evaluate([factory, obj], topics, qrels, ["nDCG@10"], names=["by-factory", "by-object"], name="mine", output=out)
    again = json.loads((out / "reports" / "mine" / "results.json").read_text())
    assert [s["latency"]["cached"] for s in again["systems"]] == [True, False]
    capsys.readouterr()
    # reproduce refuses the object, in one line that says what to do
    assert main(["-q", "reproduce", str(out / "reports" / "mine" / "results.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "'by-object' was evaluated as an object" in err and "module:function" in err and len(err.splitlines()) == 1
    # factories only: reproduce finds the topics and qrels written beside the record
    bpt.evaluate([factory], topics, qrels, ["nDCG@10", "AP"], name="factories", output=out)
    assert main(["-q", "reproduce", str(out / "reports" / "factories" / "results.json")]) == 0, capsys.readouterr().err


def test_evaluate_warns_where_a_collection_rule_makes_bench_differ(data: Path, tmp_path: Path, caplog):
    """BEIR's rule (a document whose id is the query's is no answer) applies in bench's record, not in pt.Experiment."""
    import pandas as pd

    import bench.pyterrier as bpt

    corpus = str(data / "pipes" / "corpus.jsonl")

    def self_first(frame: pd.DataFrame) -> pd.DataFrame:
        tops = frame.groupby("qid", as_index=False).first().assign(docno=lambda f: f["qid"], score=1e6)
        return pd.concat([frame, tops], ignore_index=True)

    pipeline = toys.overlap_retriever(corpus, 10) >> pt.apply.generic(self_first)
    got = bpt.evaluate([pipeline], eval_metrics=["nDCG@10"], names=["self-first"], collection="pipes", data_dir=data,
                       collection_type="beir", output=tmp_path, report=False)
    record = json.loads(Path(got.attrs["bench_record"]).read_text())
    ours = record["systems"][0]["metrics"]["nDCG@10"]
    assert ours > got["nDCG@10"][0], "bench dropped the unjudged self hit at rank 1, pt.Experiment kept it"
    assert "self-first nDCG@10: pt.Experiment" in caplog.text and "whose id equals the query id removed" in caplog.text


def test_evaluate_refuses_bad_input_before_writing(data: Path, tmp_path: Path):
    import bench.pyterrier as bpt
    from bench.errors import ConfigError

    ds = bpt.dataset("pipes", data_dir=data)
    factory = _factories(data)[0]
    with pytest.raises(ConfigError, match="unknown measure 'nDCG@ten'"):
        bpt.evaluate([factory], ds.get_topics(), ds.get_qrels(), ["nDCG@ten"], output=tmp_path)
    with pytest.raises(ConfigError, match="2 names for 1 pipelines"):
        bpt.evaluate([factory], ds.get_topics(), ds.get_qrels(), names=["a", "b"], output=tmp_path)
    with pytest.raises(ConfigError, match="give a pt.Transformer"):
        bpt.evaluate([42], ds.get_topics(), ds.get_qrels(), output=tmp_path)
    assert not any(tmp_path.iterdir()), "nothing written"
