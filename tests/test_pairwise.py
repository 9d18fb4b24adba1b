"""pairwise (duoT5): the card's pair probability, the aggregations by hand, rank_llm's loop, invariances, cost, a run end to end."""

from __future__ import annotations

import functools
import importlib
import json
import math
import sys
import types
from pathlib import Path

import pytest
import torch
from helpers_families import PASSAGES, QUERIES, long_document, make_t5, settings

from bench.errors import ConfigError, ModelError
from bench.ranking import Request
from bench.rerankers import locate
from bench.rerankers.pairwise import Pairwise, PairwiseOptions, aggregate, pairs_for


@pytest.fixture(scope="module")
def t5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_t5(tmp_path_factory.mktemp("models") / "tiny-duot5")


def ranker(folder: Path, **options) -> Pairwise:
    kw = {k: options.pop(k) for k in ("batch_size", "max_length") if k in options}
    r = Pairwise(locate(str(folder)), settings(**kw), PairwiseOptions(**options))
    r.load()
    return r


def request(qid: str, query: str, texts: list[str]) -> Request:
    return Request(qid, query, tuple(f"{qid}-d{i}" for i in range(len(texts))), tuple(texts))


@functools.cache
def _plain(folder: Path) -> tuple:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    return AutoTokenizer.from_pretrained(folder), AutoModelForSeq2SeqLM.from_pretrained(folder).eval()


def card_probability(folder: Path, query: str, d0: str, d1: str) -> float:
    """duoT5's card: p = exp(l_true) / (exp(l_true) + exp(l_false)) at the first decoder step, one unpadded pair."""
    tok, model = _plain(folder)
    enc = tok(f"Query: {query} Document0: {d0} Document1: {d1} Relevant:", return_tensors="pt")
    with torch.inference_mode():
        logits = model(**enc, decoder_input_ids=torch.full((1, 1), model.config.decoder_start_token_id)).logits[0, 0].double()
    t, f = logits[tok.convert_tokens_to_ids("▁true")], logits[tok.convert_tokens_to_ids("▁false")]
    return float(math.exp(t) / (math.exp(t) + math.exp(f)))


def pair_probabilities(r: Pairwise, requests: list[Request]) -> list[float]:
    plans, batches = r.prepare(requests)
    return r.scorer.run_batches(batches, r.scorer._score)


def test_pair_probabilities_equal_the_card_formula(t5: Path):
    docs = PASSAGES[:5]
    r = ranker(t5, k=5, batch_size=3)
    got = pair_probabilities(r, [request("q", QUERIES[0], docs)])
    pairs = pairs_for(5, "sym-sum")
    assert len(pairs) == 20 == len(got)
    card = [card_probability(t5, QUERIES[0], docs[i], docs[j]) for i, j in pairs]
    assert got == pytest.approx(card, abs=1e-6)
    assert len({round(p, 6) for p in card}) > 10, "the tiny model must tell pairs apart, or the test proves little"


def test_sym_sum_by_hand_on_four_documents(t5: Path):
    docs = PASSAGES[:4]
    p = {(i, j): card_probability(t5, QUERIES[1], docs[i], docs[j]) for i in range(4) for j in range(4) if i != j}
    # Pradeep et al. 2021, Sym-Sum: s_i = sum over j != i of p_ij + (1 - p_ji), written out:
    by_hand = [
        (p[0, 1] + 1 - p[1, 0]) + (p[0, 2] + 1 - p[2, 0]) + (p[0, 3] + 1 - p[3, 0]),
        (p[1, 0] + 1 - p[0, 1]) + (p[1, 2] + 1 - p[2, 1]) + (p[1, 3] + 1 - p[3, 1]),
        (p[2, 0] + 1 - p[0, 2]) + (p[2, 1] + 1 - p[1, 2]) + (p[2, 3] + 1 - p[3, 2]),
        (p[3, 0] + 1 - p[0, 3]) + (p[3, 1] + 1 - p[1, 3]) + (p[3, 2] + 1 - p[2, 3]),
    ]
    ranking = ranker(t5, k=4).rank(ranker(t5, k=4).prepare([request("q", QUERIES[1], docs)]))[0]
    assert ranking.scores == pytest.approx(by_hand, abs=1e-5)
    assert ranking.order() == [f"q-d{i}" for i in sorted(range(4), key=lambda i: -by_hand[i])]
    assert ranking.cost.as_dict() == {"pairs": 12, "calls": 12, "input_tokens": ranking.cost.input_tokens}


def test_every_aggregation_on_a_matrix_worked_by_hand():
    # p_ij for three documents; each total below is added up by hand from this table
    p = {(0, 1): 0.9, (0, 2): 0.6, (1, 0): 0.2, (1, 2): 0.7, (2, 0): 0.5, (2, 1): 0.1}
    pairs = list(p)
    probs = [p[x] for x in pairs]
    assert aggregate(3, pairs, probs, "sym-sum") == pytest.approx([0.9 + 0.8 + 0.6 + 0.5, 0.2 + 0.1 + 0.7 + 0.9, 0.5 + 0.4 + 0.1 + 0.3])
    assert aggregate(3, pairs, probs, "sum") == pytest.approx([1.5, 0.9, 0.6])
    assert aggregate(3, pairs, probs, "max") == pytest.approx([0.9, 0.7, 0.5])
    assert aggregate(3, pairs, probs, "min") == pytest.approx([0.6, 0.2, 0.1])
    half = pairs_for(3, "half")
    assert half == [(0, 1), (0, 2), (1, 2)]
    # rank_llm: s_i += p_ij, s_j += 1 - p_ij for i < j only
    assert aggregate(3, half, [0.9, 0.6, 0.7], "half") == pytest.approx([0.9 + 0.6, 0.1 + 0.7, 0.4 + 0.3])


def _rank_llm_duot5() -> type:
    """rank_llm's DuoT5 without running two package ``__init__`` files that import vLLM for the listwise rerankers."""
    pytest.importorskip("rank_llm")
    pytest.importorskip("ftfy")
    pytest.importorskip("dacite")
    import rank_llm

    for name in ("rank_llm.rerank", "rank_llm.rerank.listwise"):  # their __init__ files import vLLM; the modules used here do not
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(Path(rank_llm.__file__).parent.joinpath(*name.split(".")[1:]))]
            sys.modules[name] = package
    return importlib.import_module("rank_llm.rerank.pairwise.duot5").DuoT5


def test_half_equals_rank_llms_pairwise_loop(t5: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """rank-llm 0.25.7: ``PairwiseRankLLM.rerank_batch`` + ``DuoT5.run_llm_batched`` on the same tiny model.

    Adaptations, none in the loop: rank_llm loads ``T5Tokenizer`` (transformers 5 builds it as a
    Unigram model, which cannot read the tiny BPE tokenizer), so the module's name is pointed at
    ``AutoTokenizer``, giving both sides the same tokenizer. A real T5's SentencePiece normaliser
    drops repeated and trailing spaces, the tiny BPE keeps them as lone ``▁`` tokens, so the
    template's trailing space after ``Relevant:`` is removed and the passages are stripped (rank_llm
    strips and re-spaces documents). rank_llm runs at batch size 1: its ``run_llm_batched`` pads
    the batch but passes no attention mask to ``generate``, so under transformers 5 a padded
    pair reads the pads and its probability moves (0.8118 -> 0.8195 for one pair here).
    """
    DuoT5 = _rank_llm_duot5()
    from rank_llm.data import Candidate, Query
    from rank_llm.data import Request as RLRequest
    from transformers import AutoTokenizer

    monkeypatch.setattr(sys.modules["rank_llm.rerank.pairwise.duot5"], "T5Tokenizer", AutoTokenizer)
    template = tmp_path / "duot5.yaml"
    template.write_text('method: "pairwise"\nbody: "Query: {query} Document0: {doc1} Document1: {doc2} Relevant:"\n', encoding="utf-8")
    peer = DuoT5(str(t5), prompt_template_path=str(template), device="cpu", batch_size=1)
    docs = [p.strip() for p in PASSAGES[:6]]
    mine = ranker(t5, k=6, aggregation="half", batch_size=4)
    for query in QUERIES:
        peer_request = RLRequest(Query(query, "q"), [Candidate(f"q-d{i}", 0.0, {"contents": t}) for i, t in enumerate(docs)])
        result = peer.rerank_batch([peer_request])[0]
        ranking = mine.rank(mine.prepare([request("q", query, docs)]))[0]
        assert ranking.order() == [c.docid for c in result.candidates]
        by_id = dict(zip(ranking.docs, ranking.scores or []))
        assert [by_id[c.docid] for c in result.candidates] == pytest.approx([c.score for c in result.candidates], abs=1e-5)
        assert ranking.cost.calls == 15  # 6 * 5 / 2: the pairs i < j rank_llm scores


def test_scores_do_not_change_with_batch_size_or_other_queries(t5: Path):
    requests = [request(str(n), q, PASSAGES[n : n + 5]) for n, q in enumerate(QUERIES)]
    base = ranker(t5, k=5, batch_size=64).rank(ranker(t5, k=5, batch_size=64).prepare(requests))
    for batch_size in (1, 7):
        r = ranker(t5, k=5, batch_size=batch_size)
        again = r.rank(r.prepare(requests))
        for a, b in zip(base, again, strict=True):
            assert a.order() == b.order() and a.scores == pytest.approx(b.scores, abs=1e-5)
    alone = ranker(t5, k=5, batch_size=7)
    for n, one in enumerate(requests):  # pairs of three queries in one set of batches = each query on its own
        ranking = alone.rank(alone.prepare([one]))[0]
        assert ranking.order() == base[n].order() and ranking.scores == pytest.approx(base[n].scores, abs=1e-5)


def test_documents_below_k_keep_their_input_order(t5: Path):
    r = ranker(t5, k=3, aggregation="sum")
    ranking = r.rank(r.prepare([request("q", QUERIES[0], PASSAGES)]))[0]
    order = ranking.order()
    assert sorted(order[:3]) == ["q-d0", "q-d1", "q-d2"]
    assert order[3:] == [f"q-d{i}" for i in range(3, len(PASSAGES))]
    assert ranking.cost.calls == 6


def test_a_pair_too_long_keeps_both_documents_the_middle_and_the_tail(t5: Path):
    r = ranker(t5, k=2, max_length=128)
    tok = r.scorer.tokenizer
    short = "goldfish grow"
    features = r.scorer.encode_pairs(QUERIES[0], [long_document(2000), short], [(0, 1), (1, 0)])
    middle = tok("Document1:", add_special_tokens=False)["input_ids"]
    tail = tok("Relevant:")["input_ids"]
    short_ids = tok(short, add_special_tokens=False)["input_ids"]
    for f in features:
        ids = f["input_ids"]
        assert len(ids) == 128 and ids[-len(tail):] == tail
        assert any(ids[k : k + len(middle)] == middle for k in range(len(ids)))
        assert any(ids[k : k + len(short_ids)] == short_ids for k in range(len(ids)))  # the short document is kept whole
    head = tok(f"Query: {QUERIES[0]} Document0:", add_special_tokens=False)["input_ids"]
    assert features[0]["input_ids"][: len(head)] == head and features[1]["input_ids"][: len(head)] == head


def test_bad_options_and_templates_are_one_line_errors(t5: Path):
    with pytest.raises(ConfigError, match="unknown aggregation 'mean'"):
        PairwiseOptions(aggregation="mean")
    with pytest.raises(ConfigError, match="k must be 2"):
        PairwiseOptions(k=1)
    with pytest.raises(ModelError, match="must contain"):
        ranker(t5, template="Query: {query} Document: {document} Relevant:")


def test_mono_then_duo_cascade_end_to_end_with_the_cost_figure(t5: Path, tmp_path: Path, capsys):
    from test_resume import make_big_collection

    from bench.cli import main
    from bench.report.compare import build_report
    from bench.report.figures import cost_points, render
    from bench.trec import ranked, read_run

    make_big_collection(tmp_path / "data" / "big", queries=3, docs_per_query=6, words=8)
    args = ["-q", "run", "big", "--data-dir", str(tmp_path / "data"), "--first-stage", "candidates", "--top-k", "6",
            "--model", str(t5), "--kind", "seq2seq",
            "--model", str(t5), "--kind", "pairwise", "--input", "tiny-duot5", "--option", "k=4", "--output", str(tmp_path / "out")]
    assert main(args) == 0, capsys.readouterr().err
    results = tmp_path / "out" / "reports" / "big" / "results.json"
    record = json.loads(results.read_text(encoding="utf-8"))
    mono, duo = record["systems"][1], record["systems"][2]
    assert duo["info"]["kind"] == "pairwise" and duo["info"]["options"]["aggregation"] == "sym-sum"
    assert duo["cost"]["per_query"]["calls"] == 12.0 and duo["cost"]["per_query"]["input_tokens"] > 12 * 10
    mono_run, duo_run = read_run(mono["run_file"]), read_run(duo["run_file"])
    for qid in duo_run:
        mono_order, duo_order = [d for d, _ in ranked(mono_run[qid])], [d for d, _ in ranked(duo_run[qid])]
        assert sorted(duo_order[:4]) == sorted(mono_order[:4]) and duo_order[4:] == mono_order[4:]  # below k: monoT5's order
    assert "calls/q" in (tmp_path / "out" / "reports" / "big" / "report.md").read_text(encoding="utf-8")
    # the cost view: duoT5 at 12 calls, monoT5 at its 6 pairs (one input each), the candidates billed nothing
    report = build_report([results])
    placed, unplaced = cost_points(report, report.collections[0], "calls")
    assert sorted((row.system, x, note) for row, x, _, note in placed) == [("tiny-duot5", 6.0, "pairs"), ("tiny-duot5-2", 12.0, "")]
    assert [row.system for row, _ in unplaced] == [record["systems"][0]["name"]]
    tokens, _ = cost_points(report, report.collections[0], "tokens")
    assert [(row.system, x) for row, x, _, _ in tokens] == [("tiny-duot5-2", duo["cost"]["per_query"]["input_tokens"])]
    assert [f.name for f in render(report)] == ["effectiveness-latency", "effectiveness-cost", "per-query-delta"]
    assert (results.parent / "effectiveness-cost.png").is_file() and "effectiveness-cost.png" in (results.parent / "report.md").read_text()
