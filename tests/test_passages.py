"""Long documents: FirstP / MaxP word windows, checked by hand on a 1,000-word document, batched and unbatched."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from helpers import WORDS

from bench.cli import main
from bench.errors import ConfigError
from bench.rerankers.passages import Passages, combine, expand


def _long_document(seed: int, words: int = 1000) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words))


def test_windows_of_a_1000_word_document_by_hand():
    words = [f"w{i}" for i in range(1000)]
    windows = Passages("max").windows(" ".join(words))
    assert [w.split()[0] for w in windows] == [f"w{s}" for s in range(0, 901, 75)]  # 13 windows: 0, 75, ..., 900
    assert all(len(w.split()) == 150 for w in windows[:-1]) and windows[-1].split() == words[900:]
    assert Passages("first").windows(" ".join(words)) == [" ".join(words[:150])]
    assert Passages("max", 300, 300).windows(" ".join(words)) == [" ".join(words[s : s + 300]) for s in (0, 300, 600, 900)]
    assert Passages("max").windows("short text") == ["short text"]
    ids, texts = expand(Passages("max"), ["a", "b"], [" ".join(words), "short"])
    assert ids == ["a"] * 13 + ["b"] and texts[-1] == "short"
    assert combine(["a", "a", "b", "a"], [0.1, 0.7, 0.3, 0.2]) == (["a", "b"], [0.7, 0.3])


def test_bad_passage_options_are_one_line():
    from bench.config import RerankerConfig

    with pytest.raises(ConfigError, match="--passages must be first or max, got 'mean'"):
        RerankerConfig(model="m", passages="mean")
    with pytest.raises(ConfigError, match="--window and --stride must be positive"):
        RerankerConfig(model="m", passages="max", stride=0)


@pytest.fixture
def robust_folder(tmp_path: Path) -> Path:
    """A Robust04-style local folder: long documents (1,000 words), AP/P@20/nDCG@20 by collection.toml."""
    folder = tmp_path / "data" / "robust-mini"
    folder.mkdir(parents=True)
    docs = {f"D{i}": _long_document(i) for i in range(4)}
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"doc_id": d, "text": t}) + "\n" for d, t in docs.items()), encoding="utf-8")
    (folder / "queries.tsv").write_text("301\tgoldfish water tank\n302\twireless radio signal\n", encoding="utf-8")
    (folder / "qrels.txt").write_text("301 0 D1 1\n301 0 D2 0\n302 0 D3 1\n", encoding="utf-8")
    (folder / "run.bm25.trec").write_text("".join(f"{q} Q0 D{i} {i + 1} {10 - i} t\n" for q in ("301", "302") for i in range(4)), encoding="utf-8")
    (folder / "collection.toml").write_text('type = "robust04"\n', encoding="utf-8")
    return folder


def _by_hand(model: Path, query: str, text: str, strategy: str, batch_size: int) -> float:
    from bench.rerankers import ModelSettings, locate
    from bench.rerankers.cross_encoder import CrossEncoder

    reranker = CrossEncoder(locate(str(model)), ModelSettings("cpu", "float32", batch_size, 128))
    reranker.load()
    windows = Passages(strategy).windows(text)
    scores = [reranker.score(query, [w])[0] for w in windows]  # one window at a time
    return max(scores) if strategy == "max" else scores[0]


def test_firstp_and_maxp_scores_by_hand_batched_and_unbatched_in_one_report(robust_folder: Path, tiny_cross_encoder: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    records = {}
    for strategy in ("first", "max"):
        for batch in ("1", "32"):
            name = f"{strategy}-{batch}"
            code = main(["run", str(robust_folder), "--model", str(tiny_cross_encoder), "--top-k", "4", "--passages", strategy,
                         "--batch-size", batch, "--max-length", "128", "--dtype", "float32", "--name", name, "--output", str(out)])
            assert code == 0, capsys.readouterr().err
            records[name] = json.loads((out / "reports" / name / "results.json").read_text(encoding="utf-8"))
    capsys.readouterr()
    corpus = {json.loads(line)["doc_id"]: json.loads(line)["text"] for line in (robust_folder / "corpus.jsonl").read_text().splitlines()}
    for name, record in records.items():
        strategy = name.split("-")[0]
        assert record["measures"] == ["AP", "P@20", "nDCG@20"]
        reranker = record["systems"][1]
        assert reranker["info"]["passages"] == {"strategy": strategy, "window": 150, "stride": 75, "unit": "words"}
        assert reranker["latency"]["stage"]["pairs"] == (2 * 4 * 13 if strategy == "max" else 2 * 4)  # windows are the pairs
        from bench.trec import read_run

        run = read_run(reranker["run_file"])
        for doc in ("D0", "D3"):
            expected = _by_hand(tiny_cross_encoder, "goldfish water tank", corpus[doc], strategy, 1)
            assert run["301"][doc] == pytest.approx(expected, abs=1e-5), (name, doc)
    for strategy in ("first", "max"):  # batched and unbatched: the same scores
        one = read_run(records[f"{strategy}-1"]["systems"][1]["run_file"])
        many = read_run(records[f"{strategy}-32"]["systems"][1]["run_file"])
        assert {q: list(d) for q, d in one.items()} == {q: list(d) for q, d in many.items()}
        assert all(one[q][d] == pytest.approx(many[q][d], abs=1e-5) for q in one for d in one[q])
    first, maxp = records["first-32"]["systems"][1], records["max-32"]["systems"][1]
    assert first["hash"] != maxp["hash"]
    # both in one report
    assert main(["report", str(out / "reports" / "first-32" / "results.json"), str(out / "reports" / "max-32" / "results.json"),
                 "--format", "md", "--output", str(tmp_path / "cmp")]) == 0
    shown = capsys.readouterr().out
    assert "first-32" in shown and "max-32" in shown and "nDCG@20" in shown
