"""The per-query explorer's data (ranks, moves, labels, Δ, snippets, size) and its place in report.html; load_per_query."""

from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path

import pytest
from helpers import make_collection, make_cross_encoder

import bench
from bench.cli import main
from bench.evaluate import compute as evaluate
from bench.measures import parse_measures
from bench.report import build_report, render_html
from bench.report.explorer_data import DEPTH, SNIPPET, TOP, build, snippet
from bench.trec import write_run

MEASURES = ["nDCG@10", "RR(rel=2)@10"]


def _synthetic(root: Path, queries: int = 5, docs_per_query: int = 200, systems: int = 2, text_len: int = 80, seed: int = 0) -> Path:
    """A local collection, one TREC run per system and a results record whose metrics ranx computed from those runs."""
    rng = random.Random(seed)
    folder = root / "data" / "syn"
    folder.mkdir(parents=True)
    qids = [str(100 + i) for i in range(queries)]
    (folder / "queries.tsv").write_text("".join(f"{q}\tquestion number {q} about topic {i}\n" for i, q in enumerate(qids)), encoding="utf-8")
    qrels: dict[str, dict[str, int]] = {}
    corpus = {}
    for q in qids:
        for d in range(docs_per_query):
            doc = f"d{q}-{d:04d}"
            corpus[doc] = f"passage {doc} " + " ".join(rng.choice(["water", "fish", "tank", "grow", "food"]) for _ in range(text_len // 5))
            if d % 7 == 0:
                qrels.setdefault(q, {})[doc] = rng.choice([0, 1, 2, 3])
    (folder / "qrels.txt").write_text("".join(f"{q} 0 {d} {r}\n" for q, docs in qrels.items() for d, r in docs.items()), encoding="utf-8")
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for doc, text in corpus.items():
            fh.write(json.dumps({"doc_id": doc, "text": text}) + "\n")
    measures = parse_measures(MEASURES)
    record_systems = []
    for s in range(systems):
        run = {q: {f"d{q}-{d:04d}": round(rng.random() * 10, 1 if s == 0 else 6) for d in range(docs_per_query)} for q in qids}
        path = root / "runs" / f"sys{s}.trec"
        write_run(run, path, f"sys{s}")
        ev = evaluate(qrels, run, measures)
        record_systems.append({"name": f"sys{s}", "model": None if s == 0 else f"m{s}", "run_file": str(path), "hash": "h",
                               "metrics": ev.metrics, "per_query": ev.per_query, "latency": {"p95_ms": 10.0 * (s + 1)},
                               "info": {"kind": "bm25" if s == 0 else "cross-encoder"}})
    record = {"schema_version": 1, "name": "syn", "collection": {"name": "syn", "source": f"local:{folder}"},
              "config": {"collection": "syn", "data_dir": str(root / "data")}, "measures": MEASURES, "queries": len(qids),
              "systems": record_systems, "git": {"commit": None, "dirty": None}}
    out = root / "reports" / "syn" / "results.json"
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps(record), encoding="utf-8")
    return out


def _trec_order(path: Path) -> dict[str, list[str]]:
    """Doc ids per query as trec_eval orders them, read independently of bench: score descending, doc id descending."""
    rows: dict[str, list[tuple[float, str]]] = {}
    for line in path.read_text().splitlines():
        q, _, d, _, score, _ = line.split()
        rows.setdefault(q, []).append((float(score), d))
    return {q: [d for _, d in sorted(r, reverse=True)] for q, r in rows.items()}


def _qrels(folder: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels.txt").read_text().splitlines():
        q, _, d, r = line.split()
        out.setdefault(q, {})[d] = int(r)
    return out


def test_explorer_ranks_moves_labels_and_delta(tmp_path: Path):
    path = _synthetic(tmp_path)
    record = json.loads(path.read_text())
    data = build(record, path)
    assert data["notes"] == [] and data["labelled"] and data["systems"] == ["sys0", "sys1"] and data["baseline"] == 0
    orders = [_trec_order(Path(s["run_file"])) for s in record["systems"]]
    qrels = _qrels(tmp_path / "data" / "syn")
    moved = 0
    for row in data["queries"]:
        q = row["qid"]
        values = [s["per_query"]["nDCG@10"][q] for s in record["systems"]]
        assert row["values"] == values and row["deltas"] == [None, values[1] - values[0]]
        assert row["text"].startswith(f"question number {q} ")
        drill = data["drill"][q]
        assert drill["top"] == [o[q][:TOP] for o in orders]
        shown = {d for top in drill["top"] for d in top}
        assert drill["labels"] == {d: qrels[q][d] for d in shown if d in qrels[q]}  # unjudged docs carry no label
        relevant = {d for d in shown if qrels[q].get(d, 0) >= 1}
        assert set(drill["ranks"]) == relevant
        for d in relevant:
            expected = [o[q].index(d) + 1 if d in o[q][:DEPTH] else None for o in orders]
            assert drill["ranks"][d] == expected
            moved += expected[0] != expected[1]
    assert moved > 0
    # some relevant doc in a top 10 came from beyond the other system's top 100 ("not in top 100 -> 5")
    assert any(None in r for d in data["drill"].values() for r in d["ranks"].values())
    shown_all = {d for drill in data["drill"].values() for top in drill["top"] for d in top}
    assert set(data["docs"]) == shown_all and all(data["docs"][d].startswith(f"passage {d} ") for d in shown_all)


def test_snippet_is_cut_at_a_word_within_the_limit():
    text = "word " * 200
    cut = snippet(text)
    assert len(cut) <= SNIPPET and cut.endswith("…") and "  " not in cut
    assert snippet("  short\n text ") == "short text"


def test_size_budget_dl19_shape_with_three_systems(tmp_path: Path):
    """43 queries, 3 systems, 1000 hits each, 3,000-character passages: the explorer's JSON stays far below 3 MB."""
    path = _synthetic(tmp_path, queries=43, docs_per_query=1000, systems=3, text_len=3000)
    data = build(json.loads(path.read_text()), path)
    size = len(json.dumps(data, ensure_ascii=False).encode("utf-8"))
    assert size < 3_000_000, size
    assert all(len(s) <= SNIPPET for s in data["docs"].values())
    shown = {d for drill in data["drill"].values() for top in drill["top"] for d in top}
    assert set(data["docs"]) == shown and len(shown) <= 43 * 3 * TOP


def test_missing_collection_and_run_files_still_render(tmp_path: Path, caplog):
    path = _synthetic(tmp_path)
    record = json.loads(path.read_text())
    record["collection"]["source"] = "local:/nowhere/syn"
    record["config"]["data_dir"] = "/nowhere"
    record["systems"][1]["run_file"] = "runs/gone.trec"
    path.write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING):
        data = build(record, path)
    assert not data["labelled"] and data["docs"] == {} and all(r["text"] is None for r in data["queries"])
    assert any("collection unavailable" in n for n in data["notes"]) and any("run file of sys1 not found" in n for n in data["notes"])
    assert "collection unavailable" in caplog.text and "runs/gone.trec" in caplog.text
    drill = next(iter(data["drill"].values()))
    assert drill["top"][1] is None and drill["labels"] is None and len(drill["top"][0]) == TOP
    html = render_html.render(build_report([path]), [])
    assert 'class="explorer"' in html and "collection unavailable" in html


def _embedded(html: str) -> list[dict]:
    blocks = re.findall(r'<script type="application/json" id="explorer-data-\d+">(.*?)</script>', html, re.S)
    assert blocks and all("</" not in b for b in blocks)
    return [json.loads(b) for b in blocks]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("explorer")
    make_collection(root / "data" / "tiny")
    ce = make_cross_encoder(root / "models" / "tiny-ce")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE_DIR", str(root / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        assert main(["-q", "run", "tiny", "--data-dir", str(root / "data"), "--first-stage", "bm25", "--model", str(ce), "--top-k", "5",
                     "--dtype", "float32", "--output", str(root / "out")]) == 0
    return root / "out" / "reports" / "tiny" / "results.json"


def test_bench_run_report_embeds_the_explorer(tiny_run: Path):
    html = (tiny_run.parent / "report.html").read_text()
    assert "<script src" not in html and "https://" not in html and "http://" not in html
    (data,) = _embedded(html)
    record = json.loads(tiny_run.read_text())
    measure = record["measures"][0]
    assert data["measure"] == measure and data["systems"] == [s["name"] for s in record["systems"]] and data["notes"] == []
    for row in data["queries"]:
        assert row["values"] == [s["per_query"][measure][row["qid"]] for s in record["systems"]]
    for i, system in enumerate(record["systems"]):
        order = _trec_order(Path(system["run_file"]))
        for q, drill in data["drill"].items():
            assert drill["top"][i] == order[q][:TOP]
    qrels = _qrels(tiny_run.parents[3] / "data" / "tiny")
    for q, drill in data["drill"].items():
        assert drill["labels"] == {d: qrels[q][d] for top in drill["top"] for d in top if d in qrels.get(q, {})}


def test_load_per_query_dataframe(tiny_run: Path):
    frame = bench.load_per_query(str(tiny_run))
    record = json.loads(tiny_run.read_text())
    queries = len(record["systems"][0]["per_query"][record["measures"][0]])
    assert len(frame) == len(record["systems"]) * len(record["measures"]) * queries
    base = record["systems"][0]["per_query"]
    for row in frame.itertuples():
        mine = next(s for s in record["systems"] if s["name"] == row.system)["per_query"][row.measure][row.qid]
        assert row.value == mine and row.baseline == "bm25" and row.delta == pytest.approx(mine - base[row.measure][row.qid], abs=0)
        assert isinstance(row.query, str) and row.query
    assert bench.load_per_query(str(tiny_run), text=False)["query"].isna().all()


def test_drill_downs_capped_to_largest_delta(tmp_path: Path, monkeypatch):
    from bench.report import explorer_data

    path = _synthetic(tmp_path, queries=6)
    monkeypatch.setattr(explorer_data, "MAX_DRILL", 2)
    data = build(json.loads(path.read_text()), path)
    spread = sorted(data["queries"], key=lambda r: -abs(r["deltas"][1]))
    assert set(data["drill"]) == {r["qid"] for r in spread[:2]} and len(data["queries"]) == 6
    assert any("largest |Δ| of 6" in n for n in data["notes"])


def test_snippets_can_be_left_out(tmp_path: Path, monkeypatch, caplog):
    """A report option, in the record's [report] or on the command line; the environment variable is a deprecated alias."""
    from bench.report.options import from_records, report_options

    path = _synthetic(tmp_path)
    record = json.loads(path.read_text())
    assert build(record, path)["docs"], "snippets by default"
    data = build(record, path, snippets=False)
    assert data["docs"] == {} and data["labelled"] and data["drill"] and any("snippets = false" in n for n in data["notes"])
    assert from_records([{"config": {"report": {"snippets": False}}}]).snippets is False
    assert from_records([{"config": {"report": {"snippets": False}}}], {"snippets": True}).snippets is True  # the command line wins
    monkeypatch.setenv("BENCH_EXPLORER_SNIPPETS", "0")
    with caplog.at_level("WARNING"):
        assert report_options({}).snippets is False
    assert "BENCH_EXPLORER_SNIPPETS=0 is deprecated" in caplog.text
    report = build_report([path])
    assert report.options.snippets is False and "passage text left out" in render_html.render(report, [])


def test_ms_marco_text_is_left_out_of_reports_unless_asked(monkeypatch):
    """MS MARCO's terms forbid redistributing its text: a DL or MS MARCO record's explorer leaves it out by default."""
    from bench.report.options import ReportOptions, report_options, snippets_for

    monkeypatch.delenv("BENCH_EXPLORER_SNIPPETS", raising=False)
    dl, vaswani = {"collection": {"family": "dl"}}, {"collection": {"family": "default"}}
    shown, note = snippets_for(report_options({}), dl)
    assert not shown and "do not allow redistributing" in str(note)
    assert snippets_for(report_options({}), vaswani) == (True, None)
    assert snippets_for(ReportOptions(snippets=True), dl) == (True, None)  # the user's explicit choice
    assert snippets_for(ReportOptions(snippets=False), vaswani)[0] is False
