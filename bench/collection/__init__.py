"""Test collections: one interface over ir_datasets ids and local folders.

A :class:`Collection` gives queries, qrels, document text by id, the documents for
indexing, optional first-stage candidates and the official measures. Local folders
hold ``queries.tsv`` (qid TAB text), ``qrels.txt`` (TREC qrels), ``corpus.jsonl``
(``{"doc_id", "text"}``, optional ``"title"``) and optional ``run.*.trec`` candidates.
A name that matches a subfolder of ``--data-dir`` (or ``$BENCH_DATA_DIR``) uses that
local copy; otherwise ir_datasets loads it (and may download it).
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path

from ..errors import ConfigError
from ..store import slug
from .base import Collection, Documents, doc_text
from .local import load_local

log = logging.getLogger(__name__)


BEIR_PUBLIC = {  # the 13 public BEIR sets most papers report, plus CQADupStack (its 12 forums, averaged)
    "arguana": "beir/arguana",
    "climate-fever": "beir/climate-fever",
    "dbpedia-entity": "beir/dbpedia-entity/test",
    "fever": "beir/fever/test",
    "fiqa": "beir/fiqa/test",
    "hotpotqa": "beir/hotpotqa/test",
    "nfcorpus": "beir/nfcorpus/test",
    "nq": "beir/nq",
    "quora": "beir/quora/test",
    "scidocs": "beir/scidocs",
    "scifact": "beir/scifact/test",
    "trec-covid": "beir/trec-covid",
    "webis-touche2020": "beir/webis-touche2020/v2",
    "cqadupstack": "beir/cqadupstack",
}

ALIASES: dict[str, str] = {
    "trec-dl-2019": "msmarco-passage/trec-dl-2019/judged",
    "trec-dl-2020": "msmarco-passage/trec-dl-2020/judged",
    **{f"trec-dl-{year}": f"msmarco-passage-v2/trec-dl-{year}/judged" for year in (2021, 2022, 2023)},
    "trec-dl-2019-doc": "msmarco-document/trec-dl-2019/judged",
    "trec-dl-2020-doc": "msmarco-document/trec-dl-2020/judged",
    **{f"trec-dl-{year}-doc": f"msmarco-document-v2/trec-dl-{year}/judged" for year in (2021, 2022, 2023)},
    "msmarco-dev-small": "msmarco-passage/dev/small",
    "dl19": "msmarco-passage/trec-dl-2019/judged",
    "dl20": "msmarco-passage/trec-dl-2020/judged",
    **{f"beir/{name}": target for name, target in BEIR_PUBLIC.items() if f"beir/{name}" != target},
    "robust04": "disks45/nocr/trec-robust-2004",
}


def unknown_collection(name: str) -> ConfigError:
    """An error naming close matches among aliases and ir_datasets ids."""
    import ir_datasets

    known = list(ALIASES) + list(ir_datasets.registry._registered)  # type: ignore[attr-defined]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see `python -m bench datasets` for names"
    return ConfigError(f"unknown collection {name!r}; {hint} (or pass a local folder with --data-dir)")


def data_dir(explicit: str | os.PathLike[str] | None) -> Path | None:
    """``--data-dir`` or ``$BENCH_DATA_DIR``."""
    value = explicit or os.environ.get("BENCH_DATA_DIR")
    return Path(value) if value else None


def load(name: str, data_dir_: str | os.PathLike[str] | None = None, candidates_file: str | None = None,
         collection_type: str | None = None) -> Collection:
    """Resolve a collection name: an existing folder, a subfolder of the data dir, an alias or an ir_datasets id.

    ``collection_type`` (dl, msmarco, beir, robust04) names the family whose official measures and
    rules apply, for a folder whose name does not say it (a ``collection.toml`` can say it too).
    """
    from ..store import safe_name

    if os.path.isdir(name) and (Path(name) / "queries.tsv").is_file():
        folder = Path(name)
        return load_local(slug(folder.resolve().name, "collection"), folder, candidates_file, collection_type)
    safe_name(name, "collection name")
    dataset_id = ALIASES.get(name, name)
    root = data_dir(data_dir_)
    if root is not None:
        reverse = [alias for alias, target in ALIASES.items() if target == dataset_id]
        for candidate in [name, *reverse, dataset_id.replace("/", "__")]:
            folder = root / candidate
            if folder.is_dir():
                log.info("collection %s: using local copy %s", name, folder)
                return load_local(name, folder, candidates_file, collection_type)
    import ir_datasets

    from .composite import COMPOSITES, load_composite
    from .irds import load_ir_datasets

    if dataset_id in COMPOSITES:
        log.info("collection %s: loading the parts of %s through ir_datasets (may download)", name, dataset_id)
        return load_composite(name, dataset_id, collection_type)
    if dataset_id not in ir_datasets.registry._registered:  # type: ignore[attr-defined]
        raise unknown_collection(name)
    log.info("collection %s: loading ir_datasets %s (may download)", name, dataset_id)
    return load_ir_datasets(name, dataset_id, collection_type)


__all__ = ["ALIASES", "BEIR_PUBLIC", "Collection", "Documents", "data_dir", "doc_text", "load", "unknown_collection"]
