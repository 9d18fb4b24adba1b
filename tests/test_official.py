"""Official measure sets and family rules (BEIR self-hits, CQADupStack's forum mean), on ir_datasets' own loaders.

BEIR fixtures are written in BEIR's native format (``<name>/source.zip`` holding
``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv``) inside an ``IR_DATASETS_HOME`` and
read by ir_datasets' ``beir`` loaders in a fresh process (ir_datasets reads the home at import).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from reference import trec_eval_mean

from bench import collection as collections
from bench.errors import ConfigError
from bench.evaluate import drop_self_hits, evaluate, family_for, family_of, group_mean
from bench.measures import DL_MEASURES, parse_measure, parse_measures

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("name", "family", "measures"),
    [
        ("trec-dl-2019", "dl", DL_MEASURES),
        ("trec-dl-2023", "dl", DL_MEASURES),
        ("trec-dl-2021-doc", "dl", DL_MEASURES),
        ("msmarco-dev-small", "msmarco", ("RR@10", "R@1000")),
        ("beir/arguana", "beir", ("nDCG@10", "R@100")),
        ("beir/nfcorpus", "beir", ("nDCG@10", "R@100")),
        ("beir/cqadupstack", "beir", ("nDCG@10", "R@100")),
        ("robust04", "robust04", ("AP", "P@20", "nDCG@20")),
        ("vaswani", "default", ("nDCG@10", "RR@10", "AP", "R@100", "R@1000")),
    ],
)
def test_official_measure_set_by_family(name, family, measures):
    target = collections.ALIASES.get(name, name)
    assert family_for(target).name == family and family_for(target).measures == measures
    assert "RR(rel=2)@10" in DL_MEASURES  # kept so the committed DL19 record reproduces


def test_collection_type_and_collection_toml_choose_the_family(tiny_collection: Path):
    assert family_of(collections.load("tiny", tiny_collection.parent)).name == "default"
    family = family_of(collections.load("tiny", tiny_collection.parent, collection_type="robust04"))
    assert family.name == "robust04" and family.measures == ("AP", "P@20", "nDCG@20")
    (tiny_collection / "collection.toml").write_text('type = "beir"\n', encoding="utf-8")
    family = family_of(collections.load("tiny", tiny_collection.parent))
    assert family.name == "beir" and family.measures == ("nDCG@10", "R@100")
    with pytest.raises(ConfigError, match="unknown collection type 'trec'; use one of dl, msmarco, beir, robust04, default"):
        family_for("x", "trec")


def test_self_hit_removal_changes_ndcg_as_computed_by_hand():
    qrels = {"q1": {"d1": 1, "d9": 0}, "q2": {"d2": 2}}
    run = {"q1": {"q1": 3.0, "d1": 2.0, "d2": 1.0}, "q2": {"d2": 5.0, "q2": 1.0}}
    cleaned, removed = drop_self_hits(run)
    assert removed == 2 and cleaned == {"q1": {"d1": 2.0, "d2": 1.0}, "q2": {"d2": 5.0}}

    class Beir:
        name = "beir/arguana"

    measure = parse_measures(["nDCG@10"])
    raw, _ = evaluate(None, qrels, run, measure, "x")
    clean, notes = evaluate(Beir(), qrels, run, measure, "x")
    # q1: d1 at rank 2 before (gain 1/log2(3)), at rank 1 after; q2: d2 at rank 1 either way
    assert raw.per_query["nDCG@10"]["q1"] == pytest.approx(1 / math.log2(3))
    assert clean.per_query["nDCG@10"] == {"q1": pytest.approx(1.0), "q2": pytest.approx(1.0)}
    assert raw.metrics["nDCG@10"] == pytest.approx((1 / math.log2(3) + 1) / 2) and clean.metrics["nDCG@10"] == pytest.approx(1.0)
    assert notes == ["x: 2 document(s) whose id equals the query id removed before evaluation, as BEIR's evaluation does (the run file keeps them)."]


def test_group_mean_is_the_mean_of_forum_means():
    values = {"a/1": 1.0, "a/2": 0.0, "a/3": 0.5, "b/1": 0.0}
    groups = {q: q.split("/")[0] for q in values}
    assert group_mean(values, groups) == pytest.approx((0.5 + 0.0) / 2)  # not 1.5 / 4


# -- BEIR in its native format, through ir_datasets' loaders -------------------------------------------------------

ARGUANA_DOCS = {  # ArguAna: each query is itself an argument in the corpus, under the same id
    "a1": ("Zoos", "zoos keep animals safe from poachers"),
    "a2": ("Zoos", "zoos are cruel prisons for wild animals"),
    "a3": ("Taxes", "higher taxes fund public schools"),
    "a4": ("Taxes", "taxes slow the economy down"),
    "a5": ("Space", "space travel is a waste of public money"),
}
ARGUANA_QUERIES = {"a1": "zoos keep animals safe from poachers", "a3": "higher taxes fund public schools"}
ARGUANA_QRELS = [("a1", "a2", 1), ("a3", "a4", 1), ("a3", "a5", 0)]


def _beir_zip(path: Path, prefix: str, docs: dict, queries: dict, qrels: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{prefix}/corpus.jsonl", "".join(json.dumps({"_id": d, "title": t, "text": x}) + "\n" for d, (t, x) in docs.items()))
        z.writestr(f"{prefix}/queries.jsonl", "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
        z.writestr(f"{prefix}/qrels/test.tsv", "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{r}\n" for q, d, r in qrels))


def _python(code: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), IR_DATASETS_HOME=str(home), HF_HUB_OFFLINE="1")
    env.pop("BENCH_DATA_DIR", None)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _bench(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _python(f"import sys; from bench.cli import main; sys.exit(main({args!r}))", home, cwd)


@pytest.fixture
def beir_home(tmp_path: Path) -> Path:
    home = tmp_path / "irds"
    _beir_zip(home / "beir" / "arguana" / "source.zip", "arguana", ARGUANA_DOCS, ARGUANA_QUERIES, ARGUANA_QRELS)
    return home


def test_beir_arguana_through_ir_datasets(beir_home: Path, tmp_path: Path):
    """Title + text, label-0 qrels kept, the BEIR measure set, self-hits removed from a BM25 run with a note."""
    code = ("import json; from bench import collection as c; from bench.evaluate import family_of; x = c.load('beir/arguana'); "
            "f = family_of(x); print(json.dumps([f.name, f.measures, x.qrels, x.docs.get_many(['a2']), sorted(dict(iter(x.docs)))]))")
    done = _python(code, beir_home, tmp_path)
    assert done.returncode == 0, done.stderr
    family, measures, qrels, text, ids = json.loads(done.stdout)
    assert family == "beir" and measures == ["nDCG@10", "R@100"]
    assert qrels == {"a1": {"a2": 1}, "a3": {"a4": 1, "a5": 0}}  # label 0: judged non-relevant, kept
    assert text == {"a2": "Zoos zoos are cruel prisons for wild animals"} and ids == sorted(ARGUANA_DOCS)

    done = _bench(["-q", "run", "beir/arguana", "--output", str(tmp_path / "out")], beir_home, tmp_path)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "out" / "reports" / "beir__arguana" / "results.json").read_text(encoding="utf-8"))
    assert record["measures"] == ["nDCG@10", "R@100"]
    (bm25,) = record["systems"]
    run = json.loads(json.dumps(__import__("bench.trec", fromlist=["read_run"]).read_run(bm25["run_file"])))
    assert all(q in run[q] for q in ARGUANA_QUERIES)  # BM25 finds each query's own argument; the run file keeps it
    cleaned, removed = drop_self_hits(run)
    assert removed == 2 and any("2 document(s) whose id equals the query id removed" in n for n in record["notes"])
    judged = {q: dict(d) for q, d in qrels.items()}
    for measure in parse_measures(record["measures"]):
        assert bm25["metrics"][measure.name] == pytest.approx(trec_eval_mean(judged, cleaned, measure), abs=1e-9)


def test_evaluate_collection_beir_arguana_removes_self_hits_like_trec_eval_on_the_cleaned_run(beir_home: Path, tmp_path: Path):
    run_file = tmp_path / "run.trec"
    run = {"a1": {"a1": 9.0, "a5": 8.0, "a2": 7.0}, "a3": {"a3": 9.0, "a4": 5.0, "a5": 4.0}}
    run_file.write_text("".join(f"{q} Q0 {d} {r} {s} t\n" for q, docs in run.items() for r, (d, s) in enumerate(docs.items(), 1)), encoding="utf-8")
    done = _bench(["-q", "evaluate", str(run_file), "--collection", "beir/arguana", "--json"], beir_home, tmp_path)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)[str(run_file)]
    assert list(got) == ["nDCG@10", "R@100"]
    qrels = {"a1": {"a2": 1}, "a3": {"a4": 1, "a5": 0}}
    cleaned, _ = drop_self_hits(run)
    for name, value in got.items():
        assert value == pytest.approx(trec_eval_mean(qrels, cleaned, parse_measure(name)), abs=1e-9)
        assert name != "nDCG@10" or value != pytest.approx(trec_eval_mean(qrels, run, parse_measure(name)))  # the rule changed it


def test_cqadupstack_is_the_mean_over_its_12_forums(tmp_path: Path):
    from bench.collection.composite import CQADUPSTACK_FORUMS

    home = tmp_path / "irds"
    path = home / "beir" / "cqadupstack" / "source.zip"
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w") as z:
        for i, forum in enumerate(CQADUPSTACK_FORUMS):
            queries = {f"q{j}": f"question {j}" for j in range(i % 3 + 1)}  # forums of 1, 2 or 3 queries
            docs = {f"d{j}": f"post {j}" for j in range(4)}
            z.writestr(f"cqadupstack/{forum}/corpus.jsonl", "".join(json.dumps({"_id": d, "title": "t", "text": x, "metadata": {"tags": []}}) + "\n"
                                                                   for d, x in docs.items()))
            z.writestr(f"cqadupstack/{forum}/queries.jsonl",
                       "".join(json.dumps({"_id": q, "text": t, "metadata": {"tags": []}}) + "\n" for q, t in queries.items()))
            z.writestr(f"cqadupstack/{forum}/qrels/test.tsv", "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\td{j}\t1\n" for j, q in enumerate(queries)))
    # a run with "<forum>/<id>" ids: query qj's relevant post dj is ranked (j + forum index) % 3 + 1
    run, qrels = {}, {}
    for i, forum in enumerate(CQADUPSTACK_FORUMS):
        for j in range(i % 3 + 1):
            order = [d for d in (f"d{k}" for k in range(4)) if d != f"d{j}"]
            order.insert((j + i) % 3, f"d{j}")
            run[f"{forum}/q{j}"] = {f"{forum}/{d}": 10.0 - r for r, d in enumerate(order)}
            qrels[f"{forum}/q{j}"] = {f"{forum}/d{j}": 1}
    run_file = tmp_path / "run.trec"
    run_file.write_text("".join(f"{q} Q0 {d} {r} {s} t\n" for q, docs in run.items() for r, (d, s) in enumerate(docs.items(), 1)), encoding="utf-8")
    done = _bench(["-q", "evaluate", str(run_file), "--collection", "beir/cqadupstack", "--json"], home, tmp_path)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)[str(run_file)]["nDCG@10"]
    measure = parse_measure("nDCG@10")
    forum_means = [trec_eval_mean({q: r for q, r in qrels.items() if q.startswith(f + "/")}, run, measure) for f in CQADUPSTACK_FORUMS]
    assert got == pytest.approx(sum(forum_means) / 12, abs=1e-9)
    assert got != pytest.approx(trec_eval_mean(qrels, run, measure), abs=1e-6)  # the mean over all queries differs
