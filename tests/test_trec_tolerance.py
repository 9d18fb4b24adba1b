"""Run and qrels files that trec_eval reads and bench used to refuse (issue 24).

Each messy file is evaluated by ``bench evaluate`` and checked against trec_eval (pytrec_eval) on its cleaned
equivalent, derived here without bench's reader: drop blank lines and lines whose first non-blank character is
``#``, keep the first six (run) or four (qrels) fields. What trec_eval's own readers do with each case is in
docs/robustness.md, "What trec_eval reads", with the source it comes from.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from reference import trec_eval_mean

from bench.cli import main
from bench.errors import DataError
from bench.measures import DEFAULT_MEASURES, DL_MEASURES, parse_measure
from bench.trec import _OTHER_SPACES, _fields, _splitter, read_qrels, read_run

ROOT = Path(__file__).resolve().parents[1]
CASES = ["trailing-fields", "comments", "hash-in-doc-ids", "blank-lines", "all-at-once", "all-at-once-regex-path"]


def _data(hash_ids: bool) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int, float]]]:
    """Judgments (qid, docid, label) and run lines (qid, docid, rank, score): graded labels, ties, depth past 1000."""
    rng = random.Random(24)
    judgments, lines = [], []
    for q in range(6):
        qid = str(301 + q)
        # MS MARCO v2.1 segment ids carry '#': 'msmarco_v2.1_doc_51_766815931#2_1606878413'; the segments of one
        # document share the part before it, so a reader cutting ids at '#' would merge them
        docs = [f"msmarco_v2.1_doc_{q:02d}_{i // 4}#{i % 4}_{rng.randrange(10**9)}" if hash_ids and i % 3 else f"D{q}-{i}" for i in range(1300)]
        judgments += [(qid, d, rng.choice([0, 0, 1, 2, 3])) for d in rng.sample(docs[:1100], 40)]
        if q == 4:
            continue  # judged, absent from the run: 0 for every measure
        ranked = rng.sample(docs, 1050)
        scores = sorted((round(rng.uniform(0, 30), 1) for _ in ranked), reverse=True)  # one decimal: many ties
        lines += [(qid, d, rank, s) for rank, (d, s) in enumerate(zip(ranked, scores), start=1)]
    lines += [("999", "D0-1", 1, 1.0)]  # a query nobody judged: ignored
    return judgments, lines


def _messy(case: str, tmp_path: Path) -> tuple[Path, Path]:
    judgments, lines = _data(hash_ids=case in ("hash-in-doc-ids", "all-at-once", "all-at-once-regex-path"))
    every = case.startswith("all-at-once")
    qrels = [f"{q} 0 {d} {label}" for q, d, label in judgments]
    run = [f"{q}\tQ0\t{d}\t{rank}\t{s!r}\tbench" for q, d, rank, s in lines]
    if case == "trailing-fields" or every:
        # numbers after the tag: a reader taking the score from the wrong field would get other values
        run = [f"{line} {i % 7}.5 more junk at" if i % 3 == 0 else line for i, line in enumerate(run)]
    if case == "comments" or every:
        qrels.insert(0, "# comment here")
        qrels.insert(7, "#301 0 D0-1 3")  # a commented-out judgment: read, it would add query '#301' to the mean
        qrels.insert(8, "   # an indented comment 301 0 D0-2 3")
        qrels.append("# a comment as the last line, without a newline")
        run.insert(0, "# This is my favorite run")
        run.insert(1, "# It starts with comments for documentation.")
        run.insert(500, "\t# 301 Q0 D0-3 1 999.0 commented-out")
        run.append("#the end")
    if case == "blank-lines" or every:
        for rows in (qrels, run):
            rows.insert(0, "")
            rows.insert(3, "   ")
            rows.insert(len(rows) // 2, "\t \t")
            rows.append("")
    if case == "all-at-once-regex-path":
        run[-3] = run[-3].replace("\tbench", "\tbench\u0085tag")  # non-ASCII whitespace in an ignored field
    q_path, r_path = tmp_path / "qrels.txt", tmp_path / "run.trec"
    ending = "\r\n" if every else "\n"
    q_path.write_text(ending.join(qrels), encoding="utf-8", newline="")
    r_path.write_text(ending.join(run) + ending, encoding="utf-8", newline="")
    return q_path, r_path


def _cleaned(path: Path, width: int) -> list[list[str]]:
    """The lines trec_eval reads, cut to ``width`` fields: no blank lines, no '#' comment lines."""
    rows = [line.split() for line in path.read_text(encoding="utf-8").split("\n")]
    return [fields[:width] for fields in rows if fields and not fields[0].startswith("#")]


def _evaluate(q_path: Path, r_path: Path, measures: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> dict[str, float]:
    code = main(["evaluate", "--qrels", str(q_path), str(r_path), "--measures", *measures, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)[str(r_path)]


@pytest.mark.parametrize("case", CASES)
def test_messy_files_equal_trec_eval_on_the_cleaned_files(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    q_path, r_path = _messy(case, tmp_path)
    qrels: dict[str, dict[str, int]] = {}
    for q, _, d, label in _cleaned(q_path, 4):
        qrels.setdefault(q, {})[d] = int(label)
    run: dict[str, dict[str, float]] = {}
    for q, _, d, _, score, _ in _cleaned(r_path, 6):
        run.setdefault(q, {})[d] = float(score)
    assert len(qrels) == 6 and sum(map(len, run.values())) == 5 * 1050 + 1
    if "#" in case or case.startswith("all"):
        assert sum("#" in d for docs in run.values() for d in docs) > 2000
    for measures in (DL_MEASURES, DEFAULT_MEASURES):
        got = _evaluate(q_path, r_path, measures, capsys)
        for name in measures:
            assert got[name] == pytest.approx(trec_eval_mean(qrels, run, parse_measure(name)), abs=1e-9), (case, name)
        assert any(0.05 < value < 0.95 for value in got.values())  # values that a wrong reading would move


def test_extra_fields_warn_once_per_file_naming_the_first_such_line(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                                    capsys: pytest.CaptureFixture[str]):
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("301 0 FBIS3-27619 1\n301 0 FBIS3-1 0\n", encoding="utf-8")
    first, second, plain = tmp_path / "a.trec", tmp_path / "b.trec", tmp_path / "c.trec"
    first.write_text("# run a\n301 Q0 FBIS3-1 1 3.0 STANDARD\n301 Q0 FBIS3-27619 99 2.138276 STANDARD more junk at\n"
                     "301 Q0 FBIS3-2 100 1.0 STANDARD x\n301 Q0 FBIS3-3 101 0.5 STANDARD y z\n", encoding="utf-8")
    second.write_text("301 Q0 FBIS3-27619 1 2.0 STANDARD\n301 Q0 FBIS3-1 2 1.0 STANDARD 7\n", encoding="utf-8")
    plain.write_text("301 Q0 FBIS3-27619 1 2.0 STANDARD\n", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="bench.trec")
    assert main(["evaluate", "--qrels", str(qrels), str(first), str(second), str(plain), "--measures", "AP", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {str(first): {"AP": 0.5}, str(second): {"AP": 1.0}, str(plain): {"AP": 1.0}}
    warnings = [r.getMessage() for r in caplog.records if r.name == "bench.trec" and r.levelno == logging.WARNING]
    assert warnings == [
        f"{first}:3: 9 fields where a run line has 6 ('more junk at' after the tag); fields after the sixth are ignored, "
        "as trec_eval ignores them (3 lines of this file)",
        f"{second}:2: 7 fields where a run line has 6 ('7' after the tag); fields after the sixth are ignored, "
        "as trec_eval ignores them (1 line of this file)",
    ]


def test_duplicate_doc_is_one_line_that_says_what_trec_eval_does(tmp_path: Path):
    """trec_eval stops at it too ('trec_eval.form_res_qrels: duplicate docs ...'); bench says so, in one line, exit 2."""
    qrels, run = tmp_path / "qrels.txt", tmp_path / "run.trec"
    qrels.write_text("301 0 D1 1\n", encoding="utf-8")
    run.write_text("301 Q0 D1 1 2.0 t\n# a comment still counts as a line\n301 Q0 D1 2 1.0 t\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "bench", "-q", "evaluate", "--qrels", str(qrels), str(run)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"bench: error: {run}:3: doc 'D1' appears twice for query '301'; keep one line per (query, doc) "
                           "(trec_eval stops at a judged query's duplicate too: 'duplicate docs')\n")


def test_hash_inside_an_id_stays_part_of_it_and_a_leading_hash_is_a_comment(tmp_path: Path):
    path = tmp_path / "run.trec"
    path.write_text("q1 Q0 doc_0#1_2 1 2.0 t#x\n#q1 Q0 d2 2 1.0 t\n  #\nq1 Q0 d#3 3 0.5 t\n", encoding="utf-8")
    assert read_run(path) == {"q1": {"doc_0#1_2": 2.0, "d#3": 0.5}}
    path.write_text("q1 0 doc_0#1_2 1\n\t# q1 0 d2 1\nq#1 0 d3 0\n", encoding="utf-8")
    assert read_qrels(path) == {"q1": {"doc_0#1_2": 1}, "q#1": {"d3": 0}}


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("run.trec", "# c\n\nq1 Q0 d1 1 high t x\n", "run.trec:3: score 'high' is not a number"),
        ("run.trec", "# c\nq1 Q0 d1 1 2.0 t\n\n  \nq1 Q0 d2 2 1.0\n", "run.trec:5: expected 6 columns 'qid Q0 docid rank score tag', got 5"),
        ("qrels.txt", "# c\n\nq1 0 d1 1 extra\n", "qrels.txt:3: expected 4 columns 'qid iter docid label', got 5"),
        ("qrels.txt", "q1 0 d1 1\n# c\nq1 0 d2 1.5\n", "qrels.txt:3: relevance label '1.5' is not an integer"),
        ("qrels.txt", "# only comments\n\n   # and blanks\n", "qrels.txt: no judgments found"),
    ],
)
def test_everything_else_is_still_a_one_line_error_at_the_physical_line(tmp_path: Path, name: str, text: str, message: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        (read_run if name.endswith(".trec") else read_qrels)(path)


def test_the_fast_splitter_is_chosen_only_where_it_splits_like_the_ascii_blank_one():
    derived = {chr(c) for c in range(0x110000) if chr(c).isspace()} - set(" \t\r\n")
    assert set(_OTHER_SPACES) == derived
    assert _splitter("q Q0 d 1 2.0 t\r\nq Q0 e 2 1.0 t\n") is str.split
    for text in ("q Q0 d\u0085x 1 2.0 t\n", "q Q0 d\x0cx 1 2.0 t\n", "q Q0 d\rx 1 2.0 t\n", "a\r\r\n"):
        assert _splitter(text) is _fields
    rng = random.Random(5)
    alphabet = ["a", "b", "#", "1", ".", " ", " ", "\t", "\r", "\r\n", "\n", "\x85", "\x0c", "\u3000", "é"]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 30)))
        split = _splitter(text)
        assert [split(line) for line in text.split("\n")] == [_fields(line) for line in text.split("\n")], repr(text)
