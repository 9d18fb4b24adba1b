"""No result changed with the ranking contract: the code before it and this code write the same runs and metrics.

The commit before the contract is extracted with ``git archive`` and both run the committed
experiments and the DL19 cascade (given candidates -> MiniLM top 100 -> a cross-encoder top 20)
in subprocesses. Run files must be byte-identical, under the same names (the key of a folder
model has the same fields as before, so its hash is unchanged), and every metric the old code
computed must be equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BEFORE_CONTRACT = "f0507ab95e466bb14e03dffb7f58b678df59860d"  # main before the ranking contract
ROOT = Path(__file__).resolve().parents[1]

CASCADE = """
collection = "trec-dl-2019"
data_dir = "{data}"
measures = ["nDCG@10", "RR(rel=2)", "AP(rel=2)", "R(rel=2)@100"]

[first_stage]
kind = "candidates"

[[rerankers]]
model = "sentence-transformers/all-MiniLM-L6-v2"
name = "minilm"
top_k = 100

[[rerankers]]
model = "{ce}"
name = "tiny-ce"
input = "minilm"
top_k = 20
"""


def _bench_run(pythonpath: Path, experiment: Path, output: Path, env_extra: dict[str, str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), **env_extra}
    # run outside the checkout: `python -m` puts the working folder first on sys.path, before PYTHONPATH
    done = subprocess.run([sys.executable, "-m", "bench", "-q", "run", str(experiment), "--output", str(output)],
                          cwd=output.parent, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(next(output.glob("reports/*/results.json")).read_text())


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> Path:
    have = subprocess.run(["git", "cat-file", "-e", BEFORE_CONTRACT + "^{commit}"], cwd=ROOT, capture_output=True)
    if have.returncode != 0:
        pytest.skip("the commit before the ranking contract is not in this clone's history")
    old = tmp_path_factory.mktemp("before-contract")
    archive = subprocess.run(["git", "archive", BEFORE_CONTRACT, "bench"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    return old


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["experiments/dl19-minilm.toml", "experiments/vaswani-minilm.toml", "dl19-cascade"])
def test_runs_and_metrics_are_the_ones_written_before_the_contract(experiment: str, before: Path, shared_data: Path, minilm: Path,
                                                                     tiny_cross_encoder: Path, tmp_path: Path):
    if experiment == "dl19-cascade":
        if not (shared_data / "trec-dl-2019").is_dir():
            pytest.skip("trec-dl-2019 not in shared data")
        path = tmp_path / "dl19-cascade.toml"
        path.write_text(CASCADE.format(data=shared_data, ce=tiny_cross_encoder), encoding="utf-8")
    else:
        path = ROOT / experiment
    env = {"BENCH_CACHE_DIR": str(tmp_path / "cache")}
    old = _bench_run(before, path, tmp_path / "before", env)
    new = _bench_run(ROOT, path, tmp_path / "after", env)
    assert [s["name"] for s in old["systems"]] == [s["name"] for s in new["systems"]]
    for old_system, new_system in zip(old["systems"], new["systems"], strict=True):
        assert Path(old_system["run_file"]).name == Path(new_system["run_file"]).name, "the same key, so the same hash"
        assert Path(old_system["run_file"]).read_bytes() == Path(new_system["run_file"]).read_bytes(), new_system["name"]
        assert old_system["metrics"] == {m: new_system["metrics"][m] for m in old_system["metrics"]}
        assert old_system["per_query"] == {m: new_system["per_query"][m] for m in old_system["per_query"]}
