"""Sliding windows over many queries at once: window k of every query in one model call.

A listwise model reorders a window of ``window`` passages; windows slide from the bottom of
the top ``depth`` to the top, ``stride`` apart, so good passages bubble up (RankGPT,
rank_llm). Windows of one query depend on each other (window k reads the order window k-1
left), so the only way to keep a model busy is to put window k of many queries in one call,
as rank_llm's ``rerank_batch`` does. :func:`slide` does that for any ``call``: it gets the
k-th window of every query still sliding and returns a permutation per window.

The windows are rank_llm's (``sliding_windows`` in ``rank_llm/rerank/reranker.py``):
``end = depth, start = depth - window``, then both move up by ``stride`` until the window
reaches the top; top 100 with window 20 and stride 10 gives 9 windows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


def windows(depth: int, window: int, stride: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each window, back to front, as rank_llm slides them over ``depth`` candidates."""
    if window <= 0 or stride <= 0:
        raise ValueError("window and stride must be positive")
    out = []
    end, start = depth, depth - window
    while end > 0 and start + stride != 0:
        start = max(start, 0)
        out.append((start, end))
        end -= stride
        start -= stride
    return out


@dataclass
class Window:
    """One window of one query, as the model sees it: the query, and the docs currently at ``start:end``."""

    index: int  # which request of the batch
    step: int  # which window of that request (0 = the bottom one)
    start: int
    end: int
    qid: str
    query: str
    doc_ids: list[str]
    texts: list[str]


Call = Callable[[list[Window]], list[tuple[list[int], Any]]]


def slide(requests: Sequence[Any], window: int, stride: int, call: Call, passes: int = 1) -> list[tuple[list[str], list[Any]]]:
    """Slide windows over every request in lockstep: ``call`` gets window k of all requests at once.

    ``call`` returns, per window, a permutation of ``range(len(window))`` (best first) and
    whatever it wants kept for that window (its trace entry). Returns, per request, the final
    order of its doc ids and the kept entries per pass and window. A request shorter than
    ``window`` is one window.
    """
    orders = [list(zip(r.doc_ids, r.texts)) for r in requests]
    kept: list[list[Any]] = [[] for _ in requests]
    for _ in range(passes):
        plans = [windows(len(order), window, stride) for order in orders]
        step = 0
        while True:
            batch = []
            for i, plan in enumerate(plans):
                if step < len(plan):
                    start, end = plan[step]
                    part = orders[i][start:end]
                    r = requests[i]
                    batch.append(Window(i, step, start, end, r.qid, r.query, [d for d, _ in part], [t for _, t in part]))
            if not batch:
                break
            results = call(batch)
            if len(results) != len(batch):
                raise RuntimeError(f"a window call returned {len(results)} results for {len(batch)} windows")
            for w, (permutation, entry) in zip(batch, results):
                part = orders[w.index][w.start : w.end]
                if sorted(permutation) != list(range(len(part))):
                    raise RuntimeError(f"window {w.step} of query {w.qid}: {permutation} is not a permutation of {len(part)}")
                orders[w.index][w.start : w.end] = [part[j] for j in permutation]
                kept[w.index].append(entry)
            step += 1
    return [([d for d, _ in order], entries) for order, entries in zip(orders, kept)]
