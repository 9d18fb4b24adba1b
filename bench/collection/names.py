"""Collection names: the aliases bench knows and the one-line error for a name nobody knows."""

from __future__ import annotations

import difflib

from ..errors import ConfigError

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
