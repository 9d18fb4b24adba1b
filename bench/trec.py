"""TREC run and qrels files: strict reading, canonical writing.

A run is ``{qid: {docid: score}}`` (ranx's shape). Ranks are derived when a run is
written, in trec_eval's order: score descending, then doc id descending (trec_eval
compares tied doc ids with ``strcmp(b, a)``). Scores are written with ``repr`` so a
run file round-trips to the same floats.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import DataError
from .store import atomic_open

_BLANKS = re.compile(r"[ \t]+")

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]


def _read_lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc}); check the path and its permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_no = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line_no}: not valid UTF-8 (byte {raw[exc.start]:#04x}); re-encode the file as UTF-8") from None
    # split on "\n" only: str.splitlines() also breaks at U+0085 and U+2028, which occur in MS MARCO text
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.rstrip("\r")
        if line.strip():
            yield number, line


def _fields(line: str) -> list[str]:
    """Split on ASCII blanks only, as trec_eval does (str.split() would also split at U+0085)."""
    return [c for c in _BLANKS.split(line) if c]


def read_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read ``qid iter docid label`` lines; labels must be integers."""
    path = Path(path)
    qrels: Qrels = {}
    for number, line in _read_lines(path):
        cols = _fields(line)
        if len(cols) != 4:
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
    """Read a six-column TREC run, refusing duplicates and non-finite scores (trec_eval would silently misbehave)."""
    path = Path(path)
    run: Run = {}
    for number, line in _read_lines(path):
        cols = _fields(line)
        if len(cols) != 6:
            raise DataError(
                f"{path}:{number}: expected 6 columns 'qid Q0 docid rank score tag', got {len(cols)}; fix this line"
            )
        qid, _, docid, _, score_text, _ = cols
        try:
            score = float(score_text)
        except ValueError:
            raise DataError(f"{path}:{number}: score {score_text!r} is not a number; fix this line") from None
        if not math.isfinite(score):
            raise DataError(f"{path}:{number}: score {score_text!r} is not finite; fix this line")
        docs = run.setdefault(qid, {})
        if docid in docs:
            raise DataError(f"{path}:{number}: doc {docid!r} appears twice for query {qid!r}; keep one line per (query, doc)")
        docs[docid] = score
    if not run:
        raise DataError(f"{path}: no results found; expected lines 'qid Q0 docid rank score tag'")
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
