"""The ``hf`` generation backend on a tiny chat LM built here (tests/helpers_llm.py).

The references are transformers itself, called without any batching: ``generate`` on one
unpadded prompt, and one forward pass's last-position logits. The backend's left-padded
batches must give the same tokens (fp32) and the same log-probabilities; sampling is
refused unless allowed; pickled weights and model code are refused before transformers runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_llm import LETTERS, RANKING, make_chat_lm

from bench.backends import BACKENDS
from bench.backends.base import Decoding, Prompt
from bench.errors import ConfigError, ModelError
from bench.rerankers import ModelSettings, locate

PROMPTS = [
    [{"role": "user", "content": "rank [1] the cat [2] a dog"}],
    [{"role": "system", "content": "You are RankLLM"}, {"role": "user", "content": "what is the water tank [1] fish [2] goldfish grow [3] river"}],
    [{"role": "user", "content": "[1]"}],
    [{"role": "user", "content": "how why who " * 12}],
    [{"role": "user", "content": "Rank the passages [4] > [2] > [1]"}, {"role": "assistant", "content": "[1] > [2]"},
     {"role": "user", "content": "again"}],
]


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_chat_lm(tmp_path_factory.mktemp("chat-lm") / "lm")


def backend(folder: Path, batch_size: int = 8, dtype: str = "float32", **settings):
    cls = BACKENDS.get("hf")
    b = cls(locate(str(folder)), ModelSettings("cpu", dtype, batch_size, 512, **settings), None)
    b.load()
    return b


def test_tokenizer_has_the_ranking_tokens_and_a_chat_template(lm: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(lm)
    for token in RANKING:
        assert len(tok(token, add_special_tokens=False)["input_ids"]) == 1
    ids = tok("[12] > [3]", add_special_tokens=False)["input_ids"]
    assert ids == [tok.convert_tokens_to_ids(t) for t in ["[", "12", "]", " ", ">", " ", "[", "3", "]"]] and tok.decode(ids) == "[12] > [3]"
    assert backend(lm).render(Prompt.chat(PROMPTS[0])) == "<|user|>\nrank [1] the cat [2] a dog</s>\n<|assistant|>\n"


def test_batched_generation_equals_unbatched_transformers(lm: Path):
    import torch

    b = backend(lm, batch_size=3)
    prompts = [Prompt.chat(m) for m in PROMPTS]
    decoding = Decoding(max_new_tokens=24)
    batched = b.complete(prompts, decoding)
    one = backend(lm, batch_size=1).complete(prompts, decoding)
    assert [c.text for c in batched] == [c.text for c in one]
    assert [(c.prompt_tokens, c.output_tokens, c.finish_reason) for c in batched] == [(c.prompt_tokens, c.output_tokens, c.finish_reason) for c in one]
    # the reference: transformers' generate on each prompt alone, no padding at all
    for prompt, completion in zip(prompts, batched, strict=True):
        ids = b.tokenizer.apply_chat_template(prompt.as_messages(), add_generation_prompt=True, return_dict=True, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            out = b.lm.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=24, do_sample=False, pad_token_id=b.pad_id)
        new = out[0, ids.shape[1]:].tolist()
        if b.tokenizer.eos_token_id in new:
            new = new[: new.index(b.tokenizer.eos_token_id) + 1]
        assert completion.prompt_tokens == ids.shape[1] and completion.output_tokens == len(new)
        assert completion.text == b.tokenizer.decode(new, skip_special_tokens=True)
        assert completion.finish_reason == ("stop" if new[-1] == b.tokenizer.eos_token_id else "length")
    assert any(">" in c.text or "[" in c.text for c in batched), "the ranking-biased head writes ranking tokens"


def test_next_token_logprobs_are_the_last_position_log_softmax(lm: Path):
    import torch

    b = backend(lm, batch_size=2)
    prompts = [Prompt.chat(m) for m in PROMPTS]
    got = b.next_token_logprobs(prompts, LETTERS)
    alone = backend(lm, batch_size=1).next_token_logprobs(prompts, LETTERS)
    for prompt, row, single in zip(prompts, got, alone, strict=True):
        ids = b.tokenizer.apply_chat_template(prompt.as_messages(), add_generation_prompt=True, return_dict=True, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            ref = torch.log_softmax(b.lm(ids).logits[0, -1].float(), dim=-1)
        for letter in LETTERS:
            assert row[letter] == pytest.approx(float(ref[b.tokenizer.convert_tokens_to_ids(letter)]), abs=1e-4)
            assert row[letter] == pytest.approx(single[letter], abs=1e-4)  # fp32 rounding differs with the batch shape
    with pytest.raises(ConfigError, match="share their first token"):
        b.next_token_logprobs(prompts[:1], ["A", "A"])


def test_token_counts_context_and_describe(lm: Path):
    b = backend(lm)
    assert b.count_tokens("[1] > [2]") == 9 and b.context_length() == 4096
    info = b.describe()
    assert info["backend"] == "hf" and info["dtype"] == "float32" and info["parameters"] > 0


def test_bf16_weights_when_asked(lm: Path):
    import torch

    b = backend(lm, dtype="bfloat16")
    assert next(b.lm.parameters()).dtype == torch.bfloat16
    assert len(b.complete([Prompt.chat(PROMPTS[0])], Decoding(max_new_tokens=4))) == 1


def test_stop_strings_and_length(lm: Path):
    b = backend(lm)
    free = b.complete([Prompt.chat(PROMPTS[1])], Decoding(max_new_tokens=3))[0]
    assert free.output_tokens <= 3
    if free.output_tokens == 3:
        assert free.finish_reason == "length"
    longer = b.complete([Prompt.chat(PROMPTS[1])], Decoding(max_new_tokens=30))[0]
    words = longer.text.split()
    if len(words) > 2:
        stop = words[1]
        cut = b.complete([Prompt.chat(PROMPTS[1])], Decoding(max_new_tokens=30, stop=(stop,)))[0]
        assert stop not in cut.text and cut.finish_reason == "stop" and cut.output_tokens <= longer.output_tokens


def test_sampling_is_refused_unless_allowed(lm: Path):
    with pytest.raises(ConfigError, match="allow_sampling"):
        Decoding(temperature=1.0)
    b = backend(lm)
    sampled = Decoding(max_new_tokens=8, temperature=1.0, allow_sampling=True, seed=3)
    assert b.complete([Prompt.chat(PROMPTS[0])], sampled)[0].text == b.complete([Prompt.chat(PROMPTS[0])], sampled)[0].text  # seeded


def test_pickled_weights_and_remote_code_are_refused(lm: Path, tmp_path: Path):
    import shutil

    import torch
    from safetensors.torch import load_file

    pickled = tmp_path / "pickled"
    shutil.copytree(lm, pickled)
    torch.save(load_file(pickled / "model.safetensors"), pickled / "pytorch_model.bin")  # transformers 5 writes only safetensors
    (pickled / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="allow-pickle"):
        backend(pickled)
    assert backend(pickled, allow_pickle=True).lm is not None
    code = tmp_path / "code"
    make_chat_lm(code)
    config = json.loads((code / "config.json").read_text())
    config.update(model_type="tiny_custom_lm", auto_map={"AutoConfig": "modeling_x.XConfig", "AutoModelForCausalLM": "modeling_x.X"})
    (code / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="trust-remote-code"):
        backend(code)


def test_no_chat_template_is_one_clear_error(lm: Path, tmp_path: Path):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(lm, bare)
    for name in ("tokenizer_config.json",):
        config = json.loads((bare / name).read_text())
        config.pop("chat_template", None)
        (bare / name).write_text(json.dumps(config))
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    b = backend(bare)
    with pytest.raises(ModelError, match="no chat template"):
        b.render(Prompt.chat(PROMPTS[0]))
    assert b.render(Prompt(text="raw [1]")) == "raw [1]"
