"""Toy PyTerrier pipelines for the tests, built by factories (what ``kind = "pyterrier"`` and ``evaluate`` call).

Both score with ``pt.apply.doc_score`` and rules a person can follow, written out again in the
tests (``overlap`` and ``shortness``) to derive the expected runs independently:

* ``overlap_retriever``: every document of a local ``corpus.jsonl`` for every query, scored by
  how many of the query's distinct words it contains, cut to ``depth``;
* ``shortness_reranker``: a candidate's score is ``scale / (1 + number of words)``.

``CALLS`` counts pipeline calls in this process (to see a cached stage never builds one).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CALLS = {"retriever": 0, "reranker": 0}


def overlap(query: str, text: str) -> float:
    return float(len(set(query.lower().split()) & set(text.lower().split())))


def shortness(text: str, scale: float = 1.0) -> float:
    return scale / (1.0 + len(text.split()))


def _corpus(path: str) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as fh:
        return [(row["doc_id"], row["text"]) for row in map(json.loads, fh)]


def overlap_retriever(corpus: str, depth: int = 10) -> Any:
    import pandas as pd
    import pyterrier as pt

    docs = _corpus(corpus)

    def every_doc(topics: pd.DataFrame) -> pd.DataFrame:
        CALLS["retriever"] += 1
        if os.environ.get("BENCH_TOY_SLEEP"):
            import time

            time.sleep(float(os.environ["BENCH_TOY_SLEEP"]))
        rows = [(q, query, d, t) for q, query in zip(topics["qid"], topics["query"]) for d, t in docs]
        return pd.DataFrame(rows, columns=["qid", "query", "docno", "text"])

    return pt.apply.generic(every_doc) >> pt.apply.doc_score(lambda row: overlap(row["query"], row["text"])) % depth


def shortness_reranker(scale: float = 1.0) -> Any:
    import pyterrier as pt

    def score(row: Any) -> float:
        return shortness(row["text"], scale)

    def counted(frame: Any) -> Any:
        CALLS["reranker"] += 1
        return frame

    return pt.apply.generic(counted) >> pt.apply.doc_score(score)


def cascade(corpus: str, depth: int = 10, scale: float = 1.0) -> Any:
    """The retriever, then the reranker over everything it kept."""
    return overlap_retriever(corpus, depth) >> shortness_reranker(scale)


def make_collection(folder: Path, queries: int = 12, docs: int = 40, seed: int = 7) -> Path:
    """A local collection whose documents differ in length and overlap (few ties), judged on 4 documents per query."""
    import random

    from helpers import WORDS

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "queries.tsv").write_text("".join(f"{q}\t{' '.join(rng.choices(WORDS, k=6))}\n" for q in range(1, queries + 1)))
    corpus = [(f"d{i:02d}", " ".join(rng.choices(WORDS, k=rng.randint(3, 25)))) for i in range(docs)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"doc_id": d, "text": t}) + "\n" for d, t in corpus))
    (folder / "qrels.txt").write_text("".join(f"{q} 0 d{(q * 7 + k) % docs:02d} {k % 3}\n" for q in range(1, queries + 1) for k in range(4)))
    return folder


def inventing_reranker(**ignored: Any) -> Any:
    """A 'reranker' that adds a document it was not given (bench refuses it)."""
    import pandas as pd
    import pyterrier as pt

    def add(frame: Any) -> Any:
        extra = frame.head(1).assign(docno="invented", score=99.0)
        return pd.concat([frame, extra], ignore_index=True)

    return pt.apply.generic(add)


def not_a_transformer(**ignored: Any) -> Any:
    return "a string"


def no_args() -> Any:
    import pyterrier as pt

    return pt.apply.doc_score(lambda row: 0.0)


def terrier_bm25(index: str, depth: int = 100) -> Any:
    """Terrier's own BM25 (needs pyterrier[java] and a JDK)."""
    import pyterrier as pt

    return pt.terrier.Retriever(str(Path(index)), wmodel="BM25", num_results=depth)


JAVA_NAMES = ("java", "javac", "jshell")


def java_hidden(shims: Path) -> dict[str, str]:
    """Environment changes that hide Java: ``JAVA_HOME`` pointing nowhere and ``PATH`` without a ``java``.

    A PATH folder holding ``java`` is replaced by ``shims``, which links every other program
    of that folder (git, ...) so nothing else goes missing.
    """
    shims.mkdir(parents=True, exist_ok=True)
    kept = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder:
            continue
        if not any(os.access(os.path.join(folder, n), os.X_OK) for n in JAVA_NAMES):
            kept.append(folder)
            continue
        for entry in os.scandir(folder):
            target = shims / entry.name
            if entry.name not in JAVA_NAMES and not entry.name.startswith("java") and not target.exists():
                target.symlink_to(entry.path)
    kept.append(str(shims))
    return {"JAVA_HOME": str(shims / "no-jdk-here"), "PATH": os.pathsep.join(kept), "JVM_PATH": str(shims / "no-jvm-here")}


@contextlib.contextmanager
def java_kept_out(shims: Path) -> Iterator[None]:
    """Java hidden (``java_hidden``) while inside; afterwards PyTerrier must not have started (or even loaded) a JVM."""
    import pyterrier as pt
    import pytest

    before = pt.java.started()  # Terrier's own test (Java present) may have started one earlier in the session
    with pytest.MonkeyPatch.context() as mp:
        for key, value in java_hidden(shims).items():
            mp.setenv(key, value)
        yield
    assert before or (not pt.java.started() and "jnius" not in sys.modules), "PyTerrier started a JVM"
