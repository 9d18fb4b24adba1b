"""The seams: a family registered from outside bench, cascades, per-stage latency, options errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reference import trec_eval_mean

from bench.cli import main
from bench.measures import parse_measures
from bench.rerankers import FAMILIES, ModelSettings, create, locate
from bench.rerankers.base import Reranker
from bench.trec import ranked, read_qrels, read_run


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _record(output: Path, name: str) -> dict[str, Any]:
    return json.loads((output / "reports" / name / "results.json").read_text())


# -- a family from this file alone -------------------------------------------------------


@dataclass(frozen=True)
class ToyOptions:
    boost: float = 0.0


class ToyReranker(Reranker):
    """Scores a passage by how many query words it contains, plus ``boost`` (no weights at all)."""

    kind = "toy"
    Options = ToyOptions

    def _load(self) -> None:
        import torch

        self.model = torch.nn.Identity()

    def prepare(self, query: str, passages: list[str]) -> Any:
        return set(query.lower().split()), passages

    def forward(self, prepared: Any) -> list[float]:
        words, passages = prepared
        return [float(len(words & set(p.lower().split()))) + self.options.boost for p in passages]


@pytest.fixture
def toy_family():
    FAMILIES.add("toy", ToyReranker)
    yield ToyReranker
    FAMILIES.remove("toy")


def test_a_family_registered_from_a_test_file_runs_end_to_end(toy_family, tiny_collection: Path, tmp_path: Path, capsys):
    folder = tmp_path / "toy-model"
    folder.mkdir()
    out = tmp_path / "out"
    common = ["run", "tiny", "--data-dir", str(tiny_collection.parent), "--first-stage", "candidates", "--output", str(out)]
    code, stdout, err = _run(capsys, *common, "--model", str(folder), "--kind", "toy", "--option", "boost=0.5", "--top-k", "5")
    assert code == 0, err
    record = _record(out, "tiny")
    first, toy = record["systems"]
    assert toy["info"]["kind"] == "toy" and toy["info"]["options"] == {"boost": 0.5} and toy["input"] == first["name"]
    queries = dict(line.split("\t") for line in (tiny_collection / "queries.tsv").read_text().splitlines())
    corpus = {d["doc_id"]: d["text"] for d in map(json.loads, (tiny_collection / "corpus.jsonl").read_text().splitlines())}
    given = read_run(first["run_file"])
    got = read_run(toy["run_file"])
    for qid, text in queries.items():
        top = [d for d, _ in ranked(given[qid])[:5]]
        expected = {d: len(set(text.lower().split()) & set(corpus[d].lower().split())) + 0.5 for d in top}
        assert {d: got[qid][d] for d in top} == expected  # scores written out by hand from the texts
    assert "toy-model" in stdout  # the printed table names the system
    # an unknown option is one line naming it and the known ones; nothing is written
    code, _, err = _run(capsys, *common, "--model", str(folder), "--kind", "toy", "--option", "bost=1", "--name", "bad")
    assert code == 2 and "unknown option 'bost'; known options: boost" in err and len(err.strip().splitlines()) == 1
    assert not (out / "reports" / "bad").exists()
    # every option is part of the hash: another boost is another run
    assert _run(capsys, *common, "--model", str(folder), "--kind", "toy", "--option", "boost=1.5", "--top-k", "5")[0] == 0
    assert _record(out, "tiny")["systems"][1]["hash"] != toy["hash"]


def test_kind_and_option_need_a_model_before_them(tiny_collection: Path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "tiny", "--data-dir", str(tiny_collection.parent), "--kind", "cross-encoder", "--model", "x"])
    assert exc.value.code == 2 and "--kind applies to the --model before it" in capsys.readouterr().err


def test_unknown_kind_names_the_known_ones(tiny_collection: Path, tiny_cross_encoder: Path, tmp_path: Path, capsys):
    code, _, err = _run(capsys, "run", "tiny", "--data-dir", str(tiny_collection.parent), "--model", str(tiny_cross_encoder),
                        "--kind", "mono-t9", "--output", str(tmp_path))
    assert code == 2 and "unknown reranker kind 'mono-t9'; known: cross-encoder, bi-encoder" in err


# -- cascades ------------------------------------------------------------------------------


CASCADE = """
collection = "tiny"
data_dir = "{data}"
measures = ["nDCG@10", "AP", "R@100"]

[first_stage]
kind = "bm25"

[[rerankers]]
model = "{bi}"
name = "bi"
top_k = 6
dtype = "float32"

[[rerankers]]
model = "{ce}"
name = "ce"
input = "bi"
top_k = 3
dtype = "float32"
"""


def test_three_stage_cascade(tiny_collection: Path, tiny_bi_encoder: Path, tiny_cross_encoder: Path, tmp_path: Path, capsys):
    experiment = tmp_path / "cascade.toml"
    experiment.write_text(CASCADE.format(data=tiny_collection.parent, bi=tiny_bi_encoder, ce=tiny_cross_encoder))
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, "run", str(experiment), "--output", str(out))
    assert code == 0, err
    record = _record(out, "cascade")
    bm25, bi, ce = record["systems"]
    assert [s["name"] for s in record["systems"]] == ["bm25", "bi", "ce"]
    assert [s["input"] for s in record["systems"]] == [None, "bm25", "bi"]
    runs = {s["name"]: read_run(s["run_file"]) for s in record["systems"]}
    reference = create(locate(str(tiny_cross_encoder)), ModelSettings("cpu", "float32", 32, 512), "cross-encoder")
    reference.load()
    corpus = {d["doc_id"]: d["text"] for d in map(json.loads, (tiny_collection / "corpus.jsonl").read_text().splitlines())}
    queries = dict(line.split("\t") for line in (tiny_collection / "queries.tsv").read_text().splitlines())
    for qid in queries:
        order = {name: [d for d, _ in ranked(run[qid])] for name, run in runs.items()}
        assert len(order["ce"]) == len(order["bi"]) == len(order["bm25"]) == 8
        # the bi-encoder read BM25: its top 6 are BM25's top 6, and BM25's order continues below the cut
        assert set(order["bi"][:6]) == set(order["bm25"][:6]) and order["bi"][6:] == order["bm25"][6:]
        # the cross-encoder read the bi-encoder, not BM25: its top 3 are the bi-encoder's top 3 ...
        assert set(order["ce"][:3]) == set(order["bi"][:3]) and order["ce"][3:] == order["bi"][3:]
        # ... scored by the cross-encoder itself
        top = order["bi"][:3]
        expected = dict(zip(top, reference.score(queries[qid], [corpus[d] for d in top]), strict=True))
        assert {d: runs["ce"][qid][d] for d in top} == pytest.approx(expected, abs=1e-6)
    # per-stage latency, and what a query costs through the cascade
    assert bm25["latency"]["stage"]["queries"] == 3 and bm25["latency"]["load_s"] > 0 and bm25["latency"]["warmup_s"] > 0
    assert bi["latency"]["stage"]["pairs"] == 18 and ce["latency"]["stage"]["pairs"] == 9
    for system, path in ((bm25, ["bm25"]), (bi, ["bm25", "bi"]), (ce, ["bm25", "bi", "ce"])):
        by_name = {s["name"]: s for s in record["systems"]}
        for qid in queries:
            expected_ms = sum(by_name[n]["latency"]["stage_ms"][qid] for n in path)
            assert system["latency"]["per_query_ms"][qid] == pytest.approx(expected_ms)
        assert system["latency"]["p50_ms"] >= system["latency"]["stage"]["p50_ms"] - 1e-9
    assert ce["latency"]["stage"]["pairs_per_s"] == pytest.approx(9 / ce["latency"]["stage"]["wall_s"])
    # every system's metrics equal trec_eval on its run file
    qrels = read_qrels(tiny_collection / "qrels.txt")
    for system in record["systems"]:
        for measure in parse_measures(record["measures"]):
            assert system["metrics"][measure.name] == pytest.approx(trec_eval_mean(qrels, runs[system["name"]], measure), abs=1e-6)
    assert "bi" in stdout and "ce" in stdout
    assert "stage p50 ms/q" in stdout.splitlines()[4]  # the report's table gives each stage's own latency beside the cumulative


def test_cascade_input_must_be_an_earlier_stage(tiny_collection: Path, tiny_bi_encoder: Path, tiny_cross_encoder: Path, tmp_path: Path, capsys):
    experiment = tmp_path / "bad.toml"
    text = CASCADE.format(data=tiny_collection.parent, bi=tiny_bi_encoder, ce=tiny_cross_encoder).replace('input = "bi"', 'input = "ce"')
    experiment.write_text(text)
    code, _, err = _run(capsys, "run", str(experiment), "--output", str(tmp_path / "o"))
    assert code == 2 and "input 'ce' is not an earlier stage; use one of bm25, bi" in err
    assert not (tmp_path / "o" / "reports").exists()


def test_bm25_record_has_load_and_warm_up_apart(tiny_collection: Path, tmp_path: Path, capsys):
    code, _, err = _run(capsys, "run", "tiny", "--data-dir", str(tiny_collection.parent), "--first-stage", "bm25", "--output", str(tmp_path))
    assert code == 0, err
    latency = _record(tmp_path, "tiny")["systems"][0]["latency"]
    assert latency["load_s"] > 0 and latency["warmup_s"] > 0
    assert set(latency["stage_ms"]) == {"1", "2", "3"}
    # load and warm-up are not in any query's time: the per-query times add up to the retrieval loop alone
    assert sum(latency["stage_ms"].values()) / 1000.0 <= latency["stage"]["wall_s"]
    assert latency["per_query_ms"] == latency["stage_ms"]  # a first stage's cumulative cost is its own


@pytest.mark.slow
def test_dl19_cascade(dl19: Path, minilm: Path, tiny_cross_encoder: Path, tmp_path: Path, capsys):
    experiment = tmp_path / "dl19-cascade.toml"
    experiment.write_text(f"""
collection = "trec-dl-2019"
data_dir = "{dl19.parent}"

[first_stage]
kind = "candidates"

[[rerankers]]
model = "sentence-transformers/all-MiniLM-L6-v2"
name = "minilm"
top_k = 100

[[rerankers]]
model = "{tiny_cross_encoder}"
name = "tiny-ce"
input = "minilm"
top_k = 20
""")
    code, _, err = _run(capsys, "run", str(experiment), "--output", str(tmp_path / "out"))
    assert code == 0, err
    record = _record(tmp_path / "out", "dl19-cascade")
    given, mini, ce = record["systems"]
    assert [s["input"] for s in record["systems"]] == [None, given["name"], "minilm"]
    assert mini["latency"]["stage"]["pairs"] == 4300 and ce["latency"]["stage"]["pairs"] == 860
    runs = {s["name"]: read_run(s["run_file"]) for s in record["systems"]}
    for qid in runs["minilm"]:
        a = [d for d, _ in ranked(runs["minilm"][qid])]
        b = [d for d, _ in ranked(runs["tiny-ce"][qid])]
        assert set(b[:20]) == set(a[:20]) and b[20:] == a[20:]
        assert ce["latency"]["per_query_ms"][qid] == pytest.approx(mini["latency"]["stage_ms"][qid] + ce["latency"]["stage_ms"][qid])
    qrels = read_qrels(dl19 / "qrels.txt")
    judged = {q: qrels[q] for q in record["systems"][0]["per_query"]["nDCG@10"]}
    for system in record["systems"]:
        for measure in parse_measures(record["measures"]):
            assert system["metrics"][measure.name] == pytest.approx(trec_eval_mean(judged, runs[system["name"]], measure), abs=1e-4)


# -- no result changed -------------------------------------------------------------------

BEFORE_SEAMS = "0834e614cd1adba9b354f5a93b58ad49a982a59e"  # main before the stage contract and registries
ROOT = Path(__file__).resolve().parents[1]


def _bench_run(pythonpath: Path, experiment: str, output: Path, env_extra: dict[str, str]) -> dict[str, Any]:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(pythonpath), **env_extra}
    # run outside the checkout: `python -m` puts the working folder first on sys.path, before PYTHONPATH
    done = subprocess.run([sys.executable, "-m", "bench", "-q", "run", str(ROOT / experiment), "--output", str(output)],
                          cwd=output.parent, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(next(output.glob("reports/*/results.json")).read_text())


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["experiments/dl19-minilm.toml", "experiments/vaswani-minilm.toml"])
def test_committed_experiments_write_the_bytes_they_wrote_before_the_seams(experiment: str, shared_data: Path, minilm: Path,
                                                                           tmp_path: Path):
    """The run files of the committed experiments, written by the code before this change and by this code, are identical."""
    import subprocess

    have = subprocess.run(["git", "cat-file", "-e", BEFORE_SEAMS + "^{commit}"], cwd=ROOT, capture_output=True)
    if have.returncode != 0:
        pytest.skip("the commit before the seams is not in this clone's history")
    old = tmp_path / "old"
    old.mkdir()
    archive = subprocess.run(["git", "archive", BEFORE_SEAMS, "bench"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    env = {"BENCH_CACHE_DIR": str(tmp_path / "cache")}
    before = _bench_run(old, experiment, tmp_path / "before", env)
    after = _bench_run(ROOT, experiment, tmp_path / "after", env)
    assert before["schema_version"] == 1 and after["schema_version"] == 2  # each side ran its own code
    assert [s["name"] for s in before["systems"]] == [s["name"] for s in after["systems"]]
    for old_system, new_system in zip(before["systems"], after["systems"], strict=True):
        # the file names differ (the hash now covers each stage's key whole); the bytes must not
        assert Path(old_system["run_file"]).read_bytes() == Path(new_system["run_file"]).read_bytes(), new_system["name"]
        assert old_system["metrics"] == new_system["metrics"]


def test_partial_run_merges_shards_and_drops_torn_lines(tmp_path: Path):
    from bench.partial import PartialRun

    main_file = PartialRun.for_run(tmp_path / "x.trec", "h1")
    row = {"qid": "1", "docs": ["a", "b"], "scores": [2.0, 1.0], "ms": 3.0}
    with main_file.appending({}) as p:
        p.append(row)
    shard = main_file.shard("w1")
    with shard.appending({}) as p:
        p.append({"qid": "2", "docs": ["c"], "scores": [0.5], "ms": 1.0})
        p.append({"qid": "1", "docs": ["b", "a"], "scores": [9.0, 8.0], "ms": 1.0})  # a query done twice: one row kept
    with open(shard.path, "a", encoding="utf-8") as fh:
        fh.write('{"qid": "3", "docs": ["d"], "sco')  # killed mid-write
    other = PartialRun(tmp_path / "x.trec.partial.w2", "another-hash")
    with other.appending({}) as p:
        p.append({"qid": "9", "docs": ["z"], "scores": [1.0], "ms": 1.0})
    rows = main_file.rows()
    assert sorted(rows) == ["1", "2"] and rows["1"] == row  # the torn line and the other configuration's file are ignored
    with main_file.appending(rows) as p:  # resuming merges every shard into the main file
        p.append({"qid": "4", "docs": ["e"], "scores": [0.1], "ms": 2.0})
    assert main_file.files() == [main_file.path] and sorted(main_file.rows()) == ["1", "2", "4"]
    main_file.discard()
    assert main_file.files() == [] and not list(tmp_path.iterdir())


def test_per_model_flags_apply_to_the_model_before_them():
    from bench.cli import build_parser

    args = build_parser().parse_args([
        "run", "trec-dl-2019", "--model", "a", "--kind", "causal-lm", "--prompt", "qwen3-reranker", "--instruction", "Find it",
        "--model", "b", "--input", "a", "--option", "label=1", "--option", "name=x y",
    ])
    assert args.models == [
        {"model": "a", "kind": "causal-lm", "options": {"prompt": "qwen3-reranker", "instruction": "Find it"}},
        {"model": "b", "input": "a", "options": {"label": 1, "name": "x y"}},  # TOML scalars: 1 is an int, the rest text
    ]
