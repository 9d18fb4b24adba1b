from pathlib import Path

import pytest

from bench.errors import DataError
from bench.trec import format_run, qid_order, ranked, read_qrels, read_run, write_run


def test_ranked_breaks_ties_by_doc_id_descending_like_trec_eval():
    assert ranked({"a": 1.0, "c": 1.0, "b": 2.0, "d": 0.5}) == [("b", 2.0), ("c", 1.0), ("a", 1.0), ("d", 0.5)]


def test_format_run_is_canonical_and_full_precision():
    run = {"10": {"x": 0.1 + 0.2, "y": 1.0}, "9": {"z": 3.0}}
    text = format_run(run, "sys")
    assert text.splitlines() == [
        "9 Q0 z 1 3.0 sys",
        "10 Q0 y 1 1.0 sys",
        "10 Q0 x 2 0.30000000000000004 sys",
    ]


def test_run_round_trips_exactly(tmp_path: Path):
    run = {"q1": {"d1": 1 / 3, "d2": -2.5e-9}, "q2": {"d3": 12.345678901234567}}
    write_run(run, tmp_path / "r.trec", "t")
    assert read_run(tmp_path / "r.trec") == run
    assert not list(tmp_path.glob(".*tmp*"))


def test_qid_order_numeric_then_strings():
    assert qid_order(["10", "9", "b", "a", "100"]) == ["9", "10", "100", "a", "b"]


@pytest.mark.parametrize(
    "line,message",
    [
        ("q1 Q0 d1 1 1.0", "expected 6 columns"),
        ("q1 Q0 d1 1 high sys", "is not a number"),
        ("q1 Q0 d1 1 nan sys", "not finite"),
    ],
)
def test_bad_run_lines_name_file_and_line(tmp_path: Path, line: str, message: str):
    path = tmp_path / "bad.trec"
    path.write_text("q1 Q0 d0 1 2.0 sys\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"bad.trec:2: .*{message}"):
        read_run(path)


def test_duplicate_doc_in_run_is_refused(tmp_path: Path):
    path = tmp_path / "dup.trec"
    path.write_text("q1 Q0 d1 1 2.0 s\nq1 Q0 d1 2 1.0 s\n", encoding="utf-8")
    with pytest.raises(DataError, match="dup.trec:2: doc 'd1' appears twice for query 'q1'"):
        read_run(path)


def test_malformed_qrels_line_names_line(tmp_path: Path):
    path = tmp_path / "qrels.txt"
    path.write_text("1 0 d1 1\n1 0 d2\n", encoding="utf-8")
    with pytest.raises(DataError, match="qrels.txt:2: expected 4 columns"):
        read_qrels(path)
    path.write_text("1 0 d1 yes\n", encoding="utf-8")
    with pytest.raises(DataError, match="qrels.txt:1: relevance label 'yes' is not an integer"):
        read_qrels(path)


def test_non_utf8_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "qrels.txt"
    path.write_bytes(b"1 0 d1 1\n1 0 d\xff2 1\n")
    with pytest.raises(DataError, match=r"qrels.txt:2: not valid UTF-8 \(byte 0xff\)"):
        read_qrels(path)


def test_lines_split_only_on_newline(tmp_path: Path):
    """MS MARCO text holds U+0085; it must not split a line."""
    path = tmp_path / "r.trec"
    path.write_text("q\u0085x Q0 d1 1 1.0 s\n", encoding="utf-8")
    assert read_run(path) == {"q\u0085x": {"d1": 1.0}}
