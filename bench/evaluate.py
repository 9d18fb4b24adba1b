"""Evaluation, in one place: the collection families' official measures and rules (as data), and computing any measure.

**Rules as data.** A :class:`Family` row names which collections it covers (a pattern on the
ir_datasets id, alias or folder name), their official measures, where those come from, and
their evaluation rules: BEIR drops a document whose id is the query id; CQADupStack's figure
is the mean over its forums. ``bench run``, ``bench evaluate --collection`` and ``bench
datasets`` all read :data:`FAMILIES`, so a number made by bench uses the measures, relevance
levels and rules of the tables it is compared with.

**Computing** (:func:`compute`): ranx computes the measures it has (``nDCG``, ``RR``, ``AP``,
``R``, ``P``, ``Rprec``, ``Success`` with a cut-off and a relevance level); ir_measures'
providers compute every other measure it can name (pytrec_eval first: ``Judged@10``, ``Bpref``,
``nDCG(judged_only=True)@10`` ...). Both see exactly trec_eval's ranking: ties ordered by doc
id descending, handed over with strictly decreasing scores; a judged query absent from a run
scores 0 (``trec_eval -c``); queries without judgments are ignored. Every measure is checked
against trec_eval in the tests. Sources of the families:

* ``dl``: TREC Deep Learning 2019-2023 overviews (Craswell et al.): graded nDCG@10, RR/AP/R
  with label >= 2 relevant, and Judged@10 (LLM rerankers surface unjudged passages: a
  reranker's nDCG@10 means little when a third of its top 10 was never judged).
  ``RR(rel=2)@10`` is kept so records made before this table reproduce measure for measure.
* ``msmarco``: the MS MARCO passage leaderboard: MRR@10 on dev (small), and R@1000.
* ``beir``: Thakur et al., BEIR (NeurIPS 2021 datasets track): nDCG@10 and R@100.
* ``robust04``: TREC 2004 Robust overview (Voorhees), AP and P@20; nDCG@20 as the neural
  reranking papers report it (e.g. MacAvaney et al., CEDR, SIGIR 2019).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .measures import DEFAULT_MEASURES, DL_MEASURES, Measure, parse_measures
from .trec import Qrels, ranked

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Family:
    """One row of the table: which collections, their official measures, where they come from, and their rules."""

    name: str
    pattern: str  # regex searched in the ir_datasets id, alias or folder name
    measures: tuple[str, ...]
    source: str
    drop_self_hits: bool = False  # a document whose id is the query id is not an answer (BEIR's ignore_identical_ids)
    group_mean: bool = True  # a collection made of parts (CQADupStack) is the mean over its parts' means
    redistributable: bool = True  # whether reports may quote its text (MS MARCO: non-commercial research use, no redistribution)
    cite: str = ""  # the source in a few words, for one-line listings

    def matches(self, collection_id: str) -> bool:
        return bool(self.pattern) and re.search(self.pattern, collection_id, re.IGNORECASE) is not None


FAMILIES: tuple[Family, ...] = (
    Family("dl", r"trec-dl|(^|[/_-])dl-?(19|20|21|22|23)($|[/_-])", DL_MEASURES,
           "TREC Deep Learning track overviews 2019-2023 (Craswell et al.); RR(rel=2)@10 kept so earlier records reproduce; "
           "Judged@10 shows unjudged passages surfaced by a reranker", redistributable=False, cite="TREC DL overviews"),
    Family("msmarco", r"msmarco-passage/dev/small|msmarco-dev-small|(^|/)dev-small$", ("RR@10", "R@1000"),
           "MS MARCO passage ranking leaderboard (MRR@10 on dev small)", redistributable=False, cite="MS MARCO leaderboard"),
    Family("beir", r"^beir[/_-]|(^|/)beir$", ("nDCG@10", "R@100"),
           "BEIR, Thakur et al., NeurIPS 2021 datasets track (identical ids dropped; CQADupStack: mean over 12 forums)",
           drop_self_hits=True, cite="BEIR paper"),
    Family("robust04", r"robust-?(04|2004)", ("AP", "P@20", "nDCG@20"),
           "TREC 2004 Robust track overview (Voorhees): AP, P@20; nDCG@20 as in neural reranking papers (CEDR, SIGIR 2019)",
           cite="TREC 2004 Robust overview; CEDR"),
)
DEFAULT = Family("default", "", DEFAULT_MEASURES, "bench's generic set (no official rule known)", cite="bench default")
TYPES = {f.name: f for f in (*FAMILIES, DEFAULT)}


def family_for(collection_id: str, collection_type: str | None = None) -> Family:
    """The family named by ``collection_type``, else the first whose pattern matches ``collection_id``, else the default."""
    if collection_type:
        if collection_type not in TYPES:
            raise ConfigError(f"unknown collection type {collection_type!r}; use one of {', '.join(TYPES)}")
        return TYPES[collection_type]
    return next((f for f in FAMILIES if f.matches(collection_id)), DEFAULT)


def family_of(collection: Any) -> Family:
    """A loaded collection's family: from its type (``--collection-type``, ``collection.toml``), else its id."""
    return family_for(getattr(collection, "rules_id", "") or collection.name, getattr(collection, "type_hint", None))


# -- computing ---------------------------------------------------------------------------


@dataclass
class Evaluation:
    """Mean and per-query values of each measure for one run (keys: the measures' names)."""

    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]


def _ranx_threading() -> None:
    from numba import config

    config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]  # what ranx's __init__ sets before its metrics


@functools.cache
def ranx_metric(metric: str) -> Callable[..., Any]:
    """ranx's function for a metric name: ``ranx.metrics`` without ranx's heavy package ``__init__`` (:mod:`bench.lazy_import`)."""
    from .lazy_import import import_submodule

    return import_submodule("ranx", "metrics", _ranx_threading).metric_switch(metric)  # type: ignore[no-any-return]


def warm_up() -> None:
    """Import ranx's metric functions and compile numba's typed list once (the prewarm thread calls this)."""
    import numpy as np
    from numba.typed import List as TypedList

    for metric in ("ndcg", "mrr", "map", "recall", "precision", "r-precision", "hit_rate"):
        ranx_metric(metric)
    TypedList([np.zeros((1, 2), dtype=np.float64)])


def _ordered(qrels: Qrels, run: Mapping[str, Mapping[str, float]]) -> dict[str, list[str]]:
    """Each judged query's ranking in trec_eval's order (score descending, ties by doc id descending)."""
    return {qid: [d for d, _ in ranked(run.get(qid, {}))] for qid in qrels}


def _ranx(qrels: Qrels, order: dict[str, list[str]], measures: Sequence[Measure]) -> dict[str, dict[str, float]]:
    """ranx on arrays: doc ids numbered per query (ranx hashes strings), strictly decreasing scores."""
    import numpy as np
    from numba.typed import List as TypedList

    qids = sorted(qrels)
    qrels_arrays, run_arrays = [], []
    for qid in qids:
        ids = {doc: i for i, doc in enumerate(qrels[qid])}
        labels = sorted(((ids[doc], float(label)) for doc, label in qrels[qid].items()), key=lambda x: -x[1])
        qrels_arrays.append(np.array(labels, dtype=np.float64).reshape(-1, 2))
        docs = order[qid]
        next_id = len(ids)
        rows = []
        for position, doc in enumerate(docs):
            doc_id = ids.get(doc)
            if doc_id is None:
                doc_id, next_id = next_id, next_id + 1
            rows.append((float(doc_id), float(len(docs) - position)))
        run_arrays.append(np.array(rows, dtype=np.float64).reshape(-1, 2))
    qrels_list, run_list = TypedList(qrels_arrays), TypedList(run_arrays)
    out = {}
    for m in measures:
        values = ranx_metric(str(m.metric))(qrels_list, run_list, m.cutoff or 0, m.rel)
        out[m.name] = {qid: float(v) for qid, v in zip(qids, values, strict=True)}
    return out


def _ir_measures(qrels: Qrels, order: dict[str, list[str]], measures: Sequence[Measure]) -> dict[str, dict[str, float]]:
    """ir_measures' providers (pytrec_eval first) for every measure ranx lacks; judged queries the run misses score 0."""
    import ir_measures

    run = {q: {d: float(len(docs) - i) for i, d in enumerate(docs)} for q, docs in order.items() if docs}
    parsed = {m.name: ir_measures.parse_measure(m.name) for m in measures}
    by_measure = {str(p): name for name, p in parsed.items()}
    out: dict[str, dict[str, float]] = {m.name: dict.fromkeys(qrels, 0.0) for m in measures}
    providers = [ir_measures.providers.registry["pytrec_eval"]] + [p for n, p in ir_measures.providers.registry.items() if n != "pytrec_eval"]
    todo = list(parsed.values())
    for provider in providers:
        mine = [p for p in todo if _supports(provider, p)]
        if not mine:
            continue
        for metric in provider.evaluator(mine, qrels).iter_calc(run):
            name = by_measure.get(str(metric.measure))
            if name is not None and metric.query_id in qrels:
                out[name][metric.query_id] = float(metric.value)
        todo = [p for p in todo if p not in mine]
    if todo:
        raise ConfigError(f"no installed ir_measures provider computes {', '.join(map(str, todo))}; install the provider it names "
                          "(see https://ir-measur.es/en/latest/providers.html) or choose another measure")
    return out


def _supports(provider: Any, measure: Any) -> bool:
    try:
        return bool(provider.supports(measure)) and bool(provider.is_available())
    except Exception:  # a provider whose own dependency is missing
        return False


def compute(qrels: Qrels, run: Mapping[str, Mapping[str, float]], measures: Sequence[Measure]) -> Evaluation:
    """Score one run on the judged queries (``trec_eval -c``): ranx where it has the measure, else ir_measures."""
    order = _ordered(qrels, run)
    missing = [q for q in qrels if not order[q]]
    if missing:
        log.info("%d judged queries have no results in the run and score 0", len(missing))
    per_query = _ranx(qrels, order, [m for m in measures if m.metric])
    others = [m for m in measures if not m.metric]
    if others:
        per_query.update(_ir_measures(qrels, order, others))
    per_query = {m.name: per_query[m.name] for m in measures}
    metrics = {name: (sum(values.values()) / len(values) if values else 0.0) for name, values in per_query.items()}
    return Evaluation(metrics=metrics, per_query=per_query)


# -- rules ------------------------------------------------------------------------------


def drop_self_hits(run: dict[str, dict[str, float]]) -> tuple[dict[str, dict[str, float]], int]:
    """The run without documents whose id equals their query's id (BEIR's ``ignore_identical_ids``), and how many went."""
    removed = sum(1 for q, docs in run.items() if q in docs)
    if not removed:
        return run, 0
    return {q: {d: s for d, s in docs.items() if d != q} for q, docs in run.items()}, removed


def group_mean(per_query: dict[str, float], groups: dict[str, str]) -> float:
    """The mean over groups of each group's mean (CQADupStack: the mean over its 12 forums, not over all queries)."""
    sums: dict[str, list[float]] = {}
    for qid, value in per_query.items():
        sums.setdefault(groups.get(qid, ""), []).append(value)
    return sum(sum(v) / len(v) for v in sums.values()) / len(sums) if sums else 0.0


def evaluate(collection: Any, qrels: Qrels, run: dict[str, dict[str, float]], measures: Sequence[Measure],
             system: str) -> tuple[Evaluation, list[str]]:
    """Evaluate ``run`` under the collection's family rules; the notes say what a rule changed."""
    family = DEFAULT if collection is None else family_of(collection)
    notes = []
    if family.drop_self_hits:
        run, removed = drop_self_hits(run)
        if removed:
            notes.append(f"{system}: {removed} document(s) whose id equals the query id removed before evaluation, "
                         f"as BEIR's evaluation does (the run file keeps them).")
    evaluation = compute(qrels, run, measures)
    groups = getattr(collection, "groups", None)
    if groups and family.group_mean:
        for name, values in evaluation.per_query.items():
            evaluation.metrics[name] = group_mean(values, groups)
        notes.append(f"Each measure is the mean over the collection's {len(set(groups.values()))} parts "
                     f"(each part's mean over its queries), as its official tables report it.")
    return evaluation, notes


# -- what `bench evaluate` uses --------------------------------------------------------


def graded_note(qrels: Qrels) -> str | None:
    """One line when the qrels hold graded labels (2 or more) and the default measures count label >= 1.

    On DL qrels the two differ a lot (Anserini's BM25 on DL19: RR@10 0.8233 vs the official
    RR(rel=2)@10 0.7024).
    """
    top = max((label for docs in qrels.values() for label in docs.values()), default=0)
    if top < 2:
        return None
    return (f"note: these qrels have graded labels (up to {top}); RR, AP and R here count label >= 1 as relevant, while TREC DL's "
            f"official MRR/MAP/recall count label >= 2 (use --collection trec-dl-2019 or --measures {' '.join(DL_MEASURES)})")


def _rules_without_loading(name: str, collection_type: str | None) -> Any:
    """An alias or ir_datasets id's family, known from the name alone (no download when --qrels is given)."""
    from types import SimpleNamespace

    from .collection import ALIASES, unknown_collection

    dataset_id = ALIASES.get(name, name)
    if name not in ALIASES:
        import ir_datasets

        if dataset_id not in ir_datasets.registry._registered:  # type: ignore[attr-defined]
            raise unknown_collection(name)
    family = family_for(dataset_id, collection_type)
    return SimpleNamespace(name=name, rules_id=dataset_id, type_hint=collection_type, family=family.name, groups=None, qrels=None)


def choose(qrels_path: str | None, measures: list[str] | None, collection: str | None,
           data_dir: str | None, collection_type: str | None = None) -> tuple[Qrels, list[Measure], Any]:
    """Qrels, measures and the collection's rules for ``bench evaluate``: --measures, else --collection's official set, else the defaults.

    A local copy of ``--collection`` is loaded; so is an ir_datasets collection when its qrels
    are needed (which may download). With ``--qrels`` given, an alias or id needs no download.
    """
    from .collection import is_local, load
    from .trec import read_qrels

    rules: Any = None
    official: tuple[str, ...] | None = None
    if collection:
        if not qrels_path or is_local(collection, data_dir):
            rules = load(collection, data_dir, collection_type=collection_type)
            rules.family = family_of(rules).name
        else:
            rules = _rules_without_loading(collection, collection_type)
        official = TYPES[rules.family].measures
    if qrels_path:
        qrels = read_qrels(qrels_path)
    elif rules is not None and rules.qrels is not None:
        qrels = rules.qrels
    else:
        where = f"collection {collection!r} has no local copy; pass its qrels" if collection else "pass a TREC qrels file"
        raise ConfigError(f"no qrels: {where} with --qrels FILE (or --collection with a local folder / --data-dir)")
    chosen = measures or list(official or DEFAULT_MEASURES)
    if not measures and not collection:
        note = graded_note(qrels)
        if note:
            log.info("%s", note)
    return qrels, parse_measures(chosen), rules
