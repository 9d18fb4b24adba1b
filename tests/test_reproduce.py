"""`bench reproduce`: committed tables are promises that CI checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main


def _experiment(tmp_path: Path, tiny_collection: Path, model: Path, top_k: int = 5) -> Path:
    path = tmp_path / "exp" / "tiny-exp.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    data_dir = Path("..") / tiny_collection.parent.relative_to(tmp_path)
    path.write_text(
        f'collection = "tiny"\ndata_dir = "{data_dir}"\n[first_stage]\nkind = "bm25"\n'
        f'[[rerankers]]\nmodel = "{model}"\nname = "ce"\ntop_k = {top_k}\ndtype = "float32"\ndevice = "cpu"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def recorded(tmp_path: Path, tiny_collection: Path, tiny_cross_encoder: Path, capsys) -> Path:
    experiment = _experiment(tmp_path, tiny_collection, tiny_cross_encoder)
    assert main(["run", str(experiment), "--output", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    record = tmp_path / "out" / "reports" / "tiny-exp" / "results.json"
    assert json.loads(record.read_text())["experiment_file"] == str(experiment)
    return record


def test_reproduce_passes_on_an_unchanged_record(recorded: Path, capsys):
    assert main(["reproduce", str(recorded)]) == 0
    out = capsys.readouterr().out
    assert "reproduced" in out and "DRIFT" not in out
    assert "| ce " in out and "nDCG@10" in out


def test_altered_metric_fails_with_the_difference_named(recorded: Path, tmp_path: Path, capsys):
    record = json.loads(recorded.read_text())
    true_value = record["systems"][1]["metrics"]["AP"]
    record["systems"][1]["metrics"]["AP"] = true_value + 0.01
    record["versions"]["torch"] = "0.0-recorded"
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(record))
    code = main(["reproduce", str(altered)])
    captured = capsys.readouterr()
    assert code == 1
    error = [line for line in captured.err.splitlines() if line.startswith("bench: error")]
    assert len(error) == 1
    assert f"1 metric(s) drifted beyond 0.0001, e.g. ce AP {true_value + 0.01:.6f} -> {true_value:.6f}" in error[0]
    assert "environment differs: versions.torch: 0.0-recorded ->" in error[0]
    drift_rows = [line for line in captured.out.splitlines() if "DRIFT" in line]
    assert len(drift_rows) == 1 and "| ce " in drift_rows[0] and "-0.010000" in drift_rows[0]


def test_changed_config_makes_a_new_run_not_a_stale_one(recorded: Path, tmp_path: Path, capsys):
    record = json.loads(recorded.read_text())
    old_hash = record["systems"][1]["hash"]
    record["config"]["rerankers"][0]["top_k"] = 2
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(record))
    out = tmp_path / "again"
    main(["reproduce", str(changed), "--output", str(out)])
    capsys.readouterr()
    new_record = json.loads((out / "reports" / "tiny-exp" / "results.json").read_text())
    assert new_record["systems"][1]["hash"] != old_hash
    assert new_record["systems"][0]["hash"] == record["systems"][0]["hash"]
    assert not new_record["systems"][1]["latency"]["cached"]
    assert Path(new_record["systems"][1]["run_file"]).name.endswith(f"-{new_record['systems'][1]['hash']}.trec")


def test_latency_tolerance_is_opt_in(recorded: Path, capsys):
    record = json.loads(recorded.read_text())
    assert record["systems"][1]["latency"]["p50_ms"] > 0
    assert main(["reproduce", str(recorded), "--latency-tolerance", "1e-9"]) == 1
    err = capsys.readouterr().err
    assert "latency beyond x1e-09: bm25 x" in err and ", ce x" in err


def test_same_experiment_twice_gives_identical_run_bytes(tmp_path: Path, tiny_collection: Path, tiny_cross_encoder: Path, capsys):
    experiment = _experiment(tmp_path, tiny_collection, tiny_cross_encoder)
    for out in ("a", "b"):
        assert main(["run", str(experiment), "--output", str(tmp_path / out), "--force"]) == 0
    capsys.readouterr()
    files_a = sorted((tmp_path / "a" / "runs").rglob("*.trec"))
    files_b = sorted((tmp_path / "b" / "runs").rglob("*.trec"))
    assert [f.name for f in files_a] == [f.name for f in files_b] and len(files_a) == 2
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(files_a, files_b))


@pytest.mark.slow
def test_dl19_experiment_twice_gives_identical_run_bytes(dl19: Path, minilm: Path, tmp_path: Path, capsys):
    experiment = Path(__file__).resolve().parents[1] / "experiments" / "dl19-minilm.toml"
    for out in ("a", "b"):
        assert main(["run", str(experiment), "--data-dir", str(dl19.parent), "--output", str(tmp_path / out), "--force"]) == 0
    capsys.readouterr()
    files_a = sorted((tmp_path / "a" / "runs").rglob("*.trec"))
    files_b = sorted((tmp_path / "b" / "runs").rglob("*.trec"))
    assert [f.name for f in files_a] == [f.name for f in files_b] and len(files_a) == 2
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(files_a, files_b))
    metrics = [json.loads((tmp_path / o / "reports" / "dl19-minilm" / "results.json").read_text())["systems"] for o in ("a", "b")]
    assert [s["metrics"] for s in metrics[0]] == [s["metrics"] for s in metrics[1]]


@pytest.mark.slow
def test_altered_committed_metric_fails_reproduce(dl19: Path, minilm: Path, tmp_path: Path, capsys):
    """A copy of the committed DL19 table with one metric changed must not reproduce, and the error names it."""
    repo = Path(__file__).resolve().parents[1]
    record = json.loads((repo / "reports" / "dl19-minilm" / "results.json").read_text())
    committed = record["systems"][1]["metrics"]["nDCG@10"]
    record["systems"][1]["metrics"]["nDCG@10"] = committed - 0.001
    record["experiment_file"] = str(repo / "experiments" / "dl19-minilm.toml")
    copy = tmp_path / "results.json"
    copy.write_text(json.dumps(record))
    code = main(["reproduce", str(copy), "--data-dir", str(dl19.parent)])
    captured = capsys.readouterr()
    assert code == 1
    assert f"e.g. minilm-l6-bi nDCG@10 {committed - 0.001:.6f} -> {committed:.6f}" in captured.err
    assert sum("DRIFT" in line for line in captured.out.splitlines()) == 1
