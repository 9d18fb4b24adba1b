"""--initial-order: a stage run on its candidates as given, reversed and shuffled; the record and report show the spread.

A cross-encoder scores each pair alone, so its metrics must not move (a real one, built
here); the toy listwise ranker of tests/test_ranking_contract.py slides windows over the
order it is given, so its rankings must.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_ranking_contract import ToyListwise
from test_resume import make_big_collection

from bench.cli import main
from bench.errors import ConfigError
from bench.orders import check, permute, suffix
from bench.rerankers import FAMILIES

ORDERS = ["--initial-order", "input", "--initial-order", "reversed", "--initial-order", "shuffle:3"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("orderdata")
    make_big_collection(root / "big", queries=8, docs_per_query=12, words=8)
    return root


def _record(out: Path) -> dict[str, Any]:
    return json.loads((out / "reports" / "big" / "results.json").read_text(encoding="utf-8"))


def _order(path: str) -> dict[str, list[str]]:
    from bench.trec import ranked, read_run

    return {q: [d for d, _ in ranked(docs)] for q, docs in read_run(path).items()}


def test_orders_are_checked_and_seeded_per_query():
    assert permute("input", "1", [1, 2, 3]) == [1, 2, 3] and permute("reversed", "1", [1, 2, 3]) == [3, 2, 1]
    items = list(range(20))
    assert permute("shuffle:3", "q1", items) == permute("shuffle:3", "q1", items) != items
    assert permute("shuffle:3", "q1", items) != permute("shuffle:3", "q2", items) and sorted(permute("shuffle:4", "q1", items)) == items
    assert suffix("input") == "" and suffix("shuffle:3") == "+shuffle-3"
    for bad in ("random", "shuffle", "shuffle:x", "reverse"):
        with pytest.raises(ConfigError, match="shuffle:SEED"):
            check(bad)


def test_cross_encoder_is_invariant(data: Path, tiny_cross_encoder: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    args = ["-q", "run", "big", "--data-dir", str(data), "--first-stage", "candidates", "--model", str(tiny_cross_encoder), "--top-k", "10",
            "--output", str(out), *ORDERS]
    assert main(args) == 0, capsys.readouterr().err
    record = _record(out)
    names = [s["name"] for s in record["systems"][1:]]
    assert names == ["tiny-ce", "tiny-ce+reversed", "tiny-ce+shuffle-3"]
    metrics = [s["metrics"] for s in record["systems"][1:]]
    per_query = [s["per_query"] for s in record["systems"][1:]]
    assert metrics[0] == metrics[1] == metrics[2] and per_query[0] == per_query[1] == per_query[2]
    orders = [_order(s["run_file"]) for s in record["systems"][1:]]
    assert orders[0] == orders[1] == orders[2]  # the same ranking, whatever order the pairs came in
    robustness = record["order_robustness"]["tiny-ce"]
    assert set(robustness["spread"].values()) == {0.0} and robustness["systems"]["reversed"] == "tiny-ce+reversed"
    hashes = {s["name"]: s["hash"] for s in record["systems"]}
    plain = tmp_path / "plain"  # the input order adds nothing to the key: a run without the flag reuses it
    assert main(args[: args.index("--initial-order")] + ["--output", str(plain)]) == 0
    assert _record(plain)["systems"][1]["hash"] == hashes["tiny-ce"]
    assert "the same in every order" in (out / "reports" / "big" / "report.md").read_text(encoding="utf-8")


def test_listwise_toy_depends_on_the_order(data: Path, tmp_path: Path, capsys):
    FAMILIES.add("toy-listwise", ToyListwise)
    try:
        out = tmp_path / "out"
        args = ["-q", "run", "big", "--data-dir", str(data), "--first-stage", "candidates", "--model", "toy", "--kind", "toy-listwise",
                "--top-k", "10", "--output", str(out), *ORDERS]
        assert main(args) == 0, capsys.readouterr().err
    finally:
        FAMILIES.remove("toy-listwise")
    record = _record(out)
    systems = record["systems"][1:]
    assert [s["info"]["initial_order"] for s in systems] == ["input", "reversed", "shuffle:3"]
    orders = [_order(s["run_file"]) for s in systems]
    assert orders[0] != orders[1] and orders[0] != orders[2]
    # reversed input, windows (6,10) (4,8) (2,6) (0,4) each reversed, written out by hand for the top 10 d1..d10:
    # d10..d1 -> d10 d9 d8 d7 d6 d5 d1 d2 d3 d4 -> d10 d9 d8 d7 d2 d1 d5 d6 d3 d4 -> d10 d9 d1 d2 d7 d8 d5 d6 d3 d4
    # -> d2 d1 d9 d10 d7 d8 d5 d6 d3 d4
    assert orders[1]["1"][:10] == [f"q1d{r}" for r in (2, 1, 9, 10, 7, 8, 5, 6, 3, 4)]
    spread = record["order_robustness"]["toy"]["spread"]
    values = record["order_robustness"]["toy"]["metrics"]
    assert spread["nDCG@10"] == pytest.approx(max(v["nDCG@10"] for v in values.values()) - min(v["nDCG@10"] for v in values.values()))
    assert any(v > 0 for v in spread.values()), "the toy's metrics move with the order"
    assert "Initial order: toy" in (out / "reports" / "big" / "report.md").read_text(encoding="utf-8")


def test_bad_or_repeated_order_is_one_line(data: Path, tmp_path: Path, capsys):
    base = ["run", "big", "--data-dir", str(data), "--first-stage", "candidates", "--model", "x", "--output", str(tmp_path)]
    assert main([*base, "--initial-order", "backwards"]) == 2 and "shuffle:SEED" in capsys.readouterr().err
    assert main([*base, "--initial-order", "reversed", "--initial-order", "reversed"]) == 2 and "twice" in capsys.readouterr().err
