"""Searching a dense index: exact inner product in blocks (torch), or a FAISS index (flat, HNSW, IVF).

Exact search multiplies a block of :data:`QUERY_BLOCK` queries (padded with zero rows) by
blocks of :data:`DOC_BLOCK` stored vectors upcast to fp32. The query block always has the
same shape because BLAS picks another kernel for 1 to 7 rows than for 16, and the last bits
of a score would then depend on how many queries an engine batched. The top k follows
trec_eval's order over the whole ranking: score descending, ties by doc id descending, so a
tie at the cut keeps the same documents whatever the block boundaries.

FAISS (``faiss-cpu``, the ``faiss`` extra) searches inner product too (cosine indexes store
unit vectors). ``flat`` is exact; HNSW and IVF are built once per index and options, saved
beside the shards (``faiss-<key>.index``) and reused.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ...errors import ConfigError
from ...store import stable_hash

log = logging.getLogger(__name__)

QUERY_BLOCK = 16
DOC_BLOCK = 65536
FAISS_BLOCK = 32  # faiss uses BLAS from 20 queries on; below, its own loops (other last bits)


def _select(scores: Any, idx: Any, id_rank: Any, k: int) -> tuple[Any, Any]:
    """The k best of each row in trec_eval's order (score desc, doc id desc): numpy [q, n] in, [q, k] out."""
    import numpy as np

    k = min(k, scores.shape[1])
    order = np.lexsort((-id_rank[idx], -scores), axis=-1)[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(idx, order, 1)


def _block_top(scores: Any, start: int, id_rank: Any, k: int) -> tuple[Any, Any]:
    """Top k of one block of scores (torch [q, n]) with every document tied at the cut considered, not torch's pick."""
    import numpy as np
    import torch

    k = min(k, scores.shape[1])
    top = torch.topk(scores, k, dim=1)
    values, found = top.values.numpy(), top.indices.numpy().astype(np.int64) + start
    cut = values[:, -1]
    tied = (scores >= torch.from_numpy(cut).unsqueeze(1)).sum(dim=1).numpy() > k
    for row in np.flatnonzero(tied):  # more documents share the k-th score than fit: take them in doc id order
        where = torch.nonzero(scores[row] >= float(cut[row])).squeeze(1).numpy().astype(np.int64)
        vals = scores[row, where].numpy()
        best_v, best_i = _select(vals[None, :], (where + start)[None, :], id_rank, k)
        values[row], found[row] = best_v[0], best_i[0]
    return values, found


def exact_search(index: Any, queries: Any, k: int) -> list[tuple[list[str], list[float]]]:
    """Doc ids and scores of the top ``k`` of each query (fp32 numpy [m, dim]) by inner product over every vector."""
    import numpy as np
    import torch

    k = min(k, len(index))
    out: list[tuple[list[str], list[float]]] = []
    for at in range(0, len(queries), QUERY_BLOCK):
        chunk = queries[at : at + QUERY_BLOCK]
        block = torch.zeros((QUERY_BLOCK, queries.shape[1]), dtype=torch.float32)
        block[: len(chunk)] = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32))
        best_v = best_i = None
        with torch.inference_mode():
            for start in range(0, len(index), DOC_BLOCK):
                docs = index.matrix[start : start + DOC_BLOCK]
                scores = block @ (docs if docs.dtype == torch.float32 else docs.float()).T
                values, found = _block_top(scores, start, index.id_rank, k)
                if best_v is None:
                    best_v, best_i = values, found
                else:
                    best_v, best_i = _select(np.concatenate([best_v, values], 1), np.concatenate([best_i, found], 1), index.id_rank, k)
        assert best_v is not None and best_i is not None
        for row in range(len(chunk)):
            out.append((index.doc_ids[best_i[row]].tolist(), best_v[row].astype(np.float64).tolist()))
    return out


def require_faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise ConfigError("dense index = flat/hnsw/ivf needs FAISS; install it with pip install -e '.[faiss]' (or pip install faiss-cpu), "
                          "or use index = \"exact\"") from None
    return faiss


class FaissSearch:
    """A FAISS index over a dense index's vectors (inner product), built or loaded once per options."""

    def __init__(self, index: Any, options: Any):
        self.index = index
        self.options = options
        self.faiss = require_faiss()
        self.searcher = self._open()

    def _vectors(self) -> Any:
        import numpy as np

        return np.ascontiguousarray(self.index.matrix.float().numpy(), dtype=np.float32)

    def _open(self) -> Any:
        from ...store import file_lock

        faiss, o = self.faiss, self.options
        dim = self.index.dim
        if o.index == "flat":
            flat = faiss.IndexFlatIP(dim)
            flat.add(self._vectors())
            return flat
        path = self.index.folder / f"faiss-{stable_hash(o.search_key())}.index"
        with file_lock(path):
            if not path.is_file():
                self._build(path)
        searcher = faiss.read_index(str(path))
        if o.index == "hnsw":
            searcher.hnsw.efSearch = o.ef_search
        else:
            searcher.nprobe = o.nprobe
        return searcher

    def _build(self, path: Any) -> None:
        import numpy as np

        faiss, o = self.faiss, self.options
        vectors = self._vectors()
        dim, n = self.index.dim, len(vectors)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(o.faiss_threads)  # one thread builds the same graph every time
        try:
            if o.index == "hnsw":
                built = faiss.IndexHNSWFlat(dim, o.hnsw_m, faiss.METRIC_INNER_PRODUCT)
                built.hnsw.efConstruction = o.ef_construction
            else:
                nlist = o.nlist or max(1, int(4 * np.sqrt(n)))
                if nlist > n:
                    raise ConfigError(f"dense option nlist = {nlist} is more than the {n} documents; use nlist = {max(1, n // 39)} or less")
                quantizer = faiss.IndexFlatIP(dim)  # held here: the IVF index points at it while it is built
                built = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
                sample = vectors if n <= 256 * nlist else vectors[np.random.default_rng(0).choice(n, 256 * nlist, replace=False)]
                built.train(sample)  # faiss's k-means has its own fixed seed
            log.info("building FAISS %s over %d vectors", o.index, n)
            built.add(vectors)
        finally:
            faiss.omp_set_num_threads(threads)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp-")
        faiss.write_index(built, str(tmp))
        os.replace(tmp, path)

    def search(self, queries: Any, k: int) -> list[tuple[list[str], list[float]]]:
        import numpy as np

        k = min(k, len(self.index))
        out: list[tuple[list[str], list[float]]] = []
        for at in range(0, len(queries), FAISS_BLOCK):
            chunk = queries[at : at + FAISS_BLOCK]
            block = np.zeros((FAISS_BLOCK, queries.shape[1]), dtype=np.float32)
            block[: len(chunk)] = chunk
            scores, found = self.searcher.search(block, k)
            for row in range(len(chunk)):
                keep = found[row] >= 0  # HNSW/IVF can return fewer than k
                out.append((self.index.doc_ids[found[row][keep]].tolist(), scores[row][keep].astype(np.float64).tolist()))
        return out
