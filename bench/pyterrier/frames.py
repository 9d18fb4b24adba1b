"""PyTerrier's data frames and bench's runs, requests and qrels: the conversions, in one place.

PyTerrier passes results as one frame (``qid, query, docno, [text], score, rank``); bench
passes runs (``{qid: {docno: score}}``) and :class:`~bench.ranking.Request` s. Orders follow
trec_eval's (score descending, ties by docno descending), so a frame turned into a run and back
ranks its documents as ``trec_eval`` and bench do; ranks start at PyTerrier's 0.
Only pandas is needed here, so bench's stages can use it without importing PyTerrier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import DataError
from ..ranking import Request
from ..trec import Qrels, Run, ranked

FIRST_RANK = 0  # PyTerrier's (pt.model.FIRST_RANK)


def _qid_groups(frame: Any) -> list[tuple[str, Any]]:
    """(qid, rows) in the order each query first appears (PyTerrier keeps query order)."""
    if not len(frame):
        return []
    return [(str(q), group) for q, group in frame.groupby(frame["qid"].astype(str), sort=False)]


def input_order(group: Any) -> list[tuple[str, float]]:
    """One query's (docno, score) best first: by ``score`` in trec_eval's order, else by ``rank``, else as given.

    Without scores the positions become scores (``n - position``), so what is below a
    reranker's top k keeps its order as bench's own tail does.
    """
    docnos = [str(d) for d in group["docno"]]
    if len(set(docnos)) != len(docnos):
        dup = next(d for d in docnos if docnos.count(d) > 1)
        raise DataError(f"docno {dup!r} appears twice for query {group['qid'].iloc[0]!r}; keep one row per (qid, docno)")
    if "score" in group.columns:
        return ranked(dict(zip(docnos, (float(s) for s in group["score"]))))
    if "rank" in group.columns:
        docnos = [d for _, d in sorted(zip(group["rank"], docnos), key=lambda x: x[0])]
    n = len(docnos)
    return [(d, float(n - i)) for i, d in enumerate(docnos)]


def requests(frame: Any, text_field: str = "text", top_k: int | None = None) -> list[tuple[Request, dict[str, float]]]:
    """A :class:`Request` per query (its top ``top_k`` by input order, all when None) and the query's whole input order."""
    out = []
    for qid, group in _qid_groups(frame):
        order = input_order(group)
        top = order if top_k is None else order[:top_k]
        texts = dict(zip((str(d) for d in group["docno"]), group[text_field]))
        missing = [d for d, _ in top if not isinstance(texts[d], str) or not texts[d].strip()]
        if missing:
            raise DataError(f"document {missing[0]!r} of query {qid!r} has no {text_field!r} ({len(missing)} such); "
                            f"add it before reranking, e.g. pipeline >> pt.text.get_text(dataset, {text_field!r}) >> reranker")
        request = Request(qid, str(group["query"].iloc[0]), tuple(d for d, _ in top), tuple(texts[d] for d, _ in top),
                          tuple(s for _, s in top))
        out.append((request, dict(order)))
    return out


def reranked(frame: Any, scores: Mapping[str, Mapping[str, float]]) -> Any:
    """``frame`` with each query's ``score`` replaced by ``scores[qid]``, sorted best first and ``rank`` recomputed.

    Every other column is kept. Queries keep their order; inside a query trec_eval's order.
    """
    import pandas as pd

    parts = []
    for qid, group in _qid_groups(frame):
        new = scores[qid]
        docnos = [str(d) for d in group["docno"]]
        group = group.assign(score=[float(new[d]) for d in docnos])
        order = {d: i for i, (d, _) in enumerate(ranked(dict(zip(docnos, group["score"]))))}
        group = group.assign(rank=[order[d] + FIRST_RANK for d in docnos])
        parts.append(group.sort_values("rank", kind="stable"))
    if not parts:
        return frame.assign(score=pd.Series(dtype="float64"), rank=pd.Series(dtype="int64"))
    return pd.concat(parts, ignore_index=True)


def to_run(frame: Any) -> Run:
    """A result frame as a run; a missing ``score`` is derived from ``rank`` or the row order (best first)."""
    if frame is None or not len(frame):
        return {}
    for needed in ("qid", "docno"):
        if needed not in frame.columns:
            raise DataError(f"a PyTerrier result frame needs a {needed!r} column; got {', '.join(map(str, frame.columns))}")
    return {qid: dict(input_order(group)) for qid, group in _qid_groups(frame)}


def from_run(run: Mapping[str, Mapping[str, float]], queries: Mapping[str, str], qids: Sequence[str] | None = None) -> Any:
    """A run as PyTerrier's result frame: ``qid, query, docno, score, rank`` in trec_eval's order."""
    import pandas as pd

    rows: dict[str, list[Any]] = {"qid": [], "query": [], "docno": [], "score": [], "rank": []}
    for qid in qids if qids is not None else list(run):
        for rank, (doc, score) in enumerate(ranked(run.get(qid, {}))):
            rows["qid"].append(qid)
            rows["query"].append(queries.get(qid, ""))
            rows["docno"].append(doc)
            rows["score"].append(float(score))
            rows["rank"].append(rank + FIRST_RANK)
    return pd.DataFrame(rows).astype({"score": "float64", "rank": "int64"})


def topics_frame(queries: Mapping[str, str], qids: Sequence[str]) -> Any:
    import pandas as pd

    return pd.DataFrame({"qid": list(qids), "query": [queries[q] for q in qids]})


def qrels_frame(qrels: Qrels) -> Any:
    import pandas as pd

    rows = [(q, d, int(label)) for q, docs in qrels.items() for d, label in docs.items()]
    return pd.DataFrame(rows, columns=["qid", "docno", "label"]).astype({"label": "int64"})


def topics_from(frame: Any) -> dict[str, str]:
    """``qid -> query`` from a topics frame (first text of a repeated qid; PyTerrier repeats none)."""
    if "qid" not in frame.columns or "query" not in frame.columns:
        raise DataError(f"topics need 'qid' and 'query' columns; got {', '.join(map(str, frame.columns))}")
    out: dict[str, str] = {}
    for qid, query in zip(frame["qid"].astype(str), frame["query"]):
        out.setdefault(qid, str(query))
    return out


def qrels_from(frame: Any) -> Qrels:
    """Qrels from PyTerrier's frame (``qid, docno, label``)."""
    for needed in ("qid", "docno", "label"):
        if needed not in frame.columns:
            raise DataError(f"qrels need 'qid', 'docno' and 'label' columns; got {', '.join(map(str, frame.columns))}")
    qrels: Qrels = {}
    for qid, doc, label in zip(frame["qid"].astype(str), frame["docno"].astype(str), frame["label"]):
        qrels.setdefault(qid, {})[doc] = int(label)
    return qrels
