"""Shared by the dense and fusion tests: experiment files with dense first stages, and a tolerant top-k comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def dense_toml(path: Path, data: Path, model: Path, name: str = "big", depth: int = 20, execution: str = "", **options: Any) -> Path:
    """An experiment file: a dense first stage (fp32, small shards) over the local collection ``name``."""
    opts = {"dtype": "float32", "device": "cpu", "shard_size": 40, **options}
    lines = [f'collection = "{name}"', f'data_dir = "{data}"', 'measures = ["nDCG@10", "R@100"]', "", "[first_stage]",
             'kind = "dense"', f"model = {json.dumps(str(model))}", f"depth = {depth}", "", "[first_stage.options]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in opts.items()]
    path.write_text("\n".join(lines) + "\n" + execution, encoding="utf-8")
    return path


def assert_same_top(ours: dict[str, float], reference: dict[str, float], tol: float = 1e-5) -> None:
    """Same ranked scores within ``tol`` position by position; ids may differ only among scores within ``tol`` of each other.

    Every document both lists hold has the same score within ``tol``; one only one list holds
    must score within ``tol`` of the other list's last (a near-tie at the cut).
    """
    mine = sorted(ours.values(), reverse=True)
    theirs = sorted(reference.values(), reverse=True)
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert abs(a - b) <= tol, (a, b)
    for doc, score in ours.items():
        if doc in reference:
            assert abs(score - reference[doc]) <= tol, (doc, score, reference[doc])
        else:
            assert abs(score - theirs[-1]) <= tol, f"{doc} ({score}) is not in the reference top {len(theirs)} (last {theirs[-1]})"
