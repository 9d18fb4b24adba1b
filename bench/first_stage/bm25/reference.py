"""rank-bm25 with Lucene's idf: the slow, simple reference the bm25s index is checked against."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .params import Bm25Params, Tokenizer


class RankBm25Index:
    """rank-bm25's ``BM25Okapi`` with Lucene's idf: the slow, simple reference."""

    def __init__(self, docs: Iterable[tuple[str, str]], params: Bm25Params):
        import numpy as np
        import rank_bm25

        class LuceneBM25(rank_bm25.BM25Okapi):  # type: ignore[misc, name-defined]
            def _calc_idf(self, nd: dict[str, int]) -> None:
                self.idf = {w: float(np.log(1 + (self.corpus_size - n + 0.5) / (n + 0.5))) for w, n in nd.items()}

        self.tokenizer = Tokenizer(params)
        pairs = list(docs)
        self.doc_ids = np.array([doc_id for doc_id, _ in pairs], dtype=object)
        self.model = LuceneBM25(self.tokenizer.tokens([text for _, text in pairs]), k1=params.k1, b=params.b)

    def scores(self, tokens: list[str]) -> Any:
        return self.model.get_scores(tokens)
