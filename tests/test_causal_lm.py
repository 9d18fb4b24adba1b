"""causal-lm (yes/no LLM rerankers): parity with the model cards' code and rerankers' MxBaiV2Ranker, invariance, truncation, dtypes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from helpers_families import PASSAGES, QUERIES, loaded, long_document, make_causal_lm, mean_kendall

from bench.errors import ModelError
from bench.rerankers import detect, locate
from bench.rerankers.causal_lm import CausalLMOptions
from bench.rerankers.prompts import QWEN3_ASSISTANT

log = logging.getLogger(__name__)

QWEN = CausalLMOptions(prompt="qwen3-reranker")
GEMMA = CausalLMOptions(prompt="bge-reranker-gemma")
MXBAI = CausalLMOptions(prompt="mxbai-rerank-v2")


@pytest.fixture(scope="module")
def qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_causal_lm(tmp_path_factory.mktemp("models") / "tiny-qwen3", "qwen3")


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_causal_lm(tmp_path_factory.mktemp("models") / "tiny-gemma", "gemma", seed=1)


@pytest.fixture(scope="module")
def qwen2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_causal_lm(tmp_path_factory.mktemp("models") / "tiny-qwen2", "qwen2", seed=2)


def qwen3_card(folder: Path, query: str, passages: list[str], instruction: str | None = None) -> list[float]:
    """The Qwen3-Reranker model card's code (left padding, logits[:, -1]), returning log-odds log P(yes) - log P(no)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    token_false_id, token_true_id = tokenizer.convert_tokens_to_ids("no"), tokenizer.convert_tokens_to_ids("yes")
    max_length = 8192
    prefix = (
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. "
        'Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
    )
    suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    prefix_tokens = tokenizer.encode(prefix, add_special_tokens=False)
    suffix_tokens = tokenizer.encode(suffix, add_special_tokens=False)
    instruction = instruction or "Given a web search query, retrieve relevant passages that answer the query"
    pairs = [f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}" for doc in passages]
    budget = max_length - len(prefix_tokens) - len(suffix_tokens)
    inputs = tokenizer(pairs, padding=False, truncation="longest_first", return_attention_mask=False, max_length=budget)
    for i, ele in enumerate(inputs["input_ids"]):
        inputs["input_ids"][i] = prefix_tokens + ele + suffix_tokens
    inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)
    with torch.no_grad():
        batch_scores = model(**inputs).logits[:, -1, :]
        scores = torch.nn.functional.log_softmax(torch.stack([batch_scores[:, token_false_id], batch_scores[:, token_true_id]], dim=1), dim=1)
    return (scores[:, 1] - scores[:, 0]).tolist()


def prepare_for_model(first: list[int], second: list[int], truncation: str = "only_second", max_length: int = 512, **_: object) -> dict[str, list[int]]:
    """transformers 4's ``tokenizer.prepare_for_model`` for ``truncation="only_second"`` without special tokens (removed in transformers 5)."""
    assert truncation == "only_second"
    return {"input_ids": first + second[: max(0, max_length - len(first))]}


def bge_gemma_card(folder: Path, query: str, passages: list[str], max_length: int = 512) -> list[float]:
    """The bge-reranker-v2-gemma model card's get_inputs and logits[:, -1, yes], one pair at a time (its batch pads on the right)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    prompt = "Given a query A and a passage B, determine whether the passage contains an answer to the query by providing a prediction of either 'Yes' or 'No'."
    sep_inputs = tokenizer("\n", return_tensors=None, add_special_tokens=False)["input_ids"]
    prompt_inputs = tokenizer(prompt, return_tensors=None, add_special_tokens=False)["input_ids"]
    yes_loc = tokenizer("Yes", add_special_tokens=False)["input_ids"][0]
    out = []
    for passage in passages:
        query_inputs = tokenizer(f"A: {query}", return_tensors=None, add_special_tokens=False, max_length=max_length * 3 // 4, truncation=True)
        passage_inputs = tokenizer(f"B: {passage}", return_tensors=None, add_special_tokens=False, max_length=max_length, truncation=True)
        item = prepare_for_model(
            [tokenizer.bos_token_id] + query_inputs["input_ids"], sep_inputs + passage_inputs["input_ids"], truncation="only_second",
            max_length=max_length, padding=False, return_attention_mask=False, return_token_type_ids=False, add_special_tokens=False,
        )
        ids = torch.tensor([item["input_ids"] + sep_inputs + prompt_inputs])
        with torch.no_grad():
            out.append(float(model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, -1, yes_loc]))
    return out


def test_detection_and_prompt_from_the_hub_id(qwen3: Path, tmp_path: Path):
    assert detect(locate(str(qwen3))) == "causal-lm"
    with pytest.raises(ModelError, match="cannot tell which prompt.*set prompt .*qwen3-reranker"):
        loaded(qwen3, "causal-lm")
    named = tmp_path / "Qwen3-Reranker-0.6B"
    named.symlink_to(qwen3, target_is_directory=True)
    assert loaded(named, "causal-lm").describe()["prompt"] == "qwen3-reranker"


def test_qwen3_equals_the_model_card(qwen3: Path):
    r = loaded(qwen3, "causal-lm", QWEN)
    worst = 0.0
    for query in QUERIES:
        got, card = r.score(query, PASSAGES), qwen3_card(qwen3, query, PASSAGES)
        assert got == pytest.approx(card, abs=1e-5)
        worst = max(worst, max(abs(a - b) for a, b in zip(got, card)))
    instructed = loaded(qwen3, "causal-lm", CausalLMOptions(prompt="qwen3-reranker", instruction="Find fish facts"))
    assert instructed.score(QUERIES[0], PASSAGES) == pytest.approx(qwen3_card(qwen3, QUERIES[0], PASSAGES, "Find fish facts"), abs=1e-5)
    log.info("causal-lm qwen3-reranker parity: max abs diff %.2e", worst)


def test_bge_gemma_equals_the_model_card(gemma: Path):
    r = loaded(gemma, "causal-lm", GEMMA)
    got, card = r.score(QUERIES[1], PASSAGES), bge_gemma_card(gemma, QUERIES[1], PASSAGES)
    assert got == pytest.approx(card, abs=1e-5)
    log.info("causal-lm bge-reranker-gemma parity: max abs diff %.2e", max(abs(a - b) for a, b in zip(got, card)))


def test_mxbai_equals_rerankers_mxbai_v2(qwen2: Path):
    mxbai = pytest.importorskip("rerankers.models.mxbai_v2")
    peer = mxbai.MxBaiV2Ranker(str(qwen2), device="cpu", dtype=torch.float32, batch_size=3, verbose=0)
    if not hasattr(type(peer.tokenizer), "prepare_for_model"):  # transformers 5 dropped it; the same arithmetic
        peer.tokenizer.prepare_for_model = prepare_for_model
    r = loaded(qwen2, "causal-lm", MXBAI)
    got = r.score(QUERIES[2], PASSAGES)
    reference = peer._predict([QUERIES[2]] * len(PASSAGES), PASSAGES).tolist()
    assert got == pytest.approx(reference, abs=1e-5)
    instructed = loaded(qwen2, "causal-lm", CausalLMOptions(prompt="mxbai-rerank-v2", instruction="Find war facts"))
    assert instructed.score(QUERIES[2], PASSAGES) == pytest.approx(peer._predict([QUERIES[2]] * 8, PASSAGES, instruction="Find war facts").tolist(), abs=1e-5)
    log.info("causal-lm mxbai-rerank-v2 parity: max abs diff %.2e", max(abs(a - b) for a, b in zip(got, reference)))


@pytest.mark.parametrize("options", [QWEN, GEMMA], ids=["qwen3", "gemma"])
def test_batch_size_order_and_padding_side_do_not_change_scores(qwen3: Path, gemma: Path, options: CausalLMOptions):
    folder = qwen3 if options is QWEN else gemma
    base = loaded(folder, "causal-lm", options, batch_size=32).score(QUERIES[0], PASSAGES)
    single = loaded(folder, "causal-lm", options, batch_size=1)
    assert single.score(QUERIES[0], PASSAGES) == pytest.approx(base, abs=1e-5)
    r = loaded(folder, "causal-lm", options, batch_size=3)
    assert r.score(QUERIES[0], PASSAGES[::-1])[::-1] == pytest.approx(base, abs=1e-5)
    r.padding_side = "left"
    prepared = r.prepare(QUERIES[0], PASSAGES)
    assert any(t["attention_mask"][:, 0].eq(0).any() for _, t in prepared.tensors)  # really left-padded
    assert r.forward(prepared) == pytest.approx(base, abs=1e-5)


@pytest.mark.parametrize("options", [QWEN, GEMMA, MXBAI], ids=["qwen3", "gemma", "mxbai"])
def test_long_document_keeps_the_closing_turn(qwen3: Path, gemma: Path, qwen2: Path, options: CausalLMOptions):
    folder = {id(QWEN): qwen3, id(GEMMA): gemma, id(MXBAI): qwen2}[id(options)]
    r = loaded(folder, "causal-lm", options, max_length=512)  # the tiny byte-level tokenizer spends ~240 tokens on mxbai's template
    ids = r.encode(QUERIES[0], long_document(2000))
    closing = r.parts[-1]
    assert len(ids) == 512 and ids[-len(closing) :] == closing
    assert r.tokenizer.decode(ids).count(QUERIES[0]) == 1  # the query survives, the document was cut
    if options is QWEN:
        assert r.tokenizer.decode(ids).endswith(QWEN3_ASSISTANT)
    assert len(r.score(QUERIES[0], [long_document(2000)])) == 1


def test_long_query_is_cut_only_past_max_query_tokens(qwen3: Path):
    r = loaded(qwen3, "causal-lm", CausalLMOptions(prompt="qwen3-reranker", max_query_tokens=8), max_length=256)
    long_query = "what " * 50
    ids = r.encode(long_query, "goldfish")
    assert r.tokenizer.decode(ids).count("what") <= 8 and r.tokenizer.decode(ids).rstrip().endswith("</think>")


def test_bf16_ranks_like_fp32(qwen3: Path):
    fp32, bf16 = loaded(qwen3, "causal-lm", QWEN), loaded(qwen3, "causal-lm", QWEN, dtype="bfloat16")
    tau = mean_kendall([fp32.score(q, PASSAGES) for q in QUERIES], [bf16.score(q, PASSAGES) for q in QUERIES])
    log.info("causal-lm bf16 vs fp32 mean Kendall tau %.3f", tau)
    assert tau >= 0.95


def test_bad_options_are_one_line_errors(qwen3: Path):
    with pytest.raises(ModelError, match="unknown prompt 'llama'"):
        loaded(qwen3, "causal-lm", CausalLMOptions(prompt="llama"))
    with pytest.raises(ModelError, match="takes no instruction"):
        loaded(qwen3, "causal-lm", CausalLMOptions(prompt="bge-reranker-gemma", instruction="x"))
    with pytest.raises(ModelError, match="not one token of its vocabulary; set option true_token"):
        loaded(qwen3, "causal-lm", CausalLMOptions(prompt="qwen3-reranker", true_token="absolutely yes"))
