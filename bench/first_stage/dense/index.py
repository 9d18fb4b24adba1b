"""The dense index: shards of the corpus's embedding matrix, cached by (model, corpus, options) and resumable.

Folder: ``<cache>/dense/<key>/`` with ``shards/00000.npy`` ... (each written atomically by
the driver as its rows arrive), then ``doc_ids.npy`` (corpus order) and ``meta.json``
(written last: an index without it is unfinished). A build killed at any moment resumes at
the shards already on disk: the next build sends only the missing ones to the engine. The
key (:func:`index_key`) is the model's content fingerprint, the corpus fingerprint and every
option that changes a stored vector, so a changed checkpoint or corpus never reuses one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...store import atomic_open, cache_dir, file_lock, stable_hash, write_json

log = logging.getLogger(__name__)

INDEX_FORMAT = 1


def index_key(job: Any, corpus: str, shard_size: int) -> dict[str, Any]:
    """Everything that changes a stored vector (the device by type: cuda:0 and cuda:1 encode alike)."""
    s = job.settings
    return {"fingerprint": job.located.fingerprint(), "corpus": corpus, "document_prefix": job.document_prefix, "normalize": job.normalize,
            "storage": job.storage, "shard_size": shard_size, "format": INDEX_FORMAT,
            "settings": {"dtype": s.dtype, "device": s.device.split(":")[0], "batch_size": s.batch_size, "max_length": s.max_length}}


def shard_path(folder: Path, shard: int) -> Path:
    return folder / "shards" / f"{shard:05d}.npy"


class DenseIndex:
    """A finished index in memory: doc ids, the embedding matrix (stored dtype, torch) and trec_eval's tie order."""

    def __init__(self, folder: Path, meta: dict[str, Any], doc_ids: Any, matrix: Any):
        import numpy as np

        self.folder = folder
        self.meta = meta
        self.doc_ids = doc_ids
        self.matrix = matrix
        self.storage = meta["storage"]
        by_rank = np.argsort(doc_ids, kind="stable")  # doc ids ascending
        self.id_rank = np.empty(len(doc_ids), dtype=np.int64)
        self.id_rank[by_rank] = np.arange(len(doc_ids), dtype=np.int64)  # higher rank: larger id, first among equal scores

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def __len__(self) -> int:
        return len(self.doc_ids)

    @staticmethod
    def ensure(job: Any, docs: Any, shard_size: int, engine: Any, root: Path | None = None) -> tuple[Path, bool]:
        """The folder of the finished index for this model, corpus and options (and whether it was there already),
        encoding (or finishing) it on ``engine`` first."""
        key = stable_hash(index_key(job, docs.fingerprint(), shard_size))
        folder = (root or cache_dir()) / "dense" / key
        with file_lock(folder):
            reused = (folder / "meta.json").is_file()
            if reused:
                log.info("%s: reusing dense index %s", job.name, folder)
            else:
                log.info("%s: encoding the corpus into %s", job.name, folder)
                build(folder, job, docs, shard_size, engine)
        return folder, reused

    @classmethod
    def load(cls, folder: Path) -> DenseIndex:
        """Every shard copied into one matrix (shard by shard: peak memory is the matrix, not twice it)."""
        import numpy as np

        from .encoder import from_storage

        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        doc_ids = np.load(folder / "doc_ids.npy")
        dtype = {"float32": np.float32, "float16": np.float16, "bfloat16": np.uint16}[meta["storage"]]
        matrix = np.empty((meta["documents"], meta["dim"]), dtype=dtype)
        at = 0
        for shard in range(meta["shards"]):
            block = np.load(shard_path(folder, shard), mmap_mode="r")
            matrix[at : at + len(block)] = block
            at += len(block)
        if at != len(doc_ids) or at != meta["documents"]:
            raise RuntimeError(f"dense index {folder} holds {at} vectors for {len(doc_ids)} documents; delete the folder to rebuild it")
        return cls(folder, meta, doc_ids, from_storage(matrix, meta["storage"]))


def _units(docs: Any, shard_size: int, done: set[int], ids: list[str]) -> Iterator[dict[str, Any]]:
    """The shards still to encode, in corpus order; every doc id is collected into ``ids`` on the way."""
    texts: list[str] = []
    shard = 0
    for doc_id, text in docs:
        ids.append(doc_id)
        texts.append(text)
        if len(texts) == shard_size:
            if shard not in done:
                yield {"qid": f"shard-{shard:05d}", "shard": shard, "texts": texts}
            texts, shard = [], shard + 1
    if texts and shard not in done:
        yield {"qid": f"shard-{shard:05d}", "shard": shard, "texts": texts}


def build(folder: Path, job: Any, docs: Any, shard_size: int, engine: Any) -> None:
    """Encode the shards not on disk yet on ``engine``, write each as it arrives, then the ids and ``meta.json``."""
    import numpy as np

    from ...progress import progress
    from ...work import batched

    (folder / "shards").mkdir(parents=True, exist_ok=True)
    for leftover in (folder / "shards").glob(".*.tmp-"):  # a shard being written when a build was killed
        leftover.unlink(missing_ok=True)
    total = len(docs)
    count = -(-total // shard_size)
    done = {i for i in range(count) if shard_path(folder, i).is_file()}
    if done:
        log.info("%s: resuming the index build, %d of %d shards already encoded", job.name, len(done), count)
    ids: list[str] = []
    facts: dict[str, Any] = {"shards": count, "shard_size": shard_size, "resumed_shards": len(done), "passages": 0}
    todo = count - len(done)
    dim = None
    started = time.perf_counter()
    if todo:
        with engine.open(job, todo) as session:
            facts.update(load_s=session.load_s, warmup_s=session.warmup_s)
            started = time.perf_counter()
            rows = session.rows(batched(_units(docs, shard_size, done, ids), max(1, job.queries_per_batch)))
            for batch in progress(rows, -(-todo // max(1, job.queries_per_batch)), f"{job.name}: encoding", unit="shards"):
                for row in batch:
                    array = row["embeddings"]
                    with atomic_open(shard_path(folder, row["shard"]), "wb") as fh:
                        np.save(fh, array)
                    facts["passages"] += row["passages"]
                    dim = int(array.shape[1])
            facts["wall_s"] = time.perf_counter() - started
            info, extra = session.finish()
        facts.update({k: extra.get(k) for k in ("engine", "workers", "nodes", "restarted_workers") if k in extra})
        if extra.get("worker_info"):  # Ray: how the shards were spread
            facts["shards_per_worker"] = [w.get("queries", 0) for w in extra["worker_info"]]
        facts.update({k: info.get(k) for k in ("device", "dtype", "batch_size", "max_length", "parameters") if k in info})
        facts["passages_per_s"] = facts["passages"] / facts["wall_s"] if facts["wall_s"] > 0 else None
    if len(ids) < total:  # every shard was on disk already: the ids still come from the corpus
        ids = [doc_id for doc_id, _ in docs]
    if dim is None:
        dim = int(np.load(shard_path(folder, 0), mmap_mode="r").shape[1])
    with atomic_open(folder / "doc_ids.npy", "wb") as fh:
        np.save(fh, np.asarray(ids, dtype=str))
    meta = {"model": job.located.spec, "fingerprint": job.located.fingerprint(), "corpus": docs.fingerprint(), "documents": len(ids),
            "dim": dim, "storage": job.storage, "normalize": job.normalize, "document_prefix": job.document_prefix, "shards": count,
            "encode": facts, "format": INDEX_FORMAT}
    write_json(folder / "meta.json", meta)
