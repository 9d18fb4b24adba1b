"""bench's rankers as a PyTerrier transformer: ``bm25 % 100 >> pt.text.get_text(ds, "text") >> Reranker(model)``.

The stage is built by the code ``bench run`` uses (:func:`bench.experiment.reranker_stage`:
the family chosen or recognised, options checked, the model located and fingerprinted,
device and dtype resolved), and each call runs its ranker through :class:`bench.work.Runner`,
the loop bench's engines use: batches of ``queries_per_batch`` queries, the next batch
tokenised while the current one runs, each batch timed with the device synchronised, load
and warm-up apart. So a query's scores are ``bench run``'s scores, whatever the family.
This module imports PyTerrier (it defines a ``pt.Transformer``); ``bench.pyterrier`` loads it on use.
"""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace
from typing import Any

import pyterrier as pt

from ..ranking import Cost
from ..work import Runner, batched
from . import frames

log = logging.getLogger(__name__)


class Reranker(pt.Transformer):
    """Rerank each query's candidates with any bench family; ``score`` replaced, ``rank`` recomputed, other columns kept.

    ``top_k`` (None: every candidate) is reranked; the rest keep their input order below,
    as in ``bench run``. After each call, :attr:`latency` holds the call's figures (p50/p95
    ms per query, pairs/s, ``load_s``, ``warmup_s``) and :attr:`cost` what it spent.
    """

    def __init__(self, model: str, kind: str = "auto", options: dict[str, Any] | None = None, *, top_k: int | None = None,
                 batch_size: int = 32, max_length: int = 512, device: str = "auto", dtype: str = "auto", revision: str | None = None,
                 passages: str | None = None, window: int = 150, stride: int = 75, queries_per_batch: int | None = None,
                 text_field: str = "text", trust_remote_code: bool = False, allow_pickle: bool = False):
        from ..config import ExperimentConfig, RerankerConfig
        from ..errors import ConfigError
        from ..experiment import reranker_stage

        if top_k is not None and top_k <= 0:
            raise ConfigError(f"top_k must be positive (or None for every candidate), got {top_k}")
        self.config = RerankerConfig(model=str(model), kind=kind, revision=revision, top_k=top_k or 1, batch_size=batch_size,
                                     max_length=max_length, dtype=dtype, device=device, options=dict(options or {}),
                                     queries_per_batch=queries_per_batch, passages=passages, window=window, stride=stride)
        experiment = ExperimentConfig(collection="pyterrier", trust_remote_code=trust_remote_code, allow_pickle=allow_pickle)
        self.stage: Any = reranker_stage(self.config, experiment, SimpleNamespace(docs=None), "pyterrier", f"Reranker({model!r})")
        self.top_k = top_k
        self.text_field = text_field
        self.latency: dict[str, Any] | None = None
        self.cost: dict[str, int] = {}
        self._runner: Runner | None = None

    def __repr__(self) -> str:
        return f"bench.pyterrier.Reranker({self.config.model!r}, kind={self.stage.kind!r})"

    @property
    def runner(self) -> Runner:
        """The loaded ranker (loaded and warmed up on first use, then kept)."""
        if self._runner is None:
            self._runner = Runner(self.stage.worker()).start()
            log.info("%s loaded in %.1f s (warm-up %.1f s)", self, self._runner.load_s, self._runner.warmup_s)
        return self._runner

    def transform(self, inp: Any) -> Any:
        from ..latency import summarize
        from ..rerankers.stage import assemble

        pt.validate.result_frame(inp, extra_columns=["query", self.text_field])
        work = frames.requests(inp, self.text_field, self.top_k)
        if not work:
            return frames.reranked(inp, {})
        runner = self.runner
        rows: dict[str, dict[str, Any]] = {}
        started = time.perf_counter()
        for batch in runner.stream(batched([r for r, _ in work], self.stage.queries_per_batch)):
            rows.update((row["qid"], row) for row in batch)
        wall_s = time.perf_counter() - started
        scores = {r.qid: assemble(order, rows[r.qid]["docs"], rows[r.qid]["scores"]) for r, order in work}
        cost = Cost()
        for row in rows.values():
            cost.add(row.get("cost") or {})
        self.cost = cost.as_dict()
        per_query = {qid: float(row["ms"]) for qid, row in rows.items()}
        self.latency = {**(summarize(per_query, cost.pairs or None, wall_s) or {}), "load_s": runner.load_s, "warmup_s": runner.warmup_s,
                        "per_query_ms": per_query}
        return frames.reranked(inp, scores)
