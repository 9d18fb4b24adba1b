"""TREC run and qrels files: reading what trec_eval reads, canonical writing.

A run is ``{qid: {docid: score}}`` (ranx's shape). Ranks are derived when a run is
written, in trec_eval's order: score descending, then doc id descending (trec_eval
compares tied doc ids with ``strcmp(b, a)``). Scores are written with ``repr`` so a
run file round-trips to the same floats.

The readers accept what trec_eval accepts (docs/robustness.md, "What trec_eval reads",
cites its source): blank lines and lines whose first non-blank character is ``#`` are
skipped (a ``#`` anywhere else is part of a field, as in MS MARCO v2.1 segment ids), and
run fields after the sixth are ignored with one warning per file. What trec_eval would
read wrongly without a word (a non-numeric score or label read as 0) or refuses (a doc
twice for a query) is a one-line DataError.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from .errors import DataError
from .store import atomic_open

log = logging.getLogger(__name__)

_BLANKS = re.compile(r"[ \t]+")
# Every character str.split() splits at besides " \t\r\n" (the str.isspace() ones; tests/test_trec_tolerance.py checks
# the list). Fields are split at " " and "\t" only (MS MARCO text holds U+0085), so the faster str.split() is used only
# on text with none of these, where it gives the same fields (BENCHMARKS.md, "Reading a large run").
_OTHER_SPACES = "\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc}); check the path and its permissions") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_no = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line_no}: not valid UTF-8 (byte {raw[exc.start]:#04x}); re-encode the file as UTF-8") from None


def _read_lines(path: Path) -> Iterable[tuple[int, str]]:
    """Numbered non-blank lines of a UTF-8 text file (queries.tsv, corpus.jsonl: no comment lines there)."""
    # split on "\n" only: str.splitlines() also breaks at U+0085 and U+2028, which occur in MS MARCO text
    for number, raw_line in enumerate(_read_text(path).split("\n"), start=1):
        line = raw_line.rstrip("\r")
        if line.strip():
            yield number, line


def _fields(line: str) -> list[str]:
    """Split at " " and "\t" only (str.split() would also split at U+0085, found in MS MARCO text); a blank line has none."""
    line = line.rstrip("\r")
    if not line.strip():
        return []
    return [c for c in _BLANKS.split(line) if c]


def _splitter(text: str) -> Callable[[str], list[str]]:
    """The fastest splitter that gives ``_fields``' answer on every line of ``text``."""
    if any(c in text for c in _OTHER_SPACES):
        return _fields
    if "\r" in text and text.count("\r") != text.count("\r\n"):  # a "\r" that is not the one _fields strips
        return _fields
    return str.split


def _trec_lines(path: Path) -> tuple[list[str], Callable[[str], list[str]]]:
    """The lines of a run or qrels file and the splitter for them. A line is skipped when it has no field or its first
    field starts with '#' (a comment: the first field starts at the first non-blank character), as trec_eval skips it.
    The readers loop over the lines themselves: a generator yielding each line's fields was measurably slower."""
    text = _read_text(path)
    # split on "\n" only: str.splitlines() also breaks at U+0085 and U+2028, which occur in MS MARCO text
    return text.split("\n"), _splitter(text)


def read_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read ``qid iter docid label`` lines; labels must be integers (trec_eval would read 'yes' as 0)."""
    path = Path(path)
    qrels: Qrels = {}
    lines, split = _trec_lines(path)
    for number, line in enumerate(lines, start=1):
        cols = split(line)
        if not cols or cols[0][0] == "#":
            continue
        if len(cols) != 4:  # trec_eval: "Malformed line", for extra fields too
            raise DataError(f"{path}:{number}: expected 4 columns 'qid iter docid label', got {len(cols)}; fix or remove this line")
        qid, _, docid, label = cols
        try:
            qrels.setdefault(qid, {})[docid] = int(label)
        except ValueError:
            raise DataError(f"{path}:{number}: relevance label {label!r} is not an integer; fix this line") from None
    if not qrels:
        raise DataError(f"{path}: no judgments found; expected lines 'qid iter docid label'")
    return qrels


def read_run(path: str | os.PathLike[str]) -> Run:
    """Read a TREC run as trec_eval does: qid, docid and score of each line, fields after the sixth ignored.

    Refused with one line: fewer than six fields (trec_eval: "Malformed line"), a score that is not a finite number
    (trec_eval reads 'high' as 0 without a word), and a doc twice for one query (trec_eval stops: "duplicate docs").
    """
    path = Path(path)
    run: Run = {}
    extra = 0  # lines with fields after the sixth
    first_extra: tuple[int, list[str]] | None = None
    qid_now: str | None = None
    docs: dict[str, float] = {}
    isfinite = math.isfinite
    lines, split = _trec_lines(path)
    for number, line in enumerate(lines, start=1):
        cols = split(line)
        if not cols or cols[0][0] == "#":
            continue
        if len(cols) != 6:
            if len(cols) < 6:
                raise DataError(f"{path}:{number}: expected 6 columns 'qid Q0 docid rank score tag', got {len(cols)}; fix this line")
            extra += 1
            if first_extra is None:
                first_extra = number, cols
        qid, docid, score_text = cols[0], cols[2], cols[4]
        try:
            score = float(score_text)
        except ValueError:
            raise DataError(f"{path}:{number}: score {score_text!r} is not a number; fix this line") from None
        if not isfinite(score):
            raise DataError(f"{path}:{number}: score {score_text!r} is not finite; fix this line")
        if qid != qid_now:
            qid_now, docs = qid, run.setdefault(qid, {})
        if docid in docs:
            raise DataError(
                f"{path}:{number}: doc {docid!r} appears twice for query {qid!r}; keep one line per (query, doc) "
                "(trec_eval stops at a judged query's duplicate too: 'duplicate docs')"
            )
        docs[docid] = score
    if not run:
        raise DataError(f"{path}: no results found; expected lines 'qid Q0 docid rank score tag'")
    if first_extra is not None:
        number, cols = first_extra
        after = " ".join(cols[6:])
        log.warning(
            "%s:%d: %d fields where a run line has 6 (%r after the tag); fields after the sixth are ignored, as trec_eval "
            "ignores them (%d line%s of this file)", path, number, len(cols), after if len(after) <= 60 else after[:57] + "...",
            extra, "" if extra == 1 else "s",
        )
    return run


def ranked(docs: Mapping[str, float]) -> list[tuple[str, float]]:
    """Documents in trec_eval order: score descending, ties by doc id descending."""
    return sorted(docs.items(), key=lambda item: (item[1], item[0]), reverse=True)


def qid_order(qids: Iterable[str]) -> list[str]:
    """A stable, human order for query ids: numeric ids numerically, others after, as strings."""
    return sorted(qids, key=lambda q: (0, int(q), q) if q.isdigit() else (1, 0, q))


def format_run(run: Mapping[str, Mapping[str, float]], tag: str) -> str:
    """The canonical text of a run: same run, same bytes."""
    if not tag or any(c.isspace() for c in tag):
        raise ValueError(f"run tag must be one non-empty word, got {tag!r}")
    lines = []
    for qid in qid_order(run):
        for rank, (docid, score) in enumerate(ranked(run[qid]), start=1):
            lines.append(f"{qid} Q0 {docid} {rank} {float(score)!r} {tag}\n")
    return "".join(lines)


def write_run(run: Mapping[str, Mapping[str, float]], path: str | os.PathLike[str], tag: str) -> None:
    """Atomically write a run in canonical form."""
    with atomic_open(path, "w") as fh:
        fh.write(format_run(run, tag))
