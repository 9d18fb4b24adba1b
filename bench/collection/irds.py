"""Collections read through ir_datasets' own loaders (which may download); documents and candidates stay lazy."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import DataError
from ..store import stable_hash
from ..trec import Qrels, Run
from .base import Collection, doc_text
from .local import check_collection
from .unranked import describe as describe_candidates

log = logging.getLogger(__name__)


class IrDatasetsDocs:
    """Documents of an ir_datasets dataset, read through its docstore.

    Reading is lazy, so the first read may start a download (the corpus is often not cached
    when queries and qrels are): every read goes through :func:`download_errors`, so a failed
    download is the loader's one-line message, not a disk or network traceback.
    """

    def __init__(self, dataset: object, dataset_id: str, name: str | None = None):
        self.dataset = dataset
        self.dataset_id = dataset_id
        self.name = name or dataset_id

    @staticmethod
    def _text(doc: object) -> str:
        title = getattr(doc, "title", None)
        text = getattr(doc, "text", None)
        if text is None and hasattr(doc, "default_text"):
            return str(doc.default_text())  # type: ignore[attr-defined]
        return doc_text(title, text or "")

    def get_many(self, doc_ids: list[str]) -> dict[str, str]:
        with download_errors(self.name, self.dataset_id, "documents"), _reading(f"documents of {self.name!r}"):
            store = self.dataset.docs_store()  # type: ignore[attr-defined]
            return {d: self._text(doc) for d, doc in store.get_many(doc_ids).items()}

    def __iter__(self) -> Iterator[tuple[str, str]]:
        with download_errors(self.name, self.dataset_id, "documents"):  # a generator: wraps only ir_datasets' own reads
            with _reading(f"documents of {self.name!r}"):  # the first read is where a download starts (and logs each failed try)
                docs = iter(self.dataset.docs_iter())  # type: ignore[attr-defined]
                first = next(docs, None)
            if first is None:
                return
            yield first.doc_id, self._text(first)
            for doc in docs:
                yield doc.doc_id, self._text(doc)

    def __len__(self) -> int:
        with download_errors(self.name, self.dataset_id, "documents"), _reading(f"documents of {self.name!r}"):
            dataset: Any = self.dataset
            count = dataset.docs_count()
            if count is None:  # BEIR: known once its docstore is built, which iterating builds
                count = sum(1 for _ in dataset.docs_iter())
            return int(count)

    def fingerprint(self) -> str:
        import ir_datasets

        return "ir_datasets:" + stable_hash([self.dataset_id, len(self), ir_datasets.__version__])


class _QuietFilter(logging.Filter):
    """While a read is in progress, ir_datasets' own INFO/WARNING lines (each failed download try) are dropped."""

    depth = 0
    lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        return self.depth <= 0 or record.levelno >= logging.ERROR


_QUIET = _QuietFilter()


@contextlib.contextmanager
def _quiet_ir_datasets() -> Iterator[None]:
    """ir_datasets logs each failed download try at INFO/WARNING; our one-line error says it all.

    A filter on ir_datasets' logger (not ``logging.disable``), so bench's own lines, the
    heartbeat of a stalled download among them, still show.
    """
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    logger = logging.getLogger("ir_datasets")
    if _QUIET not in logger.filters:
        logger.addFilter(_QUIET)
    with _QUIET.lock:
        _QUIET.depth += 1
    try:
        yield
    finally:
        with _QUIET.lock:
            _QUIET.depth -= 1


_STALL_ENV = "IR_DATASETS_DL_TIMEOUT"  # ir_datasets' seconds without a byte before a try fails (it retries IR_DATASETS_DL_TRIES times)
_stall_set: str | None = None  # the value bench put there (one the user set wins)


def stall_seconds() -> float:
    """The download stall deadline ir_datasets applies: the user's $IR_DATASETS_DL_TIMEOUT, else bench's ``download_stall``."""
    global _stall_set
    from .. import waits

    current = os.environ.get(_STALL_ENV)
    if current is None or current == _stall_set:
        _stall_set = f"{waits.limit('download_stall'):g}"
        os.environ[_STALL_ENV] = _stall_set
    try:
        return float(os.environ[_STALL_ENV])
    except ValueError:
        return float("nan")


@contextlib.contextmanager
def _reading(what: str) -> Iterator[None]:
    """An ir_datasets read that may download: the stall deadline set, its heartbeat running, its log lines quiet."""
    from .. import waits

    stall_seconds()
    with waits.waiting(f"ir_datasets to read (or download) {what}"), _quiet_ir_datasets():
        yield


_NETWORK_WORDS = ("Max retries exceeded", "Failed to resolve", "Name or service not known", "Connection refused",
                  "Temporary failure in name resolution", "Network is unreachable", "timed out")


def is_download_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it wraps) is a failed download, as opposed to a local disk or data error.

    requests' errors are ``OSError`` subclasses, so ``except OSError`` alone would blame the
    disk; a permission error or a full disk is not a download error and keeps its own message.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__ or ""
        if module.startswith(("requests", "urllib3", "http.client")) or isinstance(current, (ConnectionError, TimeoutError)):
            return True
        if isinstance(current, OSError) and current.errno is not None:
            return False  # a real file-system error (EACCES, ENOSPC ...): the disk message applies
        if any(word in str(current) for word in _NETWORK_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


@contextlib.contextmanager
def download_errors(name: str, dataset_id: str, what: str = "documents") -> Iterator[None]:
    """Turn a failed download inside the block into the loader's one-line :class:`DataError`.

    Use it around any lazy read of an ir_datasets collection (index building, docstore
    lookups while reranking, report-time snippets): the message names the collection, the
    host it could not reach and how to use a local copy. Other errors pass through unchanged.
    """
    try:
        yield
    except DataError:
        raise
    except Exception as exc:
        if is_download_error(exc):
            raise _ir_datasets_error(name, dataset_id, what, exc) from exc
        raise


def _ir_datasets_error(name: str, dataset_id: str, what: str, exc: BaseException) -> DataError:
    text = str(exc)
    host = re.search(r"(?:Failed to resolve|host=)\s*\\*'([^'\\]+)", text)
    local = f"put a local copy in DIR/{name}/ (queries.tsv, qrels.txt, corpus.jsonl, run.*.trec) and pass --data-dir DIR"
    advice = f"offline? {local}"
    if "Read timed out" in text:  # connected, then no bytes for the stall deadline in each of ir_datasets' tries
        from .. import waits

        tries = os.environ.get("IR_DATASETS_DL_TRIES", "3")
        reason = f"download stalled: no bytes from {host.group(1) if host else 'the server'} for {stall_seconds():g} s, in each of {tries} tries"
        advice = f"retry later, raise {waits.option('download_stall')}, or {local}"
    elif host:
        reason = f"download failed: cannot reach {host.group(1)}"
    else:
        reason = (text.strip().splitlines()[0] if text.strip() else type(exc).__name__)[:160]
    return DataError(
        f"collection {name!r} (ir_datasets {dataset_id!r}): could not load {what} ({reason}); {advice}"
    )


def load_ir_datasets(name: str, dataset_id: str, collection_type: str | None = None) -> Collection:
    """Load queries and qrels through ir_datasets; documents and candidates stay lazy."""
    import ir_datasets

    try:
        dataset = ir_datasets.load(dataset_id)
    except KeyError:
        from .names import unknown_collection

        raise unknown_collection(name) from None
    with _reading(f"queries and qrels of {name!r}"):
        return _read_ir_datasets(name, dataset_id, dataset, collection_type)


def _read_ir_datasets(name: str, dataset_id: str, dataset: Any, collection_type: str | None = None) -> Collection:
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
    check_collection(name, queries, qrels)
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
        docs=IrDatasetsDocs(dataset, dataset_id, name) if dataset.has_docs() else None,
        candidates=candidates,
        candidates_name="scoreddocs" if candidates is not None else None,
        rules_id=dataset_id,
        type_hint=collection_type,
        candidates_unranked=candidates is not None and describe_candidates(f"{dataset_id} scoreddocs", candidates),
    )


def _query_text(query: object) -> str:
    text = getattr(query, "text", None)
    if text is None and hasattr(query, "default_text"):
        text = query.default_text()  # type: ignore[attr-defined]
    return str(text or "")
