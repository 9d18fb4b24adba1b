"""A ranker as a stage: the top-k of its input stage ranked by one family, the rest kept in input order.

The key holds the family, what its model source declares (a folder: spec, revision, content
fingerprint and the resolved inference settings; an endpoint: the served model id and the
revision the user states; nothing: nothing), the corpus the model reads, ``top_k`` and the
family's options that change the output. How the work is spread (the engine, the number of
workers, queries per batch) is not part of it, so a run started on one worker can be
finished on eight. Any engine runs it: its units are :class:`~bench.ranking.Request` s, its
worker a loaded :class:`~bench.ranking.Ranker`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict, replace
from typing import Any

from ..errors import ConfigError, DataError
from ..ranking import ENDPOINT, FOLDER, Ranker, Request
from ..stages import Job
from ..trec import Run, ranked
from ..work import EngineStage
from .passages import Passages

log = logging.getLogger(__name__)


def assemble(first: Mapping[str, float], docs: list[str], scores: list[float]) -> dict[str, float]:
    """Reranked top docs, then the rest in input order with scores below all reranked ones."""
    out = dict(zip(docs, scores))
    floor = min(scores) if scores else 0.0
    reranked = set(docs)
    tail = [d for d, _ in ranked(first) if d not in reranked]
    for position, doc in enumerate(tail, start=1):
        out[doc] = floor - position
    return out


class RankWorker:
    """A ranker as an engine worker: requests in, rows (one per query) out."""

    def __init__(self, ranker: Ranker):
        self.ranker = ranker
        self.device = getattr(ranker, "device", "cpu")

    def load(self) -> None:
        self.ranker.load()

    def warmup(self) -> None:
        self.ranker.warmup()

    def describe(self) -> dict[str, Any]:
        return self.ranker.describe()

    def prepare(self, requests: list[Request]) -> Any:
        return self.ranker.prepare(requests)

    def process(self, prepared: Any) -> list[dict[str, Any]]:
        return [ranking.row(0.0) for ranking in self.ranker.rank(prepared)]


class RerankStage(EngineStage):
    """One ranker of an experiment (what it needs to build its model anywhere, engine workers included)."""

    def __init__(self, name: str, located: Any, family: type, options: Any, settings: Any, top_k: int, corpus: str | None,
                 passages: Passages | None = None, queries_per_batch: int | None = None, initial_order: str = "input"):
        self.name = name
        self.located = located  # a LocatedModel for folder sources, else None
        self.family = family
        self.kind = family.kind
        self.source = family.source(options)
        self.model = located.spec if located is not None else getattr(options, "model", None) or None
        self.options = options
        self.settings = settings
        self.top_k = top_k
        self.corpus = corpus
        self.passages = passages  # long documents: FirstP / MaxP windows (None: the whole text, truncated by the model)
        self.queries_per_batch = queries_per_batch or family.QUERIES_PER_BATCH
        self.device = settings.device
        self.initial_order = initial_order  # the order the ranker receives its candidates in (bench.orders)
        self.order_of: str | None = None  # the system whose other orders this stage is run with, when several

    def key(self) -> dict[str, Any]:
        key: dict[str, Any] = {"kind": self.kind}
        if self.source == FOLDER:  # the same fields, in the same order, as before the ranking contract: hashes are kept
            settings = {k: v for k, v in asdict(self.settings).items() if k not in ("trust_remote_code", "allow_pickle")}
            settings["device"] = self.settings.device.split(":")[0]  # cuda:0 and cuda:1 give the same scores
            key.update({"model": self.located.spec, "revision": self.located.revision, "fingerprint": self.located.fingerprint()})
            key.update({"corpus": self.corpus, "top_k": self.top_k, "settings": settings})
        else:
            if self.source == ENDPOINT:
                key["endpoint"] = self.family.endpoint_key(self.options)
            key.update({"corpus": self.corpus, "top_k": self.top_k})
        key["options"] = self.family.key_options(self.options)
        if self.passages is not None:  # only when set, so runs made before this option keep their hash
            key["passages"] = self.passages.describe()
        if self.initial_order != "input":  # likewise
            key["initial_order"] = self.initial_order
        return key

    def create(self, device: str | None = None) -> Ranker:
        """An unloaded ranker (on ``device`` when an engine worker has its own)."""
        from .base import Reranker
        from .pointwise import Pointwise

        settings = self.settings if device is None else replace(self.settings, device=device)
        if issubclass(self.family, Reranker):
            return Pointwise(self.family(self.located, settings, self.options), self.passages)
        return self.family(self.located, settings, self.options)  # type: ignore[no-any-return]

    def worker(self, device: str | None = None) -> RankWorker:
        return RankWorker(self.create(device))

    def check(self, job: Job, input_run: Run | None) -> None:
        from ..collection.unranked import is_unranked

        if input_run is None:
            raise ConfigError(f"{self.name}: a ranker needs an input stage")
        qids = job.qids
        depth = max((len(input_run.get(q, {})) for q in qids), default=0)
        if self.top_k < depth and is_unranked(input_run, qids):  # its "top k" would be k documents chosen by doc id
            raise ConfigError(
                f"--top-k {self.top_k}: the input candidates are unranked (every score is equal; up to {depth} per query), "
                f"so they have no top {self.top_k}; rerank the whole set (--top-k {depth}) or use --first-stage bm25"
            )
        if self.top_k > depth:
            raise ConfigError(
                f"--top-k {self.top_k} is larger than the input stage's candidates (at most {depth} per query); "
                f"use --top-k {depth} or less"
            )

    def units(self, job: Job, input_run: Run | None, qids: list[str]) -> Iterator[Request]:
        """A :class:`Request` per query: the input's top_k (in the stage's initial order), their text and input scores."""
        from ..orders import permute

        assert input_run is not None
        docs = job.collection.docs
        for qid in qids:
            top = permute(self.initial_order, qid, ranked(input_run.get(qid, {}))[: self.top_k])
            ids = [d for d, _ in top]
            texts = docs.get_many(ids)
            missing = [d for d in ids if not texts.get(d, "").strip()]
            if missing:
                raise DataError(
                    f"candidate document {missing[0]!r} for query {qid!r} has no text in the corpus "
                    f"({len(missing)} such); add the text or use a candidate run over this corpus"
                )
            yield Request(qid, job.collection.queries[qid], tuple(ids), tuple(texts[d] for d in ids), tuple(s for _, s in top))

    def to_run(self, input_run: Run | None, row: dict[str, Any]) -> dict[str, float]:
        return assemble((input_run or {}).get(row["qid"], {}), row["docs"], row["scores"])

    def run(self, job: Job, input_run: Run | None, partial: Any, engine: Any = None) -> Any:
        result = super().run(job, input_run, partial, engine)
        if self.passages is not None:
            result.info["passages"] = self.passages.describe()  # the record names the strategy
        if self.source != FOLDER:
            result.info.setdefault("source", self.source)
        price = result.info.get("price_per_million")
        if price and result.cost:  # served models: what the tokens the server billed cost, at the stated prices
            usd = (result.cost.get("input_tokens", 0) * price["prompt"] + result.cost.get("output_tokens", 0) * price["completion"]) / 1e6
            result.cost["usd"] = round(usd, 8)
        if self.order_of is not None:  # the record groups the orders of one system (bench.orders.robustness)
            result.info.update(initial_order=self.initial_order, order_of=self.order_of)
        return result
