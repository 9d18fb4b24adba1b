"""setwise: hand-traced sorts, llm-rankers' own sorts and SetwiseLlmRanker on the same tiny Flan-T5, batching, cost, a run end to end."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from helpers import WORDS
from helpers_families import corpus, make_t5, settings, t5_tokenizer

from bench.errors import ConfigError
from bench.ranking import Request
from bench.rerankers import locate
from bench.rerankers.setwise import Setwise, SetwiseOptions
from bench.rerankers.setwise_prompt import LABELS, prompt
from bench.rerankers.setwise_sort import bubblesort, drive, final_order, heapsort

# ---------------------------------------------------------------- the sorts, by hand


def by_value(values: list[float], asked: list[list[int]] | None = None):
    """A judge that knows each position's value: the best of each set wins (the first of equals)."""

    def judge(pending: list[tuple[int, list[int]]]) -> list[int]:
        out = []
        for _, positions in pending:
            if asked is not None:
                asked.append(list(positions))
            out.append(max(range(len(positions)), key=lambda i: (values[positions[i]], -i)))
        return out

    return judge


def test_heapsort_traced_by_hand_on_ten_documents():
    values = [3, 7, 1, 9, 4, 8, 2, 6, 0, 5]
    asked: list[list[int]] = []
    top = drive([heapsort(10, 3, 3)], by_value(values, asked))[0]
    # build the 3-ary heap, i = 10 // 3 = 3 .. 0 (node 3 has no child: 3*3+1 = 10):
    #   node 2 and children 7 8 9 -> 7 wins (6), swap: [0 1 7 3 4 5 6 2 8 9]
    #   node 1 and children 4 5 6 -> 5 wins (8), swap: [0 5 7 3 4 1 6 2 8 9]
    #   node 0 and children 5 7 3 -> 3 wins (9), swap: [3 5 7 0 4 1 6 2 8 9]; node 3 is a leaf
    # extract 3 (ranked 1), root = 9: [9 5 7 0 ...]; 5 wins, swap; then node 1 = 9 with 4 1 6 -> 1 wins, swap
    # extract 5 (ranked 2), root = 8: [8 1 7 0 ...]; 1 wins, swap; then node 1 = 8 with 4 9 6 -> 9 wins, swap
    # extract 1 (ranked 3 = k): stop
    assert asked == [[2, 7, 8, 9], [1, 4, 5, 6], [0, 5, 7, 3], [9, 5, 7, 0], [9, 4, 1, 6], [8, 1, 7, 0], [8, 4, 9, 6]]
    assert top == [3, 5, 1]
    assert final_order(top, 10) == [3, 5, 1, 0, 2, 4, 6, 7, 8, 9]  # the rest in input order


def test_bubblesort_traced_by_hand_on_six_documents():
    values = [1, 5, 2, 0, 4, 3]
    asked: list[list[int]] = []
    top = drive([bubblesort(6, 2, 2)], by_value(values, asked))[0]
    # pass 0: sets of 3 from the bottom: [3 4 5] -> 4 up; [1 2 4] -> 1 stays; [0 1] -> 1 up: [1 0 2 4 3 5]
    # pass 1 from last_start 3: [4 3 5] -> no change, last_start 1; [0 2 4] -> 4 up (the set's last, last_start 3); start == 1: done
    assert asked == [[3, 4, 5], [1, 2, 4], [0, 1], [4, 3, 5], [0, 2, 4]]
    assert top == [1, 4]


def test_a_malformed_answer_keeps_the_first_of_the_set():
    top = drive([heapsort(10, 3, 3)], lambda pending: [99] * len(pending))[0]
    assert top == [0, 9, 8]  # nothing ever swaps: the root is extracted, the last leaf moves up, and so on


def test_sets_of_many_queries_are_judged_together_with_the_same_results():
    rng = random.Random(7)
    tables = [[rng.random() for _ in range(n)] for n in (30, 12, 7, 30)]
    calls: list[int] = []

    def judge(pending: list[tuple[int, list[int]]]) -> list[int]:
        calls.append(len(pending))
        return [max(range(len(p)), key=lambda i: (tables[q][p[i]], -i)) for q, p in pending]

    together = drive([heapsort(len(t), 3, 10) for t in tables], judge)
    alone = [drive([heapsort(len(t), 3, 10)], by_value(t))[0] for t in tables]
    assert together == alone
    assert max(calls) == 4 and calls[0] == 4  # the first call holds the first set of all four queries
    for t, top in zip(tables, together):
        assert top == sorted(range(len(t)), key=lambda i: -t[i])[: min(10, len(t))]


def _llmrankers():
    pytest.importorskip("openai")  # llmrankers.setwise imports openai and tiktoken for its OpenAI ranker
    pytest.importorskip("tiktoken")
    return pytest.importorskip("llmrankers.setwise")


@pytest.mark.parametrize("method", ["heapsort", "bubblesort"])
def test_sorts_equal_llm_rankers_own_on_random_tables(method: str):
    """llm-rankers 0.0.2's heapify/heapSort and bubblesort, with its compare answering from a table."""
    setwise = _llmrankers()
    from llmrankers.rankers import SearchResult

    for seed in range(20):
        rng = random.Random(seed)
        n, num_child, k = rng.choice([100, 37, 10, 5]), rng.choice([2, 3, 5]), rng.choice([10, 3, 1])
        values = [rng.randint(0, 3) for _ in range(n)]  # many ties: the first of equals must win on both sides
        if method == "bubblesort":  # llm-rankers' bubblesort with k > n judges empty sets (its likelihood path then fails); bench caps k at n
            k = min(k, n)
        peer = setwise.SetwiseLlmRanker.__new__(setwise.SetwiseLlmRanker)
        peer.num_child, peer.k, peer.method, peer.num_permutation = num_child, k, method, 1
        peer.total_compare = peer.total_prompt_tokens = peer.total_completion_tokens = 0

        empty = []

        def compare(query: str, docs: list, peer=peer, values=values, empty=empty) -> str:
            peer.total_compare += 1
            if not docs:  # see below
                empty.append(1)
                return ""
            return LABELS[max(range(len(docs)), key=lambda j: (values[docs[j].docid], -j))]

        peer.compare = compare
        theirs = peer.rerank("q", [SearchResult(docid=i, score=0.0, text="") for i in range(n)])
        calls: list[int] = []

        def judge(pending, values=values, calls=calls):
            calls.append(1)
            return by_value(values)(pending)

        top = drive([(heapsort if method == "heapsort" else bubblesort)(n, num_child, k)], judge)[0]
        assert final_order(top, n) == [r.docid for r in theirs], (seed, n, num_child, k)
        # llm-rankers' bubblesort can ask about an empty set in its last passes when k is close to n (n = 5, k = 5 here);
        # such a call cannot change anything (and its likelihood path fails on it), so bench makes none
        assert not empty or k > n - 2
        assert len(calls) == peer.total_compare - len(empty), (seed, n, num_child, k)


# ---------------------------------------------------------------- the family on a tiny Flan-T5

LABEL_LINES = [f"Passage {c}: \"{w}\"" for c in LABELS for w in ("the", "fish")]


@pytest.fixture(scope="module")
def flan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny T5 whose tokenizer has ``▁Passage`` and the labels, with the label rows of its head scaled so it answers labels."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    folder = tmp_path_factory.mktemp("models") / "tiny-flan-t5"
    lines = corpus(LABEL_LINES * 20 + ["Given a query which of the following passages is the most relevant one Output only the passage label"] * 20)
    make_t5(folder, seed=3, tokenizer=t5_tokenizer(lines, vocab_size=500))
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    labels = [tok(f"<pad> Passage {c}", add_special_tokens=False)["input_ids"][-1] for c in LABELS]
    with torch.no_grad():
        model.lm_head.weight[labels] *= 30.0
        model.lm_head.weight[tok.eos_token_id] *= 30.0
    model.save_pretrained(folder)
    return folder


def texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(3, 14))) for _ in range(n)]


def ranker(folder: Path, **options) -> Setwise:
    kw = {k: options.pop(k) for k in ("batch_size",) if k in options}
    r = Setwise(locate(str(folder)), settings(**kw), SetwiseOptions(**options))
    r.load()
    return r


def request(qid: str, n: int, seed: int) -> Request:
    return Request(qid, " ".join(random.Random(seed + 100).choices(WORDS, k=4)), tuple(f"{qid}-d{i}" for i in range(n)), tuple(texts(n, seed)))


# bubblesort with generation is left out: a generated label past the end of the list's last, short set makes
# llm-rankers 0.0.2 swap out of range (IndexError in rerank); its sort (above) and the T5 generation (heapsort) are compared
@pytest.mark.parametrize(("method", "scoring"), [("heapsort", "likelihood"), ("bubblesort", "likelihood"), ("heapsort", "generation")])
def test_equals_llm_rankers_setwise_on_a_tiny_flan_t5(flan: Path, monkeypatch: pytest.MonkeyPatch, method: str, scoring: str):
    """SetwiseLlmRanker (llm-rankers 0.0.2) and this family on the same model: the same top 10, calls and prompt tokens.

    llm-rankers loads ``T5Tokenizer``, which transformers 5 builds as a Unigram model that
    cannot read the tiny BPE tokenizer; the module's name is pointed at ``AutoTokenizer`` (with
    ``batch_encode_plus``, transformers 4's name for a batched call, put back), so both sides read
    the same tokenizer. Its sorts and its ``compare`` run unchanged.
    """
    setwise = _llmrankers()
    pytest.importorskip("accelerate")  # device_map="auto"
    from llmrankers.rankers import SearchResult
    from transformers import AutoTokenizer

    class T5Tokenizer:  # the same tokenizer for both sides, with transformers 4's name for a batched call (removed in 5)
        @staticmethod
        def from_pretrained(*args, **kwargs):
            tok = AutoTokenizer.from_pretrained(*args, **kwargs)
            tok.batch_encode_plus = tok.__call__
            return tok

    monkeypatch.setattr(setwise, "T5Tokenizer", T5Tokenizer)
    peer = setwise.SetwiseLlmRanker(str(flan), None, "cpu", num_child=3, k=10, scoring=scoring, method=method)
    mine = ranker(flan, method=method, scoring=scoring, batch_size=3)
    malformed = total = 0
    for seed in range(2):
        req = request(f"q{seed}", 20, seed)
        query = peer.truncate(req.query, 32)
        docs = [SearchResult(docid=d, score=0.0, text=peer.truncate(t, 128)) for d, t in zip(req.doc_ids, req.texts)]
        theirs = peer.rerank(query, docs)
        ranking = mine.rank(mine.prepare([req]))[0]
        assert ranking.docs == [r.docid for r in theirs]
        assert ranking.cost.calls == peer.total_compare and ranking.cost.input_tokens == peer.total_prompt_tokens
        if scoring == "generation":  # llm-rankers also counts the 2 tokens of the decoder prefix "<pad> Passage"
            assert ranking.cost.output_tokens == peer.total_completion_tokens - 2 * peer.total_compare
        malformed += ranking.cost.malformed
        total += ranking.cost.calls
        assert ranking.docs[:10] != list(req.doc_ids[:10]), "the model must move documents, or the test proves little"
    assert malformed < 0.75 * total  # the head scaling makes most answers labels; the rest are counted, not hidden


def test_batch_size_and_queries_per_call_do_not_change_rankings(flan: Path):
    requests = [request(f"q{s}", n, s) for s, n in enumerate((30, 12, 5))]
    base = ranker(flan, scoring="likelihood", batch_size=1)
    alone = [base.rank(base.prepare([r]))[0] for r in requests]
    together_ranker = ranker(flan, scoring="likelihood", batch_size=16)
    together = together_ranker.rank(together_ranker.prepare(requests))
    for a, b in zip(alone, together, strict=True):
        assert a.docs == b.docs and a.cost.calls == b.cost.calls and a.cost.input_tokens == b.cost.input_tokens
        assert all(t["queries_in_call"] == 1 for t in a.trace)
    assert together[0].trace[0]["queries_in_call"] == 3  # the first set of every query went in one model call


def test_trace_and_prompt_are_the_papers(flan: Path):
    r = ranker(flan, scoring="generation", k=2)
    ranking = r.rank(r.prepare([request("q", 5, 1)]))[0]
    entry = ranking.trace[0]  # 5 documents, 3-ary heap: node 1 (child 4) first, then node 0 (children 1 2 3)
    assert set(entry) >= {"set", "output", "best", "status", "prompt_tokens", "output_tokens"}
    assert entry["set"] == ["q-d1", "q-d4"] and entry["status"] in ("ok", "malformed")
    assert ranking.cost.malformed == sum(t["status"] == "malformed" for t in ranking.trace)
    assert prompt("what", ["x", "y"]) == ('Given a query "what", which of the following passages is the most relevant one to the query?\n\n'
                                          'Passage A: "x"\n\nPassage B: "y"\n\nOutput only the passage label of the most relevant passage:')


def test_bad_options_are_one_line_errors():
    with pytest.raises(ConfigError, match="unknown method 'quicksort'"):
        SetwiseOptions(method="quicksort")
    with pytest.raises(ConfigError, match="num_child must be 1 to 22"):
        SetwiseOptions(num_child=23)
    with pytest.raises(ConfigError, match="unknown scoring"):
        SetwiseOptions(scoring="vote")


def test_setwise_after_the_candidates_end_to_end(flan: Path, tmp_path: Path, capsys):
    from test_resume import make_big_collection

    from bench.cli import main

    make_big_collection(tmp_path / "data" / "big", queries=3, docs_per_query=12, words=8)
    args = ["-q", "run", "big", "--data-dir", str(tmp_path / "data"), "--first-stage", "candidates", "--model", str(flan),
            "--kind", "setwise", "--option", "k=3", "--option", "scoring=likelihood", "--top-k", "12", "--output", str(tmp_path / "out")]
    assert main(args) == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "out" / "reports" / "big" / "results.json").read_text(encoding="utf-8"))
    system = record["systems"][1]
    assert system["info"]["kind"] == "setwise" and system["info"]["options"]["method"] == "heapsort"
    per_query = system["cost"]["per_query"]
    assert per_query["calls"] >= 4 + 2 and per_query["input_tokens"] > 0  # build: nodes 3 2 1 0 (4 calls); 2 more extractions
    report = (tmp_path / "out" / "reports" / "big" / "report.md").read_text(encoding="utf-8")
    assert "calls/q" in report and "in tok/q" in report


# ---------------------------------------------------------------- the family on a tiny causal chat LM (the hf backend)

SETWISE_WORDS = "Given query which following passages most relevant one Output only passage label Passage".split()


@pytest.fixture(scope="module")
def chat_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers_llm import make_chat_lm, word_tokenizer

    return make_chat_lm(tmp_path_factory.mktemp("models") / "tiny-llama-chat", tokenizer=word_tokenizer(SETWISE_WORDS))


def test_causal_generation_equals_llm_rankers_llama_path(chat_lm: Path):
    """SetwiseLlmRanker's ``llama`` branch (chat template + " Passage:", one greedy token) against the family on the hf backend."""
    setwise = _llmrankers()
    pytest.importorskip("accelerate")
    from llmrankers.rankers import SearchResult

    peer = setwise.SetwiseLlmRanker(str(chat_lm), None, "cpu", num_child=3, k=10, scoring="generation", method="heapsort")
    mine = ranker(chat_lm, scoring="generation", batch_size=4)
    for seed in range(2):
        req = request(f"q{seed}", 20, seed)
        docs = [SearchResult(docid=d, score=0.0, text=peer.truncate(t, 128)) for d, t in zip(req.doc_ids, req.texts)]
        theirs = peer.rerank(peer.truncate(req.query, 32), docs)
        ranking = mine.rank(mine.prepare([req]))[0]
        assert ranking.docs == [r.docid for r in theirs]
        assert ranking.cost.calls == peer.total_compare and ranking.cost.input_tokens == peer.total_prompt_tokens
        # llm-rankers counts the whole sequence (prompt + 1) as completion tokens; the family, the one generated token
        assert ranking.cost.output_tokens == peer.total_compare == peer.total_completion_tokens - peer.total_prompt_tokens
        assert ranking.docs[:10] != list(req.doc_ids[:10])


def test_causal_likelihood_and_generation_through_the_backend(chat_lm: Path):
    requests = [request(f"q{s}", n, s) for s, n in enumerate((20, 7))]
    for scoring in ("likelihood", "generation"):
        one = ranker(chat_lm, scoring=scoring, batch_size=1)
        alone = [one.rank(one.prepare([r]))[0] for r in requests]
        many = ranker(chat_lm, scoring=scoring, batch_size=8)
        together = many.rank(many.prepare(requests))
        for a, b in zip(alone, together, strict=True):
            assert a.docs == b.docs and a.cost.as_dict() == b.cost.as_dict()
        assert together[0].trace[0]["queries_in_call"] == 2
        if scoring == "likelihood":
            assert together[0].cost.output_tokens == 0 and "logprobs" in together[0].trace[0]
