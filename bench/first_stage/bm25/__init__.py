"""BM25: parameters and tokeniser (``params``), streaming index build (``build``), the bm25s
index and retrieval (``search``), the numba query kernel (``kernel``) and the rank-bm25
reference (``reference``). The first-stage wrapper is :mod:`bench.first_stage.bm25_stage`.
Importing this package loads nothing heavy.
"""

from __future__ import annotations

from .build import index_workers, tokenise_chunk, write_index
from .params import Bm25Params, Tokenizer, top_k
from .reference import RankBm25Index
from .search import INDEX_FORMAT, Bm25sIndex, retrieve

__all__ = [
    "INDEX_FORMAT", "Bm25Params", "Bm25sIndex", "RankBm25Index", "Tokenizer", "index_workers", "retrieve", "tokenise_chunk",
    "top_k", "write_index",
]
