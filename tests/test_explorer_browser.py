"""The per-query explorer and the leaderboard in a real browser: Playwright driving Debian's chromium (no browser download)."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import make_collection, make_cross_encoder

from bench.cli import main

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright; no `playwright install`)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that records console errors and uncaught exceptions; the test fails on any."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("request", lambda r: errors.append(f"network: {r.url}") if r.url.startswith(("http:", "https:")) else None)
    yield page
    context.close()
    assert not errors, errors


def _not_blank(png: bytes) -> None:
    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[:, :, :3]
    non_white = (pixels < 0.94).any(axis=2).mean()
    assert 0.01 < non_white < 0.95 and pixels.std() > 0.03, (non_white, pixels.std())


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, dl19: Path, minilm: Path) -> dict[str, Path]:
    """A real DL19 record (official BM25 candidates + all-MiniLM-L6-v2, 10 queries) and a tiny one of another collection."""
    root = tmp_path_factory.mktemp("browser")
    make_collection(root / "data" / "tiny")
    ce = make_cross_encoder(root / "models" / "tiny-ce")
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE_DIR", str(root / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        assert main(["-q", "run", "trec-dl-2019", "--data-dir", str(dl19.parent), "--model", str(minilm), "--limit-queries", "10",
                     "--dtype", "float32", "--device", "cpu", "--output", str(out)]) == 0
        assert main(["-q", "run", "tiny", "--data-dir", str(root / "data"), "--first-stage", "bm25", "--model", str(ce), "--top-k", "5",
                     "--dtype", "float32", "--output", str(out)]) == 0
        assert main(["-q", "leaderboard", str(out / "reports")]) == 0
    return {"dl19": out / "reports" / "trec-dl-2019", "tiny": out / "reports" / "tiny", "index": out / "reports" / "index.html"}


def test_explorer_sort_click_worst_query_drilldown_and_filter(reports: dict[str, Path], page: Any):
    record = json.loads((reports["dl19"] / "results.json").read_text())
    measure = record["measures"][0]
    base, system = record["systems"][0], record["systems"][1]
    deltas = {q: v - base["per_query"][measure][q] for q, v in system["per_query"][measure].items()}
    worst = min(deltas, key=lambda q: (deltas[q], q))
    page.goto((reports["dl19"] / "report.html").resolve().as_uri())
    explorer = page.locator("#explorer-0")
    rows = explorer.locator("tr.ex-row")
    assert rows.count() == len(deltas)
    explorer.locator('th[data-key="delta-1"]').click()  # ascending: the worst query first
    assert explorer.locator('th[data-key="delta-1"]').get_attribute("aria-sort") == "ascending"
    first = rows.first
    assert deltas[first.get_attribute("data-qid")] == deltas[worst]
    shown = [float(t) for t in explorer.locator("tr.ex-row td:nth-child(5)").all_inner_texts()]
    assert shown == sorted(shown)
    first.click()
    drill = explorer.locator(f'.ex-drill[data-qid="{first.get_attribute("data-qid")}"]')
    drill.wait_for()
    columns = drill.locator(".ex-col")
    assert columns.count() == 2 and "(baseline)" in columns.first.locator("h4").inner_text()
    assert columns.nth(0).locator(".ex-doc").count() == 10 and columns.nth(1).locator(".ex-doc").count() == 10
    badges = drill.locator(".badge").all_inner_texts()
    assert any(b.startswith("rel ") for b in badges) and all(b.startswith("rel ") or b == "unjudged" for b in badges)
    moves = drill.locator(".move").all_inner_texts()
    assert moves and all("→" in m for m in moves) and any(m.split(" → ")[0] != m.split(" → ")[1] for m in moves)
    # MS MARCO's terms: a DL19 report leaves passage text out unless asked, and says so
    assert drill.locator(".snip").count() == 0
    assert any("passage text left out" in n for n in explorer.locator("p.ex-note").all_inner_texts())
    _not_blank(drill.screenshot())
    # the text filter keeps the queries whose text holds the word
    query_text = explorer.locator("tr.ex-row td.qtext").nth(3).inner_text()
    word = max(query_text.split(), key=len).lower()
    texts = [t.lower() for t in explorer.locator("tr.ex-row td.qtext").all_inner_texts()]
    explorer.locator("input.ex-filter").fill(word)
    expected = sum(word in t for t in texts)
    assert 0 < expected < len(texts) and rows.count() == expected
    assert all(word in t.lower() for t in explorer.locator("tr.ex-row td.qtext").all_inner_texts())
    _not_blank(page.screenshot(full_page=True))


def test_explorer_snippets_when_asked(reports: dict[str, Path], page: Any, tmp_path: Path):
    """``bench report --option snippets=true`` (a report kept to oneself) puts passage text in the drill-down."""
    assert main(["-q", "report", str(reports["dl19"] / "results.json"), "--option", "snippets=true", "--output", str(tmp_path)]) == 0
    page.goto((tmp_path / "report.html").resolve().as_uri())
    explorer = page.locator("#explorer-0")
    explorer.locator("tr.ex-row").first.click()
    drill = explorer.locator(".ex-drill").first
    drill.wait_for()
    snippets = drill.locator(".snip").all_inner_texts()
    assert len(snippets) >= 10 and all(0 < len(s) <= 300 for s in snippets)
    assert not any("passage text left out" in n for n in explorer.locator("p.ex-note").all_inner_texts())


def test_leaderboard_sort_collection_filter_and_link(reports: dict[str, Path], page: Any):
    page.goto(reports["index"].resolve().as_uri())
    table = page.locator("#leaderboard")
    body_rows = table.locator("tbody tr")
    assert body_rows.count() == 4  # bm25 (candidates) and MiniLM on DL19, bm25 and tiny-ce on tiny
    _not_blank(page.screenshot(full_page=True))
    from bench.report.leaderboard import column

    dl19_column = column(json.loads((reports["dl19"] / "results.json").read_text()))
    assert dl19_column == "trec-dl-2019 (10 of 43 queries)"  # a query subset is its own column
    dl19, tiny = (page.locator(f'#lb-collection option[value="{c}"]').get_attribute("data-group") for c in (dl19_column, "tiny"))
    dl19_measure = table.locator(f'thead th[data-group="{dl19}"].sortable').first
    assert dl19_measure.inner_text() == "nDCG@10"
    dl19_measure.click()  # measures sort best first
    values = [r.locator(f'td[data-group="{dl19}"]').first.inner_text() for r in body_rows.all()]
    numbers = [float(v) for v in values if v != "-"]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 2 and values[-1] == "-"
    page.select_option("#lb-collection", "tiny")
    visible = table.locator("tbody tr:not(.hidden)")
    assert visible.count() == 2 and all("hidden" in (c.get_attribute("class") or "") for c in table.locator(f'[data-group="{dl19}"]').all())
    assert not any("hidden" in (c.get_attribute("class") or "") for c in table.locator(f'[data-group="{tiny}"]').all())
    page.select_option("#lb-collection", "")
    page.fill("#lb-filter", "minilm")
    assert visible.count() == 1
    link = visible.first.locator(f'td[data-group="{dl19}"] a').first
    assert link.get_attribute("href") == "trec-dl-2019/report.html"
    link.click()
    page.wait_for_load_state()
    assert page.url.endswith("/trec-dl-2019/report.html") and page.locator("#explorer-0 tr.ex-row").count() == 10
    assert page.title().startswith("Report: ")
