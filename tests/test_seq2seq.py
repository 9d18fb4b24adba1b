"""seq2seq (monoT5): parity with rerankers' T5Ranker and the model card's formula, invariance, truncation, dtypes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from helpers_families import PASSAGES, QUERIES, loaded, long_document, make_t5, mean_kendall, settings, t5_tokenizer

from bench.errors import ModelError
from bench.rerankers import create, detect, locate
from bench.rerankers.seq2seq import Seq2SeqOptions

log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def t5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_t5(tmp_path_factory.mktemp("models") / "tiny-t5")


def card_scores(folder: Path, query: str, passages: list[str], true: str = "▁true", false: str = "▁false") -> list[float]:
    """monoT5's formula from raw logits, one pair at a time (no padding): log_softmax([false, true])[true]."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    t, f = tok.convert_tokens_to_ids(true), tok.convert_tokens_to_ids(false)
    out = []
    with torch.inference_mode():
        for p in passages:
            enc = tok(f"Query: {query} Document: {p} Relevant:", return_tensors="pt")
            start = torch.full((1, 1), model.config.decoder_start_token_id)
            logits = model(**enc, decoder_input_ids=start).logits[0, 0]
            out.append(float(torch.log_softmax(torch.stack([logits[f], logits[t]]), 0)[1]))
    return out


def test_detected_from_the_architecture(t5: Path):
    assert detect(locate(str(t5))) == "seq2seq"


def test_equals_rerankers_t5ranker_and_the_card_formula(t5: Path):
    rerankers = pytest.importorskip("rerankers.models.t5ranker")
    r = loaded(t5, "seq2seq")
    peer = rerankers.T5Ranker(str(t5), batch_size=3, dtype=torch.float32, device="cpu", verbose=0)
    worst = 0.0
    for query in QUERIES:
        got = r.score(query, PASSAGES)
        reference = peer._get_scores(query, PASSAGES)  # P(true), batched with padding
        card = card_scores(t5, query, PASSAGES)
        assert [float(torch.tensor(g).exp()) for g in got] == pytest.approx(reference, abs=1e-5)
        assert got == pytest.approx(card, abs=1e-5)
        worst = max(worst, max(abs(a - b) for a, b in zip(got, card)))
    log.info("seq2seq parity: max abs diff %.2e", worst)


def test_batch_size_order_and_padding_do_not_change_scores(t5: Path):
    base = loaded(t5, "seq2seq", batch_size=32).score(QUERIES[0], PASSAGES)
    for batch_size in (1, 3):
        assert loaded(t5, "seq2seq", batch_size=batch_size).score(QUERIES[0], PASSAGES) == pytest.approx(base, abs=1e-5)
    reversed_scores = loaded(t5, "seq2seq", batch_size=3).score(QUERIES[0], PASSAGES[::-1])
    assert reversed_scores[::-1] == pytest.approx(base, abs=1e-5)


def test_long_document_keeps_relevant_and_eos(t5: Path):
    r = loaded(t5, "seq2seq", max_length=128)
    ids = r.encode(QUERIES[0], [long_document(2000)])[0]["input_ids"]
    tail = r.tokenizer("Relevant:")["input_ids"]  # "Relevant:" then </s>
    assert len(ids) == 128 and ids[-len(tail) :] == tail and tail[-1] == r.tokenizer.eos_token_id
    head = r.tokenizer(f"Query: {QUERIES[0]} Document:", add_special_tokens=False)["input_ids"]
    assert ids[: len(head)] == head
    # a plain cut at max_length (what T5Ranker does) loses them
    plain = r.tokenizer(f"Query: {QUERIES[0]} Document: {long_document(2000)} Relevant:", truncation=True, max_length=128)["input_ids"]
    assert plain[-len(tail) :] != tail


def test_bf16_ranks_like_fp32(t5: Path):
    fp32, bf16 = loaded(t5, "seq2seq"), loaded(t5, "seq2seq", dtype="bfloat16")
    tau = mean_kendall([fp32.score(q, PASSAGES) for q in QUERIES], [bf16.score(q, PASSAGES) for q in QUERIES])
    log.info("seq2seq bf16 vs fp32 mean Kendall tau %.3f", tau)
    assert tau >= 0.95


def test_fp16_refused_unless_forced(t5: Path):
    with pytest.raises(ModelError, match="overflow in float16.*allow_fp16"):
        loaded(t5, "seq2seq", dtype="float16")
    assert loaded(t5, "seq2seq", options=Seq2SeqOptions(allow_fp16=True), dtype="float16").model.dtype == torch.float16


def test_token_pair_is_an_option_and_mt5_defaults_to_yes_no(t5: Path, tmp_path: Path):
    swapped = loaded(t5, "seq2seq", options=Seq2SeqOptions(true_token="▁yes", false_token="▁no"))
    assert swapped.score(QUERIES[0], PASSAGES) == pytest.approx(card_scores(t5, QUERIES[0], PASSAGES, "▁yes", "▁no"), abs=1e-5)
    mt5 = make_t5(tmp_path / "mt5", tokenizer=t5_tokenizer(), model_type="mt5")
    r = loaded(mt5, "seq2seq")
    assert (r.describe()["true_token"], r.describe()["false_token"]) == ("▁yes", "▁no")
    with pytest.raises(ModelError, match="answer token 'maybe' is not in its vocabulary; set option true_token"):
        loaded(t5, "seq2seq", options=Seq2SeqOptions(true_token="maybe"))


def test_options_reach_the_run_description(t5: Path):
    r = create(locate(str(t5)), settings(), kind="seq2seq", options=Seq2SeqOptions(true_token="▁yes"))
    assert r.describe()["options"]["true_token"] == "▁yes"
