"""Corpus encoding as a job the engines run: units are shards of passages, rows are their embeddings.

An :class:`EncodeJob` has what an engine needs of a stage (``name``, ``device``,
``execution``, ``queries_per_batch``, ``worker(device)``), so ``local`` encodes in this
process and ``ray`` on one replica per GPU with the same code. A unit is one shard (its
index and its passages' text); a worker tokenises the next shard in a thread while the
model encodes the current one, and returns the shard's embeddings in their on-disk dtype.

Workers return arrays and the driver writes them (:mod:`.index`): a Ray worker on another
node has neither the driver's cache folder nor the corpus, so it is given the text and gives
back the numbers; the driver is the only writer of the index, as it is of a partial run.
The job pickles (a located folder, plain settings), so Ray ships it to its actors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class EncodeJob:
    """Encode shards of a corpus with one bi-encoder (the "stage" an engine opens for the index build)."""

    name: str
    located: Any  # bench.models.locate.LocatedModel
    settings: Any  # bench.rerankers.base.ModelSettings
    query_prefix: str
    document_prefix: str
    normalize: bool
    storage: str
    execution: Any = None  # bench.config.ExecutionConfig: workers, GPUs and CPUs per worker (Ray)
    queries_per_batch: int = 1  # shards handed to a worker at once

    @property
    def device(self) -> str:
        return str(self.settings.device)

    def encoder(self, device: str | None = None) -> Any:
        from dataclasses import replace

        from .encoder import Encoder

        settings = self.settings if device is None else replace(self.settings, device=device)
        return Encoder(self.located, settings, self.query_prefix, self.document_prefix, self.normalize)

    def worker(self, device: str | None = None) -> EncodeWorker:
        return EncodeWorker(self.encoder(device), self.storage)


class EncodeWorker:
    """Shards in (``{"qid": "shard-00012", "shard": 12, "texts": [...]}``), one row of stored embeddings per shard out."""

    def __init__(self, encoder: Any, storage: str):
        self.encoder = encoder
        self.storage = storage
        self.device = encoder.device

    def load(self) -> None:
        self.encoder.load()

    def warmup(self) -> None:
        self.encoder.warmup()

    def describe(self) -> dict[str, Any]:
        return self.encoder.describe()

    def prepare(self, units: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
        """Tokenise each shard, length-sorted into padded batches (CPU only: runs in a thread beside the model)."""
        return [(unit, self.encoder.tokenise_documents(unit["texts"])) for unit in units]

    def process(self, prepared: list[tuple[dict[str, Any], Any]]) -> list[dict[str, Any]]:
        from .encoder import to_storage

        rows = []
        for unit, batches in prepared:
            embeddings = to_storage(self.encoder.embed(batches), self.storage)
            rows.append({"qid": unit["qid"], "shard": unit["shard"], "passages": len(unit["texts"]), "embeddings": embeddings})
        return rows
