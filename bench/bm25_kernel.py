"""BM25 query kernels compiled by numba and cached on disk (imported only when a query runs).

``search`` adds the query's precomputed term-document scores (bm25s's CSC matrix) into a
reusable float32 buffer, in query-token order exactly as bm25s's numpy path does, so the
sums are bit-identical to ``Bm25sIndex.scores``; only the documents a query touches are
visited again, so a query costs its postings, not the collection size. Top-k selection
follows ``bench.bm25.top_k``: score descending, ties by doc id descending (trec_eval's
order, via a precomputed rank of each doc id), padded with unmatched documents (score 0)
in doc id descending order. ``cache=True`` stores the machine code beside this file (or
in numba's user-wide cache when that is read-only), so compilation happens once per
installation, not per process.
"""

from __future__ import annotations

import numpy as np
from numba import njit


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
            if buf[d] == 0.0:
                cand[count] = d
                count += 1
            buf[d] += data[j]
    matched = cand[:count].copy()
    scores = np.empty(count, dtype=np.float32)
    for i in range(count):
        scores[i] = buf[matched[i]]
    if count > k:
        kth = np.partition(scores, count - k)[count - k]
        keep = scores >= kth
        matched = matched[keep]
        scores = scores[keep]
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
    if n < k:  # pad with unmatched documents, doc id descending (buf is still set for matched ones)
        r = by_rank.size - 1
        while n < k and r >= 0:
            d = by_rank[r]
            if buf[d] == 0.0:
                out_docs[n] = d
                n += 1
            r -= 1
    for i in range(count):
        buf[cand[i]] = 0.0
    return out_docs[:n], out_scores[:n]
