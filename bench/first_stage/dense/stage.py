"""Dense retrieval as a first stage: the corpus encoded once on the engines, then each query encoded and searched.

Two phases with their own clocks, as BM25 has its index build apart from its queries:

1. the index (:mod:`.index`): the corpus encoded in shards on the engine the experiment
   configures (``local``, or ``ray`` with one replica per GPU), cached by model, corpus and
   options, resumed at the last finished shard. Its time and passages/s go to the stage's
   latency record under ``encode``;
2. the search, in this process (the index lives in the driver's cache folder): per-query
   units on the local engine, so the partial run, resume and per-query milliseconds (query
   encoding + search, shared equally inside a block of :data:`QUERIES_PER_BATCH` queries)
   are those of every other stage; loading the index and the model is ``load_s``.

The run's key holds the model (spec, revision, content fingerprint), the corpus, the
encoding settings, prefixes, similarity, storage and the search options; where it ran does
not belong in it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from ...errors import ConfigError, ModelError
from ...stages import Job
from ...trec import Run
from ...work import EngineStage
from .options import DenseOptions

log = logging.getLogger(__name__)

QUERIES_PER_BATCH = 16  # one exact-search block (search.QUERY_BLOCK): a pass over the matrix serves 16 queries


class DenseSearchWorker:
    """The loaded index and query encoder: ``{"qid", "text"}`` units in, one row of ``depth`` hits per query out."""

    def __init__(self, stage: DenseStage, device: str | None = None):
        self.stage = stage
        self.encoder = stage.job.encoder(device)
        self.device = self.encoder.device
        self.index: Any = None
        self.faiss: Any = None

    def load(self) -> None:
        from .index import DenseIndex
        from .search import FaissSearch

        self.index = DenseIndex.load(self.stage.folder)
        self.encoder.load()
        if self.stage.options.index != "exact":
            self.faiss = FaissSearch(self.index, self.stage.options)

    def warmup(self) -> None:
        self.encoder.warmup()
        self.process(self.prepare([{"qid": "warm-up", "text": "warm up query"}]))

    def describe(self) -> dict[str, Any]:
        out = self.encoder.describe()
        out.update(index=self.stage.options.index, documents=len(self.index), dim=self.index.dim, storage=self.index.storage,
                   similarity=self.stage.similarity, index_folder=str(self.index.folder))
        return out

    def prepare(self, units: list[dict[str, str]]) -> list[tuple[str, Any]]:
        return [(u["qid"], self.encoder.tokenise_query(u["text"])) for u in units]  # one query per batch: no padding

    def process(self, prepared: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        import numpy as np

        from .search import exact_search

        vectors = np.concatenate([self.encoder.embed(batches) for _, batches in prepared])
        depth = self.stage.depth
        hits = self.faiss.search(vectors, depth) if self.faiss is not None else exact_search(self.index, vectors, depth)
        return [{"qid": qid, "docs": docs, "scores": scores} for (qid, _), (docs, scores) in zip(prepared, hits, strict=True)]


class DenseStage(EngineStage):
    """A bi-encoder over the collection's corpus, ``depth`` hits per query."""

    Options = DenseOptions
    queries_per_batch = QUERIES_PER_BATCH
    encode_engine: Any = None  # set by the orchestration: the configured engine (local or Ray) the corpus is encoded on

    def __init__(self, collection: Any, job: Any, options: DenseOptions, depth: int, similarity: str):
        self.collection = collection
        self.job = job  # .encode.EncodeJob: the model, settings, prefixes and storage (what Ray workers need)
        self.options = options
        self.depth = depth
        self.similarity = similarity
        self.device = job.settings.device
        self.model = job.located.spec
        self.name = "dense"
        self.folder: Any = None
        self.encode: dict[str, Any] = {}

    @classmethod
    def unavailable(cls, collection: Any) -> str | None:
        if collection.docs is None:
            return f"collection {collection.name!r} has no corpus to encode; use --first-stage candidates"
        return None

    @classmethod
    def from_config(cls, config: Any, collection: Any, options: DenseOptions) -> DenseStage:
        from ...device import resolve_device, resolve_dtype
        from ...rerankers import ModelSettings, locate
        from .encode import EncodeJob
        from .encoder import folder_defaults

        first = config.first_stage
        if not first.model:
            raise ConfigError("the dense first stage needs a model: model = \"sentence-transformers/all-MiniLM-L6-v2\" (or a folder)")
        located = locate(first.model)
        if not (located.path / "config.json").is_file():
            raise ModelError(f"model {first.model!r}: {located.path} has no config.json; the dense stage needs a Hugging Face or "
                             "sentence-transformers bi-encoder folder")
        device = resolve_device(options.device)
        settings = ModelSettings(device=device, dtype=resolve_dtype(options.dtype, device), batch_size=options.batch_size,
                                 max_length=options.max_length, trust_remote_code=config.trust_remote_code, allow_pickle=config.allow_pickle)
        defaults = folder_defaults(located)
        similarity = defaults.similarity if options.similarity == "auto" else options.similarity
        query_prefix = defaults.query_prefix if options.query_prefix is None else options.query_prefix
        document_prefix = defaults.document_prefix if options.document_prefix is None else options.document_prefix
        job = EncodeJob("dense", located, settings, query_prefix, document_prefix, similarity == "cosine", options.storage)
        return cls(collection, job, options, first.depth, similarity)

    def key(self) -> dict[str, Any]:
        job, s = self.job, self.job.settings
        return {"kind": "dense", "model": job.located.spec, "revision": job.located.revision, "fingerprint": job.located.fingerprint(),
                "corpus": self.collection.docs.fingerprint(), "depth": self.depth,
                "settings": {"dtype": s.dtype, "device": s.device.split(":")[0], "batch_size": s.batch_size, "max_length": s.max_length},
                "query_prefix": job.query_prefix, "document_prefix": job.document_prefix, "similarity": self.similarity,
                "storage": job.storage, "shard_size": self.options.shard_size, "search": self.options.search_key()}

    def units(self, job: Job, input_run: Run | None, qids: list[str]) -> Iterator[dict[str, str]]:
        for qid in qids:
            yield {"qid": qid, "text": job.collection.queries[qid]}

    def worker(self, device: str | None = None) -> DenseSearchWorker:
        return DenseSearchWorker(self, device)

    def build_index(self, engine: Any) -> None:
        """Encode the corpus (or reuse its index) on ``engine``; the build's facts become the stage's ``encode`` record."""
        from .index import DenseIndex

        self.job.name = f"{self.name}: index"
        self.job.execution = self.execution
        self.folder, reused = DenseIndex.ensure(self.job, self.collection.docs, self.options.shard_size, engine)
        meta = json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))
        self.encode = dict(meta["encode"], index_folder=str(self.folder), documents=meta["documents"], dim=meta["dim"], reused=reused)

    def run(self, job: Job, input_run: Run | None, partial: Any, engine: Any = None) -> Any:
        self.build_index(self.encode_engine or engine)
        result = super().run(job, input_run, partial, engine)
        result.extra["encode"] = self.encode  # the corpus encoding, apart from the per-query search
        result.info["options"] = asdict(self.options)
        result.info["index_build_s"] = self.encode.get("wall_s")
        result.pairs = None
        return result
