"""The listwise family end to end on the tiny chat LM (tests/helpers_llm.py), without rank_llm.

Goldens are written out from rank_llm 0.25.7's templates (``rank_zephyr_template.yaml``,
``rank_zephyr_alpha_template.yaml``; tests/test_listwise_parity.py checks the same against
rank_llm's code). Hand-built answers give the repaired order and the counts; the CLI runs
the four presets on the local engine and on Ray, writes each window's raw answer to the
trace and the malformed rate and tokens to the record; the key holds the decoding and the
preset, and sampling is refused unless allowed.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from helpers_llm import make_chat_lm
from test_resume import make_big_collection

from bench.cli import main
from bench.errors import ConfigError
from bench.rerankers import ModelSettings, locate
from bench.rerankers.listwise.family import Listwise
from bench.rerankers.listwise.parse import MALFORMED, OK, UNPARSED, parse
from bench.rerankers.listwise.presets import PRESETS
from bench.rerankers.listwise.prompt import messages

QUERIES, DEPTH, TOP_K = 4, 12, 10


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_chat_lm(tmp_path_factory.mktemp("listwise-lm") / "tiny_chat_lm")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("listwise-data")
    make_big_collection(root / "big", queries=QUERIES, docs_per_query=DEPTH, words=8)
    return root


# -- goldens ----------------------------------------------------------------------------------------
def test_golden_messages_rank_zephyr_and_first():
    texts = ["the cat [4] sat", "  a dog  "]
    zephyr = messages(PRESETS["rank_zephyr"], "what [1] cat", texts, 300)
    assert zephyr == [
        {"role": "system", "content": "You are RankLLM, an intelligent assistant that can rank passages based on their relevancy to the query"},
        {"role": "user", "content": (
            "I will provide you with 2 passages, each indicated by a numerical identifier []. Rank the passages based on their relevance "
            "to the search query: what (1) cat.\n[1] the cat (4) sat\n[2] a dog\nSearch Query: what (1) cat.\nRank the 2 passages above "
            "based on their relevance to the search query. All the passages should be included and listed using identifiers, in "
            "descending order of relevance. The output format should be [] > [], e.g., [2] > [1], Answer concisely and directly and only "
            "respond with the ranking results, do not say any word or explain.")},
    ]
    first = messages(PRESETS["first"], "q", texts, 2)
    assert first[1]["content"].startswith("I will provide you with 2 passages, each indicated by an alphabetical identifier []. Rank the "
                                          "passages based on their relevance to the search query: q.\n[A] the cat\n[B] a dog\nSearch Query: q.")
    assert first[1]["content"].endswith("e.g., [B] > [A], Answer concisely and directly and only respond with the ranking results, "
                                        "do not say any word or explain.")
    gpt = messages(PRESETS["rank_gpt"], "q", texts, 300)
    assert [m["role"] for m in gpt] == ["system", "user", "assistant", "user", "assistant", "user", "assistant", "user"]
    assert gpt[3:5] == [{"role": "user", "content": "[1] the cat (4) sat"}, {"role": "assistant", "content": "Received passage [1]."}]


# -- repair -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw,n,order,status,counts", [
    ("[2] > [3] > [1]", 3, [1, 2, 0], OK, (0, 0, 0)),
    ("[2] > [2] > [1]", 3, [1, 0, 2], MALFORMED, (1, 1, 0)),  # a duplicate keeps its first copy; 3 is missing, appended
    ("Here is the ranking: [3] > [1] > [2]. Hope it helps!", 3, [2, 0, 1], MALFORMED, (0, 0, 0)),  # text around a whole ranking
    ("[4] > [2] > [7] > [2]", 4, [3, 1, 0, 2], MALFORMED, (2, 1, 1)),  # 7 out of range, 2 twice, 1 and 3 missing
    ("[3] > [1]", 4, [2, 0, 1, 3], MALFORMED, (2, 0, 0)),  # cut short: the rest in input order
    ("I cannot rank these passages.", 3, [0, 1, 2], UNPARSED, (3, 0, 0)),
    ("<think>[1] first?</think>\n[2] > [1]", 2, [1, 0], OK, (0, 0, 0)),
])
def test_hand_built_answers_give_the_repaired_order_and_counts(raw, n, order, status, counts):
    parsed = parse(raw, n, regex=PRESETS["rank_zephyr"].validation_regex)
    assert parsed.permutation == order and parsed.status == status
    assert (parsed.missing, parsed.duplicate, parsed.out_of_range) == counts
    assert parsed.malformed == (status != OK)


def test_letters_are_read_as_their_position():
    parsed = parse("[C] > [A] > [C]", 3, alpha=True, regex=PRESETS["first"].validation_regex)
    assert parsed.permutation == [2, 0, 1] and parsed.duplicate == 1 and parsed.missing == 1


# -- options, key, preset by hub id ---------------------------------------------------------------------
def test_preset_from_hub_id_and_checks():
    from bench.models.locate import LocatedModel

    zephyr = LocatedModel("castorini/rank_zephyr_7b_v1_full", Path("/nonexistent"), "hub", None)
    assert Listwise.resolve(Listwise.Options(), zephyr).preset == "rank_zephyr" and Listwise.recognises(zephyr) == 20
    first = LocatedModel("castorini/first_mistral", Path("/nonexistent"), "hub", None)
    assert Listwise.resolve(Listwise.Options(), first).preset == "first"
    other = LocatedModel("some/llm", Path("/nonexistent"), "hub", None)
    assert Listwise.recognises(other) == 0
    with pytest.raises(ConfigError, match="preset"):
        Listwise.resolve(Listwise.Options(), other)
    with pytest.raises(ConfigError, match="allow_sampling"):
        Listwise.resolve(Listwise.Options(preset="rank_zephyr", temperature=0.7), other)
    with pytest.raises(ConfigError, match="unknown listwise preset"):
        Listwise.resolve(Listwise.Options(preset="rank_llama"), other)
    key = Listwise.key_options(Listwise.Options(preset="rank_zephyr"))
    assert key["decoding"] == "greedy" and key["preset"] == "rank_zephyr" and key["template"]["rank_llm"] == "0.25.7"
    assert Listwise.key_options(Listwise.Options(preset="rank_vicuna"))["template"] != key["template"]
    sampled = Listwise.key_options(Listwise.Options(preset="rank_zephyr", temperature=0.7, allow_sampling=True))
    assert sampled["decoding"] == {"temperature": 0.7, "top_p": 1.0, "seed": 0}


def test_context_too_small_is_one_clear_error(lm: Path):
    from bench.errors import ModelError

    ranker = Listwise(locate(str(lm)), ModelSettings("cpu", "float32", 8, 512), Listwise.Options(preset="rank_zephyr", context_size=64))
    ranker.load()
    with pytest.raises(ModelError, match="context_size 64"):
        ranker.prompter.build("q", ["a b c"] * 20)


# -- the CLI, local and Ray -------------------------------------------------------------------------------
def _args(data: Path, lm: Path, out: Path, presets: list[str], *extra: str) -> list[str]:
    args = ["-q", "run", "big", "--data-dir", str(data), "--first-stage", "candidates", "--top-k", str(TOP_K), "--output", str(out),
            "--dtype", "float32"]
    for preset in presets:
        args += ["--model", str(lm), "--kind", "listwise", "--option", f"preset={preset}", "--option", "window_size=4",
                 "--option", "stride=2", "--option", "max_words=6"]
    return [*args, *extra]


def _record(out: Path) -> dict[str, Any]:
    return json.loads((out / "reports" / "big" / "results.json").read_text(encoding="utf-8"))


def _traces(system: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    path = Path(system["run_file"]).with_name(Path(system["run_file"]).stem + ".trace.jsonl.gz")
    return {line["qid"]: line["calls"] for line in map(json.loads, gzip.decompress(path.read_bytes()).decode().splitlines())}


def test_four_presets_end_to_end_with_traces_and_cost(lm: Path, data: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert main(_args(data, lm, out, list(PRESETS), "--queries-per-batch", "2")) == 0, capsys.readouterr().err
    record = _record(out)
    systems = {s["info"]["preset"]: s for s in record["systems"][1:]}
    assert sorted(systems) == sorted(PRESETS)
    for preset, system in systems.items():
        cost = system["cost"]
        assert cost["per_query"]["calls"] == cost["per_query"]["windows"] == 4  # windows (6,10) (4,8) (2,6) (0,4)
        assert cost["per_query"]["input_tokens"] > 0 and "malformed_rate" in cost
        traces = _traces(system)
        assert sorted(traces) == sorted(str(q) for q in range(1, QUERIES + 1))
        for calls in traces.values():
            assert [c["window"] for c in calls] == [[6, 10], [4, 8], [2, 6], [0, 4]]
            assert all(c["raw"] and c["prompt"] and c["status"] in (OK, MALFORMED, UNPARSED) for c in calls)
            assert all({"missing", "duplicate", "out_of_range", "well_formed"} <= set(c) for c in calls)
            assert all(c["batch"] == 2 for c in calls)  # window k of two queries in one call
        malformed = sum(c["status"] != OK for calls in traces.values() for c in calls)
        assert cost["total"].get("malformed", 0) == malformed
        if preset == "first":
            assert malformed == 0 and cost["total"].get("output_tokens", 0) == 0
            assert all(len(c["logprobs"]) == 4 for calls in traces.values() for c in calls)
        else:
            assert cost["total"]["output_tokens"] > 0
        key = json.loads(Path(system["run_file"]).with_suffix(".meta.json").read_text())["key"]
        assert key["options"]["decoding"] == "greedy" and key["options"]["preset"] == preset
    report = (out / "reports" / "big" / "report.md").read_text(encoding="utf-8")
    assert "calls/q" in report and "malformed" in report
    # the explorer's drill-down shows each query's windows, per listwise system, from the trace
    from bench.report.explorer_data import build

    explorer = build(record, out / "reports" / "big" / "results.json")
    for i, system in enumerate(record["systems"]):
        windows = explorer["drill"]["1"]["windows"][i]
        if i == 0:
            assert windows is None  # the first stage has no trace
            continue
        calls = _traces(system)["1"]
        assert [w["window"] for w in windows] == [c["window"] for c in calls] and [w["status"] for w in windows] == [c["status"] for c in calls]
        assert all(w["raw"] == c["raw"][:160] or w["raw"].endswith("…") for w, c in zip(windows, calls))
    assert "ex-win" in (out / "reports" / "big" / "report.html").read_text(encoding="utf-8")  # the page's script draws them


def test_sampling_is_refused_on_the_command_line(lm: Path, data: Path, tmp_path: Path, capsys):
    code = main(_args(data, lm, tmp_path / "o", ["rank_zephyr"], "--option", "temperature=0.7"))
    assert code == 2 and "allow_sampling" in capsys.readouterr().err
    assert not (tmp_path / "o" / "reports").exists()


@pytest.mark.slow  # two Ray workers loading the model: about a minute and a half on 2 cores (nox -s slow)
def test_listwise_on_ray_gives_the_local_bytes(lm: Path, data: Path, tmp_path: Path, capsys):
    pytest.importorskip("ray")
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(_args(data, lm, local, ["rank_zephyr"], "--queries-per-batch", "2")) == 0, capsys.readouterr().err
    assert main(_args(data, lm, remote, ["rank_zephyr"], "--queries-per-batch", "2", "--workers", "2")) == 0, capsys.readouterr().err
    ours, theirs = _record(local)["systems"][1], _record(remote)["systems"][1]
    assert theirs["latency"]["engine"] == "ray" and theirs["latency"]["workers"] == 2
    assert Path(theirs["run_file"]).read_bytes() == Path(ours["run_file"]).read_bytes()
    assert _traces(theirs) == _traces(ours)


def test_batching_in_fp32_and_bf16(lm: Path, record_property):
    """bf16: how much window k of several queries in one call moves a query's order, as Kendall's tau (fp32: none,
    tests/test_listwise_parity.py compares batched and one-query runs window by window)."""
    from scipy.stats import kendalltau

    from bench.ranking import Request

    requests = [Request(f"q{q}", "what is the water tank", tuple(f"d{d}" for d in range(10)),
                        tuple(f"goldfish {'fish tank ' * (d % 4)}water {d} [{d}] grow" for d in range(10))) for q in range(2)]
    requests = [Request(r.qid, r.query + " " * i, r.doc_ids, r.texts[i:] + r.texts[:i]) for i, r in enumerate(requests)]

    def ranked(dtype: str, batched: bool) -> list[list[str]]:
        ranker = Listwise(locate(str(lm)), ModelSettings("cpu", dtype, 8, 512), Listwise.Options(preset="rank_zephyr", window_size=4, stride=2))
        ranker.load()
        return [r.docs for r in ranker.rank(requests)] if batched else [ranker.rank([q])[0].docs for q in requests]

    fp32, bf16, bf16_alone = ranked("float32", True), ranked("bfloat16", True), ranked("bfloat16", False)

    def tau(a: list[list[str]], b: list[list[str]]) -> float:
        return sum(kendalltau([x.index(d) for d in x], [y.index(d) for d in x]).statistic for x, y in zip(a, b)) / len(a)

    batch_tau, dtype_tau = tau(bf16, bf16_alone), tau(bf16, fp32)
    record_property("kendall_tau_bf16_batched_vs_unbatched", batch_tau)
    record_property("kendall_tau_bf16_vs_fp32", dtype_tau)
    print(f"bf16: Kendall tau batched vs unbatched {batch_tau:.4f}, bf16 vs fp32 {dtype_tau:.4f}")
    assert -1.0 <= batch_tau <= 1.0 and -1.0 <= dtype_tau <= 1.0
    assert all(sorted(o) == sorted(r.doc_ids) for o, r in zip(bf16, requests))
