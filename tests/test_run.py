"""End to end through the CLI: runs, results record, trec_eval agreement, caching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reference import trec_eval_mean

from bench.cli import main
from bench.measures import parse_measures
from bench.trec import read_qrels, read_run


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _record(output: Path, name: str) -> dict:
    return json.loads((output / "reports" / name / "results.json").read_text())


def _check_against_trec_eval(record: dict, qrels_file: Path) -> None:
    qrels = read_qrels(qrels_file)
    judged = {q: qrels[q] for q in record["systems"][0]["per_query"][record["measures"][0]]}
    for system in record["systems"]:
        run = read_run(system["run_file"])
        for measure in parse_measures(record["measures"]):
            assert system["metrics"][measure.name] == pytest.approx(trec_eval_mean(judged, run, measure), abs=1e-4), (system["name"], measure.name)


def test_tiny_end_to_end(tiny_collection: Path, tiny_cross_encoder: Path, tiny_bi_encoder: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    code, stdout, _ = _run(
        capsys, "run", "tiny", "--data-dir", str(tiny_collection.parent), "--model", str(tiny_cross_encoder),
        "--model", str(tiny_bi_encoder), "--top-k", "5", "--output", str(out),
    )
    assert code == 0
    record = _record(out, "tiny")
    assert record["schema_version"] == 2
    assert [s["name"] for s in record["systems"]] == ["bm25", "tiny-ce", "tiny-bi"]
    assert record["systems"][0]["model"] is None and record["systems"][1]["model"] == str(tiny_cross_encoder)
    assert record["measures"] == ["nDCG@10", "RR@10", "AP", "R@100", "R@1000"]
    for key in ("collection", "config", "versions", "device", "git"):
        assert key in record
    assert record["versions"]["ranx"] and record["versions"]["torch"]
    ce = record["systems"][1]
    assert set(ce["per_query"]["nDCG@10"]) == {"1", "2", "3"}
    lat = ce["latency"]
    assert lat["rerank"]["pairs"] == 15 and lat["rerank"]["pairs_per_s"] > 0 and lat["p95_ms"] >= lat["p50_ms"]
    assert lat["load_s"] > 0 and set(lat["per_query_ms"]) == {"1", "2", "3"}
    for system in record["systems"]:
        run_file = Path(system["run_file"])
        assert run_file.parent == out / "runs" / "tiny" and run_file.name.startswith(system["name"] + "-")
        assert run_file.with_name(run_file.stem + ".meta.json").is_file()
        rows = [line.split() for line in run_file.read_text().splitlines()]
        assert all(len(r) == 6 for r in rows) and len(rows) == 24
    # reranked top 5, the other 3 follow in first-stage order
    first = [line.split()[2] for line in Path(record["systems"][0]["run_file"]).read_text().splitlines() if line.startswith("1 ")]
    reranked = [line.split()[2] for line in Path(ce["run_file"]).read_text().splitlines() if line.startswith("1 ")]
    assert sorted(reranked[:5]) == sorted(first[:5]) and reranked[5:] == first[5:]
    _check_against_trec_eval(record, tiny_collection / "qrels.txt")
    assert "nDCG@10" in stdout and "tiny-ce" in stdout and "input stage's order" in stdout


def test_second_run_reuses_and_changed_config_recomputes(tiny_collection: Path, tiny_cross_encoder: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    args = ["run", "tiny", "--data-dir", str(tiny_collection.parent), "--model", str(tiny_cross_encoder), "--top-k", "4", "--output", str(out)]
    assert _run(capsys, *args)[0] == 0
    first = _record(out, "tiny")
    assert _run(capsys, *args)[0] == 0
    second = _record(out, "tiny")
    assert [s["latency"]["cached"] for s in second["systems"]] == [True, True]
    assert [s["metrics"] for s in first["systems"]] == [s["metrics"] for s in second["systems"]]
    assert _run(capsys, *args[:-4], "--top-k", "3", "--output", str(out))[0] == 0
    third = _record(out, "tiny")
    assert third["systems"][1]["hash"] != first["systems"][1]["hash"] and not third["systems"][1]["latency"]["cached"]
    assert third["systems"][0]["hash"] == first["systems"][0]["hash"]  # the first stage is untouched


def test_candidates_first_stage_and_depth(tiny_collection: Path, tmp_path: Path, capsys):
    out = tmp_path / "o"
    assert _run(capsys, "run", "tiny", "--data-dir", str(tiny_collection.parent), "--first-stage", "candidates", "--depth", "2", "--output", str(out))[0] == 0
    record = _record(out, "tiny")
    run = read_run(record["systems"][0]["run_file"])
    assert all(len(d) == 2 for d in run.values())
    assert record["systems"][0]["name"] == "bm25"  # named after run.bm25.trec


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--top-k", "0"], "--top-k must be positive"),
        (["--top-k", "50"], "--top-k 50 is larger than the input stage's candidates (at most 8 per query)"),
        (["--measures", "map"], "unknown measure 'map'"),
        (["--device", "cuda", "--top-k", "5"], "CUDA is not available"),
    ],
)
def test_bad_options_exit_nonzero_with_one_line(tiny_collection: Path, tiny_cross_encoder: Path, tmp_path: Path, capsys, extra, message):
    code, _, err = _run(capsys, "run", "tiny", "--data-dir", str(tiny_collection.parent), "--model", str(tiny_cross_encoder), "--output", str(tmp_path), *extra)
    lines = [line for line in err.splitlines() if line.startswith("bench: error")]
    assert code == 2 and len(lines) == 1 and message in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "reports").exists()


def test_evaluate_json(dl19: Path, capsys):
    code, out, _ = _run(capsys, "evaluate", "--qrels", str(dl19 / "qrels.txt"), str(dl19 / "run.bm25.trec"), "--measures", "nDCG@10", "R(rel=2)@100", "--json")
    assert code == 0
    values = json.loads(out)[str(dl19 / "run.bm25.trec")]
    assert round(values["nDCG@10"], 4) == 0.5058 and round(values["R(rel=2)@100"], 4) == 0.4910


def test_dl19_candidates_bm25(dl19: Path, tmp_path: Path, capsys):
    code, stdout, _ = _run(capsys, "run", "trec-dl-2019", "--data-dir", str(dl19.parent), "--output", str(tmp_path))
    assert code == 0
    record = _record(tmp_path, "trec-dl-2019")
    bm25 = record["systems"][0]
    assert round(bm25["metrics"]["nDCG@10"], 4) == 0.5058
    assert round(bm25["metrics"]["R(rel=2)@100"], 4) == 0.4910
    assert record["measures"] == ["nDCG@10", "RR(rel=2)", "RR(rel=2)@10", "AP(rel=2)", "R(rel=2)@100", "R(rel=2)@1000", "Judged@10"]
    _check_against_trec_eval(record, dl19 / "qrels.txt")


def test_dl19_minilm_reranker_beats_bm25(dl19: Path, minilm: Path, tmp_path: Path, capsys):
    model = "sentence-transformers/all-MiniLM-L6-v2"
    code, _, _ = _run(capsys, "run", "trec-dl-2019", "--data-dir", str(dl19.parent), "--model", model, "--output", str(tmp_path))
    assert code == 0
    record = _record(tmp_path, "trec-dl-2019")
    bm25, minilm_sys = record["systems"]
    assert minilm_sys["name"] == "all-minilm-l6-v2" and minilm_sys["info"]["kind"] == "bi-encoder"
    assert minilm_sys["metrics"]["nDCG@10"] > bm25["metrics"]["nDCG@10"] + 0.05
    assert minilm_sys["metrics"]["R(rel=2)@100"] == bm25["metrics"]["R(rel=2)@100"]  # same top-100 set
    assert minilm_sys["latency"]["rerank"]["pairs"] == 4300
    _check_against_trec_eval(record, dl19 / "qrels.txt")
