"""The leaderboard (newest record wins, older ones reachable, Markdown, CLI) and `bench evaluate`'s official measure sets."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest
from reference import trec_eval_mean

from bench.cli import main
from bench.measures import DEFAULT_MEASURES, DL_MEASURES, parse_measures
from bench.report.leaderboard import build
from bench.report.leaderboard_page import html, markdown
from bench.trec import read_qrels, read_run


def _record(collection: str, systems: list[tuple[str, str | None, float, float]], name: str, commit: str) -> dict:
    return {
        "schema_version": 1, "name": name, "collection": {"name": collection, "source": "local:/nowhere"},
        "config": {"collection": collection}, "measures": ["nDCG@10", "AP"], "git": {"commit": commit, "dirty": False},
        "systems": [{"name": n, "model": m, "run_file": "runs/x.trec", "hash": "h", "metrics": {"nDCG@10": v, "AP": v / 2},
                     "per_query": {}, "latency": {"p95_ms": p95},
                     "info": {"kind": "cross-encoder" if m else "bm25", "dtype": "float32" if m else None, "device": "cpu" if m else None}}
                    for n, m, v, p95 in systems],
    }


def _write(root: Path, folder: str, record: dict, mtime: float) -> Path:
    path = root / folder / "results.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))
    (path.parent / "report.html").write_text("<!DOCTYPE html><title>r</title>")
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    _write(root, "dl19-old", _record("trec-dl-2019", [("bm25", None, 0.50, 5.0), ("ce", "org/ce", 0.60, 100.0)], "dl19-old", "a" * 40), 1_000)
    _write(root, "dl19-new", _record("trec-dl-2019", [("bm25", None, 0.50, 4.0), ("ce", "org/ce", 0.70, 90.0)], "dl19-new", "b" * 40), 2_000)
    _write(root, "vaswani", _record("vaswani", [("bm25", None, 0.44, 1.0), ("ce", "org/ce", 0.47, 50.0)], "vaswani", "c" * 40), 1_500)
    return root


def test_newest_record_wins_older_reachable(reports: Path):
    board = build([reports], reports)
    assert board.collections == ["trec-dl-2019", "vaswani"] and board.measures == {"trec-dl-2019": "nDCG@10", "vaswani": "nDCG@10"}
    ce = next(r for r in board.rows if r.identity["name"] == "ce")
    assert ce.identity == {"name": "ce", "model": "org/ce", "kind": "cross-encoder", "revision": None, "dtype": "float32", "device": "cpu"}
    newest, older = ce.cells["trec-dl-2019"]
    assert (newest.value, newest.p95_ms, newest.link) == (0.70, 90.0, "dl19-new/report.html")
    assert (older.value, older.link) == (0.60, "dl19-old/report.html")
    assert [e.link for e in ce.cells["vaswani"]] == ["vaswani/report.html"]
    page = html(board)
    row = re.search(r"<tr data-collections=\"trec-dl-2019 vaswani\"><td data-v=\"ce\">.*?</tr>", page, re.S)
    assert row and '<a href="dl19-new/report.html" title="dl19-new (bbbbbbb)">0.7000</a>' in row.group(0)
    assert "+1 older</summary><a href=\"dl19-old/report.html\">0.6000 (dl19-old aaaaaaa)</a>" in row.group(0)
    for link in re.findall(r'href="([^"]+)"', page):
        assert (reports / link).is_file(), link


def test_markdown_table_with_links(reports: Path):
    text = markdown(build([reports], reports))
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| name"))
    assert header == ("| name | model | kind | revision | dtype | device | trec-dl-2019 nDCG@10 | trec-dl-2019 p95 ms/q "
                      "| vaswani nDCG@10 | vaswani p95 ms/q |")
    ce = next(line for line in lines if line.startswith("| ce "))
    assert ce == ("| ce | org/ce | cross-encoder | - | float32 | cpu | [0.7000](dl19-new/report.html) | [90.0](dl19-new/report.html) "
                  "| [0.4700](vaswani/report.html) | [50.0](vaswani/report.html) |")
    assert "- ce on trec-dl-2019: [0.6000](dl19-old/report.html) (dl19-old, commit aaaaaaa)" in text


def test_cli_leaderboard_writes_both_files(reports: Path, tmp_path: Path, capsys):
    out = tmp_path / "board"
    assert main(["-q", "leaderboard", str(reports / "dl19-new" / "results.json"), str(reports / "vaswani"), "--output", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "index.html"]
    assert capsys.readouterr().out == (out / "README.md").read_text()
    assert "../reports/dl19-new/report.html" in (out / "index.html").read_text() and "dl19-old" not in (out / "index.html").read_text()


def test_cli_leaderboard_bad_input_one_line(tmp_path: Path, capsys):
    assert main(["leaderboard", str(tmp_path / "none"), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file or folder" in err and not (tmp_path / "o").exists()
    (tmp_path / "empty").mkdir()
    assert main(["leaderboard", str(tmp_path / "empty")]) == 2
    assert "no results records (results.json) found" in capsys.readouterr().err
    assert not (tmp_path / "empty" / "index.html").exists()


# --- bench evaluate: official measure sets ---------------------------------------------------------------


def test_evaluate_graded_qrels_note(tmp_path: Path, caplog, capsys):
    qrels, run = tmp_path / "qrels.txt", tmp_path / "run.trec"
    qrels.write_text("q1 0 a 2\nq1 0 b 1\nq2 0 c 1\n")
    run.write_text("q1 Q0 b 1 2.0 t\nq1 Q0 a 2 1.0 t\nq2 Q0 c 1 1.0 t\n")
    with caplog.at_level(logging.INFO, logger="bench"):
        assert main(["evaluate", str(run), "--qrels", str(qrels), "--json"]) == 0
    notes = [r.getMessage() for r in caplog.records if "graded labels" in r.getMessage()]
    assert len(notes) == 1 and "\n" not in notes[0] and "label >= 2" in notes[0] and "--collection trec-dl-2019" in notes[0]
    assert json.loads(capsys.readouterr().out)[str(run)]["RR@10"] == 1.0
    caplog.clear()
    binary = tmp_path / "binary.txt"
    binary.write_text("q1 0 a 1\nq2 0 c 1\n")
    with caplog.at_level(logging.INFO, logger="bench"):
        assert main(["evaluate", str(run), "--qrels", str(binary)]) == 0
        assert main(["evaluate", str(run), "--qrels", str(qrels), "--measures", "RR@10"]) == 0
    assert "graded labels" not in caplog.text


def test_evaluate_collection_unknown_or_without_qrels(tmp_path: Path, capsys):
    run = tmp_path / "run.trec"
    run.write_text("q1 Q0 b 1 2.0 t\n")
    assert main(["evaluate", str(run), "--collection", "no-such-collection-xyz"]) == 2
    assert "unknown collection 'no-such-collection-xyz'" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--collection", "trec-dl-2019", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "trec-dl-2019" in err and "--data-dir" in err  # the loader's one line: how to use a local copy
    assert main(["evaluate", str(run)]) == 2
    assert "pass a TREC qrels file with --qrels" in capsys.readouterr().err


def test_evaluate_collection_selects_dl_official_measures(dl19: Path, caplog, capsys):
    run_path = dl19 / "run.bm25.trec"
    with caplog.at_level(logging.INFO, logger="bench"):
        assert main(["evaluate", str(run_path), "--collection", "trec-dl-2019", "--data-dir", str(dl19.parent), "--json"]) == 0
    official = json.loads(capsys.readouterr().out)[str(run_path)]
    assert list(official) == list(DL_MEASURES) and "graded labels" not in caplog.text
    qrels, run = read_qrels(dl19 / "qrels.txt"), read_run(run_path)
    for measure in parse_measures(list(DL_MEASURES)):
        assert official[measure.name] == pytest.approx(trec_eval_mean(qrels, run, measure), abs=1e-9), measure.name
    assert round(official["RR(rel=2)@10"], 4) == 0.7024
    # the same qrels given as a file, no measure set named: the defaults (label >= 1) and a one-line note
    with caplog.at_level(logging.INFO, logger="bench"):
        assert main(["evaluate", str(run_path), "--qrels", str(dl19 / "qrels.txt"), "--json"]) == 0
    default = json.loads(capsys.readouterr().out)[str(run_path)]
    assert list(default) == list(DEFAULT_MEASURES) and "graded labels (up to 3)" in caplog.text
    assert default["RR@10"] == pytest.approx(trec_eval_mean(qrels, run, parse_measures(["RR@10"])[0]), abs=1e-9)
    assert round(default["RR@10"], 4) == 0.8233
    # an alias needs no local copy for its measure set: explicit qrels plus --collection
    assert main(["evaluate", str(run_path), "--qrels", str(dl19 / "qrels.txt"), "--collection", "dl19", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[str(run_path)] == official


def test_a_record_of_a_query_subset_gets_its_own_column():
    from bench.report.leaderboard import column

    full = {"collection": {"name": "trec-dl-2019", "judged_queries": 43}, "queries": 43}
    subset = {"collection": {"name": "trec-dl-2019", "judged_queries": 43}, "queries": 5}
    assert column(full) == "trec-dl-2019"
    assert column(subset) == "trec-dl-2019 (5 of 43 queries)"  # never an "older measurement" of the full-set number
