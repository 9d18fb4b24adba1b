"""Reports on results records made by the harness: contents, significance, Holm, Pareto, CLI, browser."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import make_bi_encoder, make_collection, make_cross_encoder
from scipy import stats

import bench
from bench.cli import main
from bench.report import build_report, render_csv, render_html, render_md, render_tex, write_report
from bench.report.frontier import pareto_front
from bench.report.significance import holm, paired_pvalue, win_tie_loss

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three real records: tiny (bm25 + two tiny models), the same collection again (tiny-b), and a second collection."""
    root = tmp_path_factory.mktemp("report")
    data = root / "data"
    make_collection(data / "tiny")
    make_collection(data / "tiny2")
    ce = make_cross_encoder(root / "models" / "tiny-ce")
    bi = make_bi_encoder(root / "models" / "tiny-bi")
    out = root / "out"
    common = ["--data-dir", str(data), "--first-stage", "bm25", "--dtype", "float32", "--output", str(out)]  # fp32: same numbers on every CPU
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE_DIR", str(root / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        assert main(["-q", "run", "tiny", "--model", str(ce), "--model", str(bi), "--top-k", "5", *common]) == 0
        assert main(["-q", "run", "tiny", "--name", "tiny-b", "--model", str(ce), "--model", str(bi), "--top-k", "4", *common]) == 0
        assert main(["-q", "run", "tiny2", "--model", str(ce), "--top-k", "5", *common]) == 0
    reports = out / "reports"
    return {"root": root, **{key: reports / name / "results.json" for key, name in (("a", "tiny"), ("b", "tiny-b"), ("c", "tiny2"))}}


def _record(path: Path) -> dict:
    return json.loads(path.read_text())


def _paired(record: dict, system: str, base: str, measure: str) -> tuple[list[float], list[float]]:
    by_name = {s["name"]: s for s in record["systems"]}
    mine, theirs = by_name[system]["per_query"][measure], by_name[base]["per_query"][measure]
    return [mine[q] for q in theirs], [theirs[q] for q in theirs]


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- run writes reports ------------------------------------------------------------------------------


def test_run_writes_every_report_beside_the_results(records):
    folder = records["a"].parent
    for name in ("report.md", "report.html", "report.csv", "report.tex"):
        assert (folder / name).stat().st_size > 0, name
    for figure in ("effectiveness-latency", "per-query-delta"):
        assert (folder / f"{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        svg = (folder / f"{figure}.svg").read_text()
        assert "<svg" in svg and "Date" not in svg.split("</metadata>")[0].split("<metadata>")[-1]
    md = (folder / "report.md").read_text()
    assert "| tiny-ce" in md and "](effectiveness-latency.png)" in md and "](per-query-delta.png)" in md


# --- snapshot (volatile fields normalised) ---------------------------------------------------------------


def _normalise(record: dict, root: Path) -> dict:
    """Replace what changes between machines and runs (timings, paths, versions, commit, device) with fixed values."""
    record = json.loads(json.dumps(record).replace(str(root), "/ROOT"))
    record.update(versions={"python": "3.x", "bench": "0.1.0", "ranx": "x"}, git={"commit": "0123456789abcdef", "dirty": False},
                  device={"type": "cpu", "name": "test-cpu"}, config_hash="c0nf1g", wall_s=1.0)
    for i, system in enumerate(record["systems"]):
        system["run_file"] = f"/ROOT/runs/{system['name']}.trec"  # its hash follows the temporary model path
        latency = system["latency"]
        qids = list(latency.get("per_query_ms") or {})
        latency.update(p50_ms=1.0 + 100 * i, p95_ms=2.0 + 120 * i, p99_ms=3.0 + 130 * i, total_s=0.01 + 0.3 * i)
        latency["per_query_ms"] = {q: 1.0 + 100 * i for q in qids}
        if latency.get("rerank"):
            latency["rerank"].update(pairs_per_s=60.0 / i, total_s=0.3 * i)
    return record


def _snapshot_text(text: str) -> str:
    """Figures' bytes and the explorer's inline script and CSS (code, not output) are left out; its JSON data stays."""
    text = re.sub(r"<script>.*?</script>", "<script>SCRIPT</script>", text, flags=re.S)
    text = re.sub(r"<style>(?!\n:root).*?</style>", "<style>EXPLORER-CSS</style>", text, flags=re.S)
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,PNG", text)


def _round_csv(text: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(text)):
        writer.writerow([f"{float(c):.9g}" if re.fullmatch(r"-?\d+\.\d+(e-?\d+)?", c) else c for c in row])
    return out.getvalue()


def test_snapshot_md_csv_tex_html(records, tmp_path: Path):
    from bench.report.figures import Figure

    paths = []
    for key in ("a", "b"):
        target = tmp_path / key / "results.json"
        target.parent.mkdir()
        target.write_text(json.dumps(_normalise(_record(records[key]), records["root"])))
        paths.append(target)
    outputs = {}
    for name, report_paths in (("single", paths[:1]), ("versions", paths)):
        report = build_report(report_paths)
        outputs[f"{name}.md"] = render_md.render(report, [Figure("effectiveness-latency", "trade-off", b"", b"")])
        outputs[f"{name}.csv"] = _round_csv(render_csv.render(report))
        outputs[f"{name}.tex"] = render_tex.render(report)
    from bench.report import figures

    report = build_report(paths[:1])
    outputs["single.html"] = _snapshot_text(render_html.render(report, figures.render(report)))
    # the explorer's JSON, checked against the record itself (not only against the snapshot)
    (explorer,) = [json.loads(b) for b in re.findall(r'<script type="application/json" id="explorer-data-0">(.*?)</script>', outputs["single.html"])]
    normalised = json.loads(paths[0].read_text())
    first = normalised["measures"][0]
    assert explorer["measure"] == first and explorer["systems"] == [s["name"] for s in normalised["systems"]]
    assert [r["qid"] for r in explorer["queries"]] == sorted(normalised["systems"][0]["per_query"][first], key=int)
    for row in explorer["queries"]:
        values = [s["per_query"][first][row["qid"]] for s in normalised["systems"]]
        assert row["values"] == values and row["deltas"] == [None, *(v - values[0] for v in values[1:])]
    assert explorer["drill"] == {} and any("run file of bm25 not found" in n for n in explorer["notes"])  # runs of /ROOT do not exist
    update = os.environ.get("BENCH_UPDATE_SNAPSHOTS") == "1"
    for name, text in outputs.items():
        text = text.replace(str(tmp_path), "/TMP")
        path = SNAPSHOTS / f"report-{name}"
        if update:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.is_file(), f"missing snapshot {path}; create it with BENCH_UPDATE_SNAPSHOTS=1"
        assert text == path.read_text(encoding="utf-8"), f"{name} differs from {path} (BENCH_UPDATE_SNAPSHOTS=1 to accept)"


# --- targeted assertions on the real record -----------------------------------------------------------------


def test_markdown_bold_best_markers_and_legend(records):
    record = _record(records["a"])
    report = build_report([records["a"]], alpha=0.999)  # so that the tiny, 3-query differences get markers
    md = render_md.render(report)
    table = md.split("## Wins")[0]
    lines = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ") and "---" not in line}
    best = max(record["systems"], key=lambda s: s["metrics"]["nDCG@10"])
    assert f"**{best['metrics']['nDCG@10']:.4f}**" in lines[best["name"]]
    fastest = min(record["systems"], key=lambda s: s["latency"]["p95_ms"])
    p95 = next(c for c in report.columns if c.name == "p95 ms/q")
    assert f"**{report.cell(next(r for r in report.rows if r.system == fastest['name']), p95).text}**" in lines[fastest["name"]]
    marked = 0
    for c in report.comparisons:
        cell = report.cell(c.row, next(col for col in report.columns if col.name == c.measure))
        expected = "" if c.p_holm >= 0.999 or c.delta == 0 else ("†" if c.delta > 0 else "‡")
        assert cell.marker == expected, (c.row.label, c.measure, c.p_holm)
        marked += bool(expected)
        cells = [x.strip() for x in lines[c.row.label].split("|")[2:-1]]
        assert cells[report.measures.index(c.measure)].endswith(expected)
    assert marked >= 1
    assert "- † significantly better than the baseline (bm25), ‡ significantly worse: two-sided paired t-test" in md
    assert f"Holm–Bonferroni corrected over all {len(report.comparisons)} comparisons" in md
    assert lines["bm25"].split("|")[9].strip() == "-"  # pairs/s: none for the first stage
    assert "## Wins / ties / losses per query" in md


def test_win_tie_loss_counts(records):
    record = _record(records["a"])
    report = build_report([records["a"]])
    for c in report.comparisons:
        a, b = _paired(record, c.row.system, "bm25", c.measure)
        wins = sum(x > y for x, y in zip(a, b, strict=True))
        losses = sum(x < y for x, y in zip(a, b, strict=True))
        assert (c.wins, c.ties, c.losses) == (wins, len(a) - wins - losses, losses)
    assert win_tie_loss([0.5, 0.2, 0.3, 0.1], [0.4, 0.2, 0.6, 0.1]) == (1, 2, 1)


def test_latex_booktabs_daggers_caption(records):
    report = build_report([records["a"]], alpha=0.999)
    tex = render_tex.render(report)
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}{l" + "r" * len(report.columns) + "}"):
        assert rule in tex
    caption = re.search(r"\\caption\{(.*)\}\n", tex).group(1)
    assert "tiny (3 judged queries)" in caption and "nDCG@10, RR@10, AP, R@100, R@1000" in caption
    assert r"$^\dagger$/$^\ddagger$" in caption and "Holm--Bonferroni" in caption
    assert r"\textbf{" in tex and ("$^\\ddagger$ &" in tex or "$^\\dagger$ &" in tex)
    assert "tiny-ce &" in tex and "_" not in tex.replace(r"\_", "")


def test_csv_has_raw_and_holm_p_values_equal_to_scipy(records):
    record = _record(records["a"])
    rows = [r for r in _csv_rows(render_csv.render(build_report([records["a"]]))) if r["p_value"]]
    assert rows and {"p_value", "p_holm", "wins", "ties", "losses", "marker"} <= set(rows[0])
    for row in rows:
        a, b = _paired(record, row["system"], "bm25", row["column"])
        expected = stats.ttest_rel(a, b).pvalue
        assert float(row["p_value"]) == pytest.approx(1.0 if np.isnan(expected) or a == b else expected, rel=1e-12)
    assert [float(r["p_holm"]) for r in rows] == pytest.approx(holm([float(r["p_value"]) for r in rows]), rel=1e-12)


@pytest.mark.parametrize("test", ["t", "wilcoxon", "randomization"])
def test_report_p_values_equal_scipy(records, test):
    record = _record(records["a"])
    report = build_report([records["a"]], test=test)
    checked = 0
    for c in report.comparisons:
        a, b = _paired(record, c.row.system, "bm25", c.measure)
        if np.allclose(a, b):
            assert c.p == 1.0
            continue
        if test == "t":
            expected = stats.ttest_rel(a, b).pvalue
        elif test == "wilcoxon":
            expected = stats.wilcoxon(a, b).pvalue
        else:
            expected = _sign_flip_exact(np.subtract(a, b))
        assert c.p == pytest.approx(expected, rel=1e-9), (c.row.label, c.measure)
        checked += 1
    assert checked >= 2


def _sign_flip_exact(diff: np.ndarray) -> float:
    """Exact two-sided paired randomisation p-value by enumerating every sign pattern (independent of scipy)."""
    observed = abs(diff.mean())
    means = [abs((diff * np.array(signs)).mean()) for signs in itertools.product((1, -1), repeat=diff.size)]
    return float(np.mean([m >= observed - 1e-12 for m in means]))


def test_randomisation_matches_exact_sign_flips():
    rng = np.random.default_rng(7)
    base = rng.random(12)
    system = base + rng.normal(0.08, 0.1, 12)
    assert paired_pvalue(system, base, "randomization") == pytest.approx(_sign_flip_exact(system - base), rel=1e-12)
    # beyond exact enumeration: Monte Carlo with a fixed seed, reproducible and close to the t-test's answer
    base = rng.random(40)
    system = base + rng.normal(0.05, 0.1, 40)
    p1, p2 = paired_pvalue(system, base, "randomization"), paired_pvalue(system, base, "randomization")
    assert p1 == p2 and abs(p1 - stats.ttest_rel(system, base).pvalue) < 0.02
    assert paired_pvalue(base, base, "t") == paired_pvalue(base, base, "wilcoxon") == 1.0


def test_holm_by_hand():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> raised to 0.06 (monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == [0.02] and holm([]) == []


def test_holm_is_applied_across_the_whole_table(records):
    report = build_report([records["a"], records["c"]])
    assert {c.collection for c in report.comparisons} == {"tiny", "tiny2"}
    assert [c.p_holm for c in report.comparisons] == pytest.approx(holm([c.p for c in report.comparisons]))
    assert len(report.comparisons) == 3 * 5  # tiny: 2 systems x 5 measures, tiny2: 1 x 5


def test_pareto_frontier_by_hand():
    points = [(1, 0.50), (10, 0.70), (5, 0.40), (10, 0.65), (100, 0.72), (100, 0.72), (50, 0.70)]
    # (5, .40) loses to (1, .50); (10, .65) to (10, .70); (50, .70) to (10, .70); the two (100, .72) tie and both stay
    assert pareto_front(points) == [0, 1, 4, 5]
    assert pareto_front([(3, 0.1)]) == [0] and pareto_front([]) == []


def test_tradeoff_figure_uses_p95_and_first_measure(records):
    from bench.report.figures import tradeoff_points

    record = _record(records["a"])
    timed, untimed = tradeoff_points(build_report([records["a"]]), "tiny")
    assert not untimed
    expected = {(s["name"], s["latency"]["p95_ms"], s["metrics"]["nDCG@10"]) for s in record["systems"]}
    assert {(r.system, lat, eff) for r, lat, eff in timed} == expected


# --- several records ---------------------------------------------------------------------------------------


def test_two_collections_side_by_side(records):
    report = build_report([records["a"], records["c"]], measures=["nDCG@10", "AP"])
    md = render_md.render(report)
    header = next(line for line in md.splitlines() if line.startswith("| system"))
    for column in ("tiny nDCG@10", "tiny2 nDCG@10", "tiny AP", "tiny2 AP", "tiny p95 ms/q", "tiny2 p95 ms/q", "params"):
        assert f" {column} " in header
    bi = next(line for line in md.splitlines() if line.startswith("| tiny-bi"))
    cells = [c.strip() for c in bi.split("|")[2:-1]]
    assert cells[0] != "-" and cells[2] == "-"  # tiny-bi only ran on tiny
    tex = render_tex.render(report)
    assert r"\multicolumn{2}{c}{tiny}" in tex and r"\multicolumn{2}{c}{tiny2}" in tex and r"\cmidrule(lr){2-3}" in tex
    c_record = _record(records["c"])
    c = report.comparison(next(r for r in report.rows if r.system == "tiny-ce"), "tiny2", "nDCG@10")
    a, b = _paired(c_record, "tiny-ce", "bm25", "nDCG@10")
    assert c is not None and c.p == pytest.approx(stats.ttest_rel(a, b).pvalue if a != b else 1.0)


def test_same_system_twice_with_difference_rows(records):
    first, second = _record(records["a"]), _record(records["b"])
    report = build_report([records["a"], records["b"]])
    labels = [r.label for r in report.rows]
    assert labels[:3] == ["bm25 [tiny]", "bm25 [tiny-b]", "Δ bm25 (tiny-b − tiny)"]
    assert "tiny-ce [tiny-b]" in labels and "Δ tiny-ce (tiny-b − tiny)" in labels
    diff_row = next(r for r in report.rows if r.label == "Δ tiny-ce (tiny-b − tiny)")
    ndcg = report.columns[0]
    by_name = [{s["name"]: s for s in rec["systems"]} for rec in (first, second)]
    expected = by_name[1]["tiny-ce"]["metrics"]["nDCG@10"] - by_name[0]["tiny-ce"]["metrics"]["nDCG@10"]
    assert report.cell(diff_row, ndcg).value == pytest.approx(expected) and report.cell(diff_row, ndcg).text.startswith(("+", "-"))
    c = report.comparison(diff_row, "tiny", "nDCG@10")
    later, earlier = by_name[1]["tiny-ce"]["per_query"]["nDCG@10"], by_name[0]["tiny-ce"]["per_query"]["nDCG@10"]
    a, b = [later[q] for q in earlier], [earlier[q] for q in earlier]
    assert c.against == "tiny-ce [tiny]" and c.p == pytest.approx(stats.ttest_rel(a, b).pvalue if a != b else 1.0)
    # each record's rerankers are tested against that record's own first stage
    c2 = report.comparison(next(r for r in report.rows if r.label == "tiny-ce [tiny-b]"), "tiny", "nDCG@10")
    assert c2.base.label == "bm25 [tiny-b]"
    assert not report.cell(diff_row, ndcg).bold
    assert "Δ rows: the later measurement minus the first" in render_md.render(report)


def test_records_with_different_query_sets_are_paired_on_common_queries(records, tmp_path: Path):
    record = _record(records["b"])
    for system in record["systems"]:
        for values in system["per_query"].values():
            values.pop("3")
    record["queries"] = 2
    fewer = tmp_path / "fewer" / "results.json"
    fewer.parent.mkdir()
    fewer.write_text(json.dumps(record))
    report = build_report([records["a"], fewer])
    diff_row = next(r for r in report.rows if r.label == "Δ tiny-ce (tiny-b − tiny)")
    c = report.comparison(diff_row, "tiny", "AP")
    assert c is not None and c.queries == 2
    assert "Δ tiny-ce (tiny-b − tiny) vs tiny-ce [tiny] on tiny: tested on the 2 queries both have (of 3)." in report.notes


# --- HTML ----------------------------------------------------------------------------------------------------


def test_html_is_self_contained(records):
    html = (records["a"].parent / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and '<meta name="viewport"' in html
    assert '<table id="results">' in html and html.count('<img src="data:image/png;base64,') == 2
    for img in re.findall(r'data:image/png;base64,([A-Za-z0-9+/=]+)', html):
        assert base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(src|href)=\"(https?:)?//", html) and "<script src" not in html and "<link" not in html
    assert "fetch(" not in html and "XMLHttpRequest" not in html and "import(" not in html
    record = _record(records["a"])
    assert record["git"]["commit"] in html and "Library versions" in html and f"<td>ranx</td><td>{record['versions']['ranx']}</td>" in html
    assert "Device" in html and "&quot;top_k&quot;: 5" in html


# --- CLI and API ------------------------------------------------------------------------------------------------


def test_cli_report_formats_and_stdout(records, tmp_path: Path, capsys):
    out = tmp_path / "rep"
    code = main(["report", str(records["a"]), "--test", "wilcoxon", "--format", "md,tex", "--output", str(out), "--baseline", "tiny-bi"])
    stdout = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "report.md", "report.tex", "effectiveness-latency.png", "effectiveness-latency.svg", "per-query-delta.png", "per-query-delta.svg",
    ])
    assert "Baseline: tiny-bi." in stdout and "Wilcoxon signed-rank test" in stdout and "| bm25" in stdout


def test_cli_several_records_default_output(records, tmp_path: Path, capsys):
    work = tmp_path / "reports"
    for key in ("a", "c"):
        shutil.copytree(records[key].parent, work / records[key].parent.name)
    assert main(["-q", "report", str(work / "tiny" / "results.json"), str(work / "tiny2" / "results.json"), "--format", "csv"]) == 0
    capsys.readouterr()
    assert (work / "comparison" / "report.csv").is_file()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--baseline", "nope"], "baseline 'nope' is not a system of tiny (systems: bm25, tiny-ce, tiny-bi)"),
        (["--format", "md,pdf"], "unknown report format 'pdf'"),
        (["--test", "z"], "unknown significance test 'z'"),
        (["--measures", "P@5"], "measure 'P@5' is not in the results"),
        (["--alpha", "2"], "--alpha must be between 0 and 1"),
    ],
)
def test_cli_report_bad_input_one_line(records, tmp_path: Path, capsys, extra, message):
    code = main(["report", str(records["a"]), "--output", str(tmp_path / "rep"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err
    assert not (tmp_path / "rep").exists()


def test_cli_report_missing_or_invalid_file(tmp_path: Path, capsys):
    assert main(["report", str(tmp_path / "none.json")]) == 2
    assert "results file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["report", str(bad)]) == 2
    assert "not a bench results record" in capsys.readouterr().err


def test_load_results_dataframe(records):
    frame = bench.load_results(records["a"])
    record = _record(records["a"])
    assert len(frame) == len(record["systems"]) * len(record["measures"])
    row = frame[(frame.system == "tiny-ce") & (frame.measure == "AP")].iloc[0]
    ce = record["systems"][1]
    assert row.value == ce["metrics"]["AP"] and row.parameters == ce["info"]["parameters"] and row.p95_ms == ce["latency"]["p95_ms"]
    assert frame[frame.system == "bm25"].parameters.isna().all()


def test_python_api_write_report(records, tmp_path: Path):
    report = build_report(str(records["a"]), measures=["AP"], test="randomization")
    written = write_report(report, tmp_path, ["html"])
    assert set(written) == {"html", "effectiveness-latency.png", "effectiveness-latency.svg", "per-query-delta.png", "per-query-delta.svg"}
    assert report.measures == ["AP"] and report.first_measure == "AP" and all(c.measure == "AP" for c in report.comparisons)


# --- a real browser -----------------------------------------------------------------------------------------------


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    profile.mkdir()
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_html_in_headless_chromium(records, tmp_path: Path):
    import matplotlib.image

    page = (records["a"].parent / "report.html").resolve().as_uri()
    dom = _chromium(tmp_path, "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<table id="results">' in dom.stdout and "tiny-ce" in dom.stdout
    assert len(re.findall(r'<img src="data:image/png;base64,', dom.stdout)) == 2
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line or "net::ERR" in line]
    assert not console, console
    # laptop width, tall enough for the table and both figures
    shot = tmp_path / "shot.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1366,2600", "--hide-scrollbars", page)
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    pixels = matplotlib.image.imread(str(shot))[:, :, :3]
    assert pixels.shape[1] == 1366
    non_white = (pixels < 0.94).any(axis=2).mean()
    assert 0.02 < non_white < 0.9 and pixels.std() > 0.05
    colors = (np.round(pixels * 255).astype(int) // 8).reshape(-1, 3)
    found = {tuple(c) for c in np.unique(colors, axis=0)}
    frontier_blue = (0x1F // 8, 0x77 // 8, 0xB4 // 8)  # the Pareto line and frontier points (first figure)
    bars = {(0x2C // 8, 0xA0 // 8, 0x2C // 8), (0xD6 // 8, 0x27 // 8, 0x28 // 8)}  # green/red bars (second figure)
    assert frontier_blue in found and found & bars
