"""The listwise family against rank_llm 0.25.7's own code (tests/rank_llm_ref.py): prompts, windows, repair.

* the preset texts are the YAML templates' (and the Vicuna chat template of vllm_handler.py);
* every prompt equals ``RankListwiseOSLLM.create_prompt``'s (RankGPT: ``SafeOpenai.create_prompt``'s
  messages, token counts taken with the model's tokenizer instead of tiktoken), at full
  context and at contexts small enough that the word budget shrinks;
* answers are repaired as ``receive_permutation`` repairs them;
* the windows are ``sliding_windows``' and ``sliding_windows_batched``'s;
* the whole pipeline: the tiny chat LM ranks three queries through bench (its trace keeps each
  window's prompt and raw answer); rank_llm's own sliding windows are then driven with those
  answers (looked up by prompt, so a prompt that differs fails) on both of its windowing
  paths, the batched one (window k of every query, ``rerank_batch`` of RankListwiseOSLLM) and
  the sequential one (one query's windows in turn, ``sliding_windows``), and the order after
  every window, every prompt and the final order must be bench's.
"""

from __future__ import annotations

import re
import shutil
import types
from pathlib import Path
from typing import Any

import pytest
import rank_llm_ref as R
from helpers_llm import make_chat_lm

from bench.rerankers import ModelSettings, locate
from bench.rerankers.listwise.family import Listwise
from bench.rerankers.listwise.parse import parse
from bench.rerankers.listwise.presets import PRESETS, VICUNA_CHAT_TEMPLATE
from bench.rerankers.window import windows

QUERY = "what is the [2] water tank “size” of goldfish"
TEXTS = [
    "the cat grow in water [3] tank and “the” fish’s food &amp; more",
    "cafÃ© dogs   fish\n\ngoldfish grow fast in a big tank",
    " ".join(["water tank"] * 200),  # 400 words: cut at the word budget
    "wifi bluetooth wireless network radio signal range [12] and [x]",
    "a",
    "history money bank river city car engine fast slow light heavy small big red blue green",
    "who why how what the a of and to in is",
    "goldfish goldfish goldfish [1] [2] [3]",
]


@pytest.fixture(scope="module")
def ref():
    return R.load()


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("listwise-parity")
    lm = make_chat_lm(root / "tiny_chat_lm")
    vicuna = root / "tiny_rank_vicuna_lm"  # rank_llm installs its Vicuna chat template for paths holding "rank_vicuna"
    shutil.copytree(lm, vicuna)
    return {"lm": lm, "vicuna": vicuna}


def folder_for(folders: dict[str, Path], preset: str) -> Path:
    return folders["vicuna" if preset == "rank_vicuna" else "lm"]


def bench_ranker(folder: Path, preset: str, **options: Any) -> Listwise:
    ranker = Listwise(locate(str(folder)), ModelSettings("cpu", "float32", 8, 512), Listwise.Options(preset=preset, **options))
    ranker.load()
    return ranker


def rank_llm_ranker(ref: Any, folder: Path, preset: str, window_size: int = 20, stride: int = 10, context_size: int = 4096) -> Any:
    """rank_llm's own ranker for a preset (RankGPT's token counts with the model's tokenizer: tiktoken has no offline vocabulary)."""
    if preset == "rank_gpt":
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(folder)
        model = ref.gpt.SafeOpenai(model="tiny", context_size=context_size, prompt_template_path=ref.templates / "rank_gpt_template.yaml",
                                   keys="unused", window_size=window_size, stride=stride)
        model.get_num_tokens = lambda messages: len(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                                            return_dict=True)["input_ids"])
        model.num_output_tokens = lambda current_window_size=None: len(tok.encode(
            " > ".join(f"[{i + 1}]" for i in range(current_window_size or window_size)))) - 1
        model.render = lambda messages: tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return model
    template = "rank_zephyr_alpha_template.yaml" if preset == "first" else "rank_zephyr_template.yaml"
    first = preset == "first"
    return ref.os_llm.RankListwiseOSLLM(model=str(folder), context_size=context_size, prompt_template_path=ref.templates / template,
                                        device="cpu", window_size=window_size, stride=stride, use_alpha=first, use_logits=first)


# -- the texts -----------------------------------------------------------------------------------
def test_preset_texts_are_rank_llms_templates(ref):
    import yaml

    def template(name: str) -> dict[str, str]:
        return yaml.safe_load((ref.templates / name).read_text(encoding="utf-8"))

    for name, file in (("rank_zephyr", "rank_zephyr_template.yaml"), ("rank_vicuna", "rank_zephyr_template.yaml"),
                       ("first", "rank_zephyr_alpha_template.yaml")):
        t, p = template(file), PRESETS[name]
        assert (p.system_message, p.prefix, p.body, p.suffix) == (t["system_message"], t["prefix"], t["body"], t["suffix"]), name
        assert p.validation_regex == t["output_validation_regex"][2:-1]  # rank_llm's YAML keeps the r"..." around it
    t, p = template("rank_gpt_template.yaml"), PRESETS["rank_gpt"]
    assert (p.system_message, p.prefix, p.prefix_assistant, p.body, p.body_assistant, p.suffix) == (
        t["system_message"], t["prefix_user"], t["prefix_assistant"], t["body_user"], t["body_assistant"], t["suffix_user"])
    source = (Path(ref.os_llm.__file__).parent.parent / "vllm_handler.py").read_text(encoding="utf-8")
    assert re.search(r'"""(\{% if not add_generation_prompt.*?)"""', source, re.S).group(1) == VICUNA_CHAT_TEMPLATE


# -- prompts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("context_size", [4096, 900, 640])
def test_prompts_equal_rank_llms(ref, folders, preset: str, context_size: int):
    folder = folder_for(folders, preset)
    ours = bench_ranker(folder, preset, window_size=8, stride=4, context_size=context_size)
    theirs = rank_llm_ranker(ref, folder, preset, window_size=8, stride=4, context_size=context_size)
    request = R.result(ref, QUERY, TEXTS)
    shrunk = False
    for start, end in [(0, 8), (2, 8), (0, 3), (7, 8)]:
        n = end - start
        initial = 300 * (8 // n) if preset == "rank_gpt" else int(300 * 20 / n)
        built = ours.prompter.build(QUERY, TEXTS[start:end])
        prompt, tokens = theirs.create_prompt(R.as_result(ref, request), start, end)
        if preset == "rank_gpt":  # RankGPT sends messages; bench renders them with the model's template
            assert built.messages == prompt and built.text == theirs.render(prompt)
        else:
            assert built.text == prompt
        assert built.tokens == tokens
        shrunk |= built.max_words < initial
    assert shrunk == (context_size < 4096), "the small contexts make the word budget shrink"


# -- repair ----------------------------------------------------------------------------------------
ANSWERS = [
    ("[2] > [1] > [3]", 3), ("[2] > [2] > [1]", 3), ("[4] > [1]", 3), ("Sure! [3] > [1] > [2]. Hope it helps.", 3), ("", 3),
    ("I cannot rank these.", 4), ("[1] > [⁴] > ②", 4), ("<think>[3] > [4]</think>[2] > [1]", 4), ("[0] > [1]", 3),
    ("[12] > [3] > [10]", 12), ("[10] > [2] > [10] > [11]", 10), ("⑩ > [1]", 3), ("[3]>[1]>[2]", 3), ("3 1 2", 3),
    ("[B] > [A] > [C]", 3), ("[A] > [A] > [D]", 3), ("Answer: [C] > [B]", 3), ("[D] > [b]", 4), ("[T] > [S] > [A]", 20),
]


@pytest.mark.parametrize("raw,n", ANSWERS)
def test_repair_equals_rank_llms(ref, folders, raw: str, n: int):
    alpha = bool(re.search(r"\[[A-Za-z]\]", raw))
    theirs = rank_llm_ranker(ref, folders["lm"], "first" if alpha else "rank_zephyr")
    texts = [f"passage {i}" for i in range(n)]
    result = theirs.receive_permutation(R.as_result(ref, R.result(ref, "q", texts)), raw, 0, n)
    assert [f"d{i}" for i in parse(raw, n, alpha).permutation] == [c.docid for c in result.candidates]


# -- windows ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("batched", [True, False])
def test_windows_equal_rank_llms_sliding_windows(ref, folders, batched: bool):
    theirs = rank_llm_ranker(ref, folders["lm"], "rank_zephyr")
    for depth, window, stride in [(100, 20, 10), (12, 4, 2), (25, 20, 10), (5, 20, 10), (15, 20, 10), (14, 6, 3), (30, 7, 5), (20, 20, 10)]:
        seen: list[tuple[int, int]] = []
        theirs._window_size, theirs._stride = window, stride

        def record(results, start, end, *args, seen=seen, **kwargs):
            seen.append((start, end))
            return results

        request = R.result(ref, "q", [f"p{i}" for i in range(depth)])
        if batched:
            theirs.permutation_pipeline_batched = record
            theirs.sliding_windows_batched([request], 0, depth, top_k_retrieve=100)
        else:
            theirs.permutation_pipeline = record
            theirs.sliding_windows(request, 0, depth, top_k_retrieve=100)
        assert seen == windows(depth, window, stride), (depth, window, stride)


# -- the whole pipeline --------------------------------------------------------------------------------
DEPTH, WINDOW, STRIDE = 14, 6, 3
PIPELINE_QUERIES = ["what is the water tank", "how fast do goldfish grow [2]", "wireless network range"]


def pipeline_requests() -> list[Any]:
    from helpers import WORDS

    from bench.ranking import Request

    out = []
    for q, query in enumerate(PIPELINE_QUERIES):
        texts = tuple(" ".join(WORDS[(q * 7 + d * 3 + k) % len(WORDS)] for k in range(6)) + f" [{d}]" for d in range(DEPTH))
        out.append(Request(f"q{q}", query, tuple(f"d{d}" for d in range(DEPTH)), texts))
    return out


_BENCH: dict[tuple[str, bool], Any] = {}


def bench_run(folders: dict[str, Path], preset: str, batched: bool) -> list[Any]:
    """bench's rankings of the pipeline queries: all in one batch (window k of the three per call) or one query at a time."""
    if (preset, batched) not in _BENCH:
        ranker = bench_ranker(folder_for(folders, preset), preset, window_size=WINDOW, stride=STRIDE)
        requests = pipeline_requests()
        _BENCH[(preset, batched)] = ranker.rank(requests) if batched else [ranker.rank([r])[0] for r in requests]
    return _BENCH[(preset, batched)]


def orders_after_windows(request: Any, trace: list[dict[str, Any]]) -> list[list[str]]:
    order, out = list(request.doc_ids), []
    for entry in trace:
        start, end = entry["window"]
        order[start:end] = entry["order"]
        out.append(list(order))
    return out


@pytest.mark.parametrize("preset", list(PRESETS))
def test_whole_pipeline_equals_rank_llms_on_both_windowing_paths(ref, folders, preset: str):
    requests = pipeline_requests()
    batched, sequential = bench_run(folders, preset, True), bench_run(folders, preset, False)
    for a, b in zip(batched, sequential, strict=True):  # fp32: the batch does not change any query's windows
        assert a.docs == b.docs and [t["raw"] for t in a.trace] == [t["raw"] for t in b.trace]
    assert len(batched[0].trace) == len(windows(DEPTH, WINDOW, STRIDE)) and all(t["raw"] for r in batched for t in r.trace)
    assert any(t["status"] != "unparsed" for r in batched for t in r.trace), "some answers name passages"
    answers = {t["prompt"]: t for r in batched for t in r.trace}
    theirs = rank_llm_ranker(ref, folder_for(folders, preset), preset, window_size=WINDOW, stride=STRIDE)
    after: dict[str, list[list[str]]] = {}
    receive = theirs.receive_permutation

    def recording(result, permutation, start, end, logging=False):
        result = receive(result, permutation, start, end, logging)
        after.setdefault(result.query.qid, []).append([c.docid for c in result.candidates])
        return result

    theirs.receive_permutation = recording

    def answer(prompt: Any) -> str:
        text = theirs.render(prompt) if preset == "rank_gpt" else prompt
        assert text in answers, "rank_llm built a prompt bench did not"
        entry = answers[text]
        if preset != "first":
            return entry["raw"]
        logits = {i: types.SimpleNamespace(decoded_token=k, logprob=v) for i, (k, v) in enumerate(entry["logprobs"].items())}
        return theirs._evaluate_logits(logits, (1, 9))[0]  # what _get_logits_single_digit does with vLLM's log-probs

    ref_requests = [R.result(ref, r.query, list(r.texts), r.qid) for r in requests]  # candidates d0, d1, ...: bench's doc ids
    paths = {}
    if preset == "rank_gpt":  # SafeOpenai slides one query at a time
        theirs.run_llm = lambda prompt, current_window_size=None: (answer(prompt), 0)
        paths["sequential"] = theirs.rerank_batch(ref_requests, rank_end=100, populate_invocations_history=True)
    else:
        theirs.run_llm_batched = lambda prompts, current_window_size=None: [(answer(p), 0) for p in prompts]
        paths["batched"] = theirs.rerank_batch(ref_requests, rank_end=100, populate_invocations_history=True)
        batched_after, after = after, {}
        paths["sequential"] = [theirs.sliding_windows(r, 0, DEPTH, 100, populate_invocations_history=True) for r in ref_requests]
        assert after == batched_after
    for path, results in paths.items():
        for ours, result, request in zip(batched, results, requests, strict=True):
            assert [c.docid for c in result.candidates] == ours.docs, (path, ours.qid)
            prompts = [theirs.render(inv.prompt) if preset == "rank_gpt" else inv.prompt for inv in result.invocations_history]
            assert prompts == [t["prompt"] for t in ours.trace], path
            assert after[ours.qid] == orders_after_windows(request, ours.trace), path


def test_the_tiny_model_moves_passages(folders):
    """The pipeline tests above compare real permutations, not input orders kept (a random model's answers, repaired)."""
    requests = pipeline_requests()
    moved = [p for p in PRESETS if any(r.docs != list(q.doc_ids) for r, q in zip(bench_run(folders, p, True), requests))]
    assert len(moved) >= 2, moved
