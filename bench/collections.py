"""Test collections: one interface over ir_datasets ids and local folders.

A :class:`Collection` gives queries, qrels, document text by id, the documents for
indexing, optional first-stage candidates and the official measures. Local folders
hold ``queries.tsv`` (qid TAB text), ``qrels.txt`` (TREC qrels), ``corpus.jsonl``
(``{"doc_id", "text"}``, optional ``"title"``) and optional ``run.*.trec`` candidates.
A name that matches a subfolder of ``--data-dir`` (or ``$BENCH_DATA_DIR``) uses that
local copy; otherwise ir_datasets loads it (and may download it).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .errors import ConfigError, DataError
from .measures import official_measures
from .store import file_sha256, slug, stable_hash
from .trec import Qrels, Run, _read_lines, read_qrels, read_run

log = logging.getLogger(__name__)

ALIASES: dict[str, str] = {
    "trec-dl-2019": "msmarco-passage/trec-dl-2019/judged",
    "trec-dl-2020": "msmarco-passage/trec-dl-2020/judged",
    "msmarco-dev-small": "msmarco-passage/dev/small",
    "dl19": "msmarco-passage/trec-dl-2019/judged",
    "dl20": "msmarco-passage/trec-dl-2020/judged",
}


class Documents(Protocol):
    """Document text by id, plus iteration for indexing."""

    def get_many(self, doc_ids: list[str]) -> dict[str, str]: ...

    def __iter__(self) -> Iterator[tuple[str, str]]: ...

    def __len__(self) -> int: ...

    def fingerprint(self) -> str: ...


@dataclass
class Collection:
    """Everything an experiment needs from a test collection."""

    name: str
    source: str  # "local:<path>" or "ir_datasets:<id>"
    queries: dict[str, str]
    qrels: Qrels
    docs: Documents | None
    candidates: Run | None = None
    candidates_name: str | None = None
    measures: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> dict[str, object]:
        """The record of what was loaded, for results files."""
        return {
            "name": self.name,
            "source": self.source,
            "queries": len(self.queries),
            "judged_queries": len(self.qrels),
            "documents": len(self.docs) if self.docs is not None else None,
            "candidates": self.candidates_name,
        }


def doc_text(title: str | None, text: str) -> str:
    """Title + text, joined as ir_datasets' ``default_text`` joins them."""
    return f"{title} {text}" if title else text


class LocalDocs:
    """``corpus.jsonl`` held in memory: the subsets used locally are small."""

    def __init__(self, path: Path):
        self.path = path
        self._docs: dict[str, str] | None = None
        self._fingerprint: str | None = None

    def _load(self) -> dict[str, str]:
        if self._docs is None:
            docs: dict[str, str] = {}
            for number, line in _read_lines(self.path):
                try:
                    row = json.loads(line)
                    doc_id, text = str(row["doc_id"]), row.get("text")
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise DataError(f"{self.path}:{number}: expected a JSON object with \"doc_id\" and \"text\"") from None
                if not isinstance(text, str):
                    raise DataError(f"{self.path}:{number}: document {doc_id!r} has no \"text\" string")
                if doc_id in docs:
                    raise DataError(f"{self.path}:{number}: document {doc_id!r} appears twice; keep one line per document")
                docs[doc_id] = doc_text(row.get("title"), text)
            self._docs = docs
        return self._docs

    def get_many(self, doc_ids: list[str]) -> dict[str, str]:
        docs = self._load()
        return {d: docs[d] for d in doc_ids if d in docs}

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._load().items())

    def __len__(self) -> int:
        return len(self._load())

    def fingerprint(self) -> str:
        """Content hash of corpus.jsonl, computed once (every stage's cache key uses it)."""
        if self._fingerprint is None:
            self._fingerprint = "sha256:" + file_sha256(self.path)
        return self._fingerprint


class IrDatasetsDocs:
    """Documents of an ir_datasets dataset, read through its docstore."""

    def __init__(self, dataset: object, dataset_id: str):
        self.dataset = dataset
        self.dataset_id = dataset_id

    @staticmethod
    def _text(doc: object) -> str:
        title = getattr(doc, "title", None)
        text = getattr(doc, "text", None)
        if text is None and hasattr(doc, "default_text"):
            return str(doc.default_text())  # type: ignore[attr-defined]
        return doc_text(title, text or "")

    def get_many(self, doc_ids: list[str]) -> dict[str, str]:
        store = self.dataset.docs_store()  # type: ignore[attr-defined]
        return {d: self._text(doc) for d, doc in store.get_many(doc_ids).items()}

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for doc in self.dataset.docs_iter():  # type: ignore[attr-defined]
            yield doc.doc_id, self._text(doc)

    def __len__(self) -> int:
        return int(self.dataset.docs_count())  # type: ignore[attr-defined]

    def fingerprint(self) -> str:
        import ir_datasets

        return "ir_datasets:" + stable_hash([self.dataset_id, len(self), ir_datasets.__version__])


def _read_queries(path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for number, line in _read_lines(path):
        qid, sep, text = line.partition("\t")
        if not sep:
            raise DataError(f"{path}:{number}: expected 'qid<TAB>text'; separate the id and the text with a tab")
        if qid.strip() in queries:
            raise DataError(f"{path}:{number}: query id {qid.strip()!r} appears twice")
        queries[qid.strip()] = text.strip()
    if not queries:
        raise DataError(f"{path}: no queries found; expected lines 'qid<TAB>text'")
    return queries


def _check(name: str, queries: dict[str, str], qrels: Qrels) -> None:
    if not set(queries) & set(qrels):
        raise DataError(
            f"collection {name!r}: no query id in the queries is judged in the qrels "
            f"(e.g. queries {sorted(queries)[:3]}, qrels {sorted(qrels)[:3]}); check that both files belong to one collection"
        )
    empty = [q for q, t in queries.items() if not t.strip() and q in qrels]
    if empty:
        raise DataError(f"collection {name!r}: query {empty[0]!r} has empty text; fix or remove it ({len(empty)} such)")


def load_local(name: str, folder: Path, candidates_file: str | None = None) -> Collection:
    """Load a collection from a folder in the local layout."""
    for needed in ("queries.tsv", "qrels.txt"):
        if not (folder / needed).is_file():
            raise DataError(f"local collection {folder}: missing {needed}; a local collection needs queries.tsv and qrels.txt")
    queries = _read_queries(folder / "queries.tsv")
    qrels = read_qrels(folder / "qrels.txt")
    _check(name, queries, qrels)
    docs = LocalDocs(folder / "corpus.jsonl") if (folder / "corpus.jsonl").is_file() else None
    run_files = sorted(folder.glob("run.*.trec"))
    if candidates_file:
        run_files = [folder / candidates_file]
        if not run_files[0].is_file():
            raise DataError(f"local collection {folder}: candidates file {candidates_file} not found")
    candidates = candidates_name = None
    if len(run_files) > 1:
        log.warning("several candidate runs in %s; using %s (choose with candidates_file)", folder, run_files[0].name)
    if run_files:
        candidates = read_run(run_files[0])
        candidates_name = run_files[0].name
    return Collection(
        name=name,
        source=f"local:{folder}",
        queries=queries,
        qrels=qrels,
        docs=docs,
        candidates=candidates,
        candidates_name=candidates_name,
        measures=official_measures(name),
    )


@contextlib.contextmanager
def _quiet_ir_datasets() -> Iterator[None]:
    """ir_datasets logs each failed download try at INFO/WARNING; our one-line error says it all."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _ir_datasets_error(name: str, dataset_id: str, what: str, exc: BaseException) -> DataError:
    text = str(exc)
    host = re.search(r"(?:Failed to resolve|host=)\s*\\*'([^'\\]+)", text)
    if host:
        reason = f"download failed: cannot reach {host.group(1)}"
    else:
        reason = (text.strip().splitlines()[0] if text.strip() else type(exc).__name__)[:160]
    return DataError(
        f"collection {name!r} (ir_datasets {dataset_id!r}): could not load {what} ({reason}); "
        f"offline? put a local copy in DIR/{name}/ (queries.tsv, qrels.txt, corpus.jsonl, run.*.trec) and pass --data-dir DIR"
    )


def load_ir_datasets(name: str, dataset_id: str) -> Collection:
    """Load queries and qrels through ir_datasets; documents and candidates stay lazy."""
    import ir_datasets

    try:
        dataset = ir_datasets.load(dataset_id)
    except KeyError:
        raise unknown_collection(name) from None
    with _quiet_ir_datasets():
        return _read_ir_datasets(name, dataset_id, dataset)


def _read_ir_datasets(name: str, dataset_id: str, dataset: Any) -> Collection:
    for needed in ("queries", "qrels"):
        if not getattr(dataset, f"has_{needed}")():
            raise DataError(f"ir_datasets {dataset_id!r} has no {needed}; choose a dataset id with queries and qrels")
    try:
        queries = {q.query_id: _query_text(q) for q in dataset.queries_iter()}
    except Exception as exc:  # downloads raise many types; all mean "could not get the data"
        raise _ir_datasets_error(name, dataset_id, "queries", exc) from exc
    try:
        qrels: Qrels = {}
        for row in dataset.qrels_iter():
            qrels.setdefault(row.query_id, {})[row.doc_id] = int(row.relevance)
    except Exception as exc:
        raise _ir_datasets_error(name, dataset_id, "qrels", exc) from exc
    _check(name, queries, qrels)
    candidates: Run | None = None
    if dataset.has_scoreddocs():
        try:
            candidates = {}
            for row in dataset.scoreddocs_iter():
                candidates.setdefault(row.query_id, {})[row.doc_id] = float(row.score)
        except Exception as exc:
            log.warning("candidates of %s unavailable: %s", dataset_id, exc)
            candidates = None
    return Collection(
        name=name,
        source=f"ir_datasets:{dataset_id}",
        queries=queries,
        qrels=qrels,
        docs=IrDatasetsDocs(dataset, dataset_id) if dataset.has_docs() else None,
        candidates=candidates,
        candidates_name="scoreddocs" if candidates is not None else None,
        measures=official_measures(dataset_id),
    )


def _query_text(query: object) -> str:
    text = getattr(query, "text", None)
    if text is None and hasattr(query, "default_text"):
        text = query.default_text()  # type: ignore[attr-defined]
    return str(text or "")


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


def load(name: str, data_dir_: str | os.PathLike[str] | None = None, candidates_file: str | None = None) -> Collection:
    """Resolve a collection name: an existing folder, a subfolder of the data dir, an alias or an ir_datasets id."""
    from .store import safe_name

    if os.path.isdir(name) and (Path(name) / "queries.tsv").is_file():
        folder = Path(name)
        return load_local(slug(folder.resolve().name, "collection"), folder, candidates_file)
    safe_name(name, "collection name")
    dataset_id = ALIASES.get(name, name)
    root = data_dir(data_dir_)
    if root is not None:
        reverse = [alias for alias, target in ALIASES.items() if target == dataset_id]
        for candidate in [name, *reverse, dataset_id.replace("/", "__")]:
            folder = root / candidate
            if folder.is_dir():
                log.info("collection %s: using local copy %s", name, folder)
                return load_local(name, folder, candidates_file)
    import ir_datasets

    if dataset_id not in ir_datasets.registry._registered:  # type: ignore[attr-defined]
        raise unknown_collection(name)
    log.info("collection %s: loading ir_datasets %s (may download)", name, dataset_id)
    return load_ir_datasets(name, dataset_id)
