"""BM25 query kernels compiled by numba and cached on disk (imported only when a query runs).

``search`` adds the query's precomputed term-document scores (bm25s's CSC matrix) into a
reusable float32 buffer, in query-token order exactly as bm25s's numpy path does, so the
sums are bit-identical to ``Bm25sIndex.scores``; only the documents a query touches are
visited again, so a query costs its postings, not the collection size. The k-th best score
comes from a size-k min-heap (one pass, no sort of all matches). Top-k order follows
``bench.first_stage.bm25.params.top_k``: score descending, ties by doc id descending (trec_eval's order, via
a precomputed rank of each doc id), padded with unmatched documents (score 0) in doc id
descending order. ``cache=True`` stores the machine code beside this file (or in numba's
user-wide cache when that is read-only), so compilation happens once per installation,
not per process.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _sift_down(heap, n, i):  # type: ignore[no-untyped-def]
    """Restore the min-heap property below position ``i`` of ``heap[:n]``."""
    value = heap[i]
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= value:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = value


@njit(cache=True, nogil=True)
def _kth_largest(values, k):  # type: ignore[no-untyped-def]
    """The k-th largest of ``values`` (1 <= k <= values.size) with a size-k min-heap."""
    heap = values[:k].copy()
    for i in range(k // 2 - 1, -1, -1):
        _sift_down(heap, k, i)
    for i in range(k, values.size):
        if values[i] > heap[0]:
            heap[0] = values[i]
            _sift_down(heap, k, 0)
    return heap[0]


@njit(cache=True, nogil=True)
def search(data, indices, indptr, query, k, id_rank, by_rank, buf, cand):  # type: ignore[no-untyped-def]
    """Top-k (doc index, score) arrays for one query of term ids; ``buf`` is all-zero on entry and exit."""
    columns = indptr.size - 1
    count = 0
    for t in query:
        if t < 0 or t >= columns:
            continue
        for j in range(indptr[t], indptr[t + 1]):
            d = indices[j]
            value = buf[d]
            cand[count] = d  # kept only when d is new (branch-free append)
            count += value == 0.0
            buf[d] = value + data[j]
    values = np.empty(count, dtype=np.float32)
    if count > k:
        for i in range(count):  # read and clear in one pass (no padding needed)
            values[i] = buf[cand[i]]
            buf[cand[i]] = 0.0
        kth = _kth_largest(values, k)
        keep = 0
        for i in range(count):
            if values[i] >= kth:
                keep += 1
        matched = np.empty(keep, dtype=np.int64)
        scores = np.empty(keep, dtype=np.float32)
        keep = 0
        for i in range(count):
            if values[i] >= kth:
                matched[keep] = cand[i]
                scores[keep] = values[i]
                keep += 1
    else:
        for i in range(count):
            values[i] = buf[cand[i]]
        matched = cand[:count].astype(np.int64)
        scores = values
    # trec_eval order: ties by doc id descending, then (stable) by score descending
    ranks = np.empty(matched.size, dtype=np.int64)
    for i in range(matched.size):
        ranks[i] = -id_rank[matched[i]]
    order = np.argsort(ranks, kind="mergesort")
    by_score = np.argsort(-scores[order], kind="mergesort")
    order = order[by_score]
    n = min(k, matched.size)
    out_docs = np.empty(k, dtype=np.int64)
    out_scores = np.zeros(k, dtype=np.float32)
    for i in range(n):
        out_docs[i] = matched[order[i]]
        out_scores[i] = scores[order[i]]
    if count <= k:
        r = by_rank.size - 1
        while n < k and r >= 0:  # pad with unmatched documents, doc id descending (buf still marks matches)
            d = by_rank[r]
            if buf[d] == 0.0:
                out_docs[n] = d
                n += 1
            r -= 1
        for i in range(count):
            buf[cand[i]] = 0.0
    return out_docs[:n], out_scores[:n]
