"""Bad input and a hostile environment: one clear line, a non-zero exit, no traceback, no half-written file.

Each test here backs a row of docs/robustness.md. Most go through ``bench.cli.main`` (the
console entry point) in this process; a few run ``python -m bench`` as a real process to
check the whole of stderr.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import make_collection, make_plain_bert

from bench import store
from bench.cli import main
from bench.errors import BenchError, ConfigError, ModelError
from bench.rerankers import ModelSettings, create, locate
from bench.trec import read_run, write_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def coll(tmp_path: Path) -> Path:
    return make_collection(tmp_path / "data" / "tiny")


def _run_args(coll: Path, *extra: str) -> list[str]:
    return ["run", "tiny", "--data-dir", str(coll.parent), "--output", str(coll.parents[1] / "out"), *extra]


def _leftovers(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if ".tmp-" in p.name] if folder.exists() else []


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str, out: Path | None = None) -> str:
    """Run the CLI; it must exit 2 with exactly one line on stderr containing ``expected``, and leave no partial output."""
    code = main(argv)
    _, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("bench: error: "), err
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err
    if out is not None:
        assert not list(out.rglob("results.json")), "no results record from a failed run"
        assert _leftovers(out) == []
        for run_file in out.rglob("*.trec"):
            read_run(run_file)  # whatever was written is complete
    return lines[0]


# -- collections and TREC files ----------------------------------------------------------


def test_unknown_collection_suggests_close_names(tmp_path, capsys):
    expected = "unknown collection 'trec-dl-2091'; did you mean trec-dl-2021, trec-dl-2019"
    _fails(capsys, ["run", "trec-dl-2091", "--output", str(tmp_path)], expected, tmp_path)


@pytest.mark.parametrize(
    "line,message",
    [
        ("1 0 d2", "qrels.txt:2: expected 4 columns 'qid iter docid label', got 3"),
        ("1 0 d2 yes", "qrels.txt:2: relevance label 'yes' is not an integer"),
    ],
)
def test_malformed_qrels_line_names_file_and_line(coll, capsys, line, message):
    (coll / "qrels.txt").write_text(f"1 0 d1 1\n{line}\n", encoding="utf-8")
    _fails(capsys, _run_args(coll), message, coll.parents[1] / "out")
    code = main(["evaluate", "--qrels", str(coll / "qrels.txt"), str(coll / "run.bm25.trec")])
    assert code == 2 and message in capsys.readouterr().err


BAD_RUN_LINES = [
    ("1 Q0 d8 9 0.5 test", "run.bm25.trec:2: doc 'd8' appears twice for query '1'"),
    ("1 Q0 d2 2 high test", "run.bm25.trec:2: score 'high' is not a number"),
    ("1 Q0 d2 2 inf test", "run.bm25.trec:2: score 'inf' is not finite"),
    ("1 Q0 d2 2 0.5", "run.bm25.trec:2: expected 6 columns 'qid Q0 docid rank score tag', got 5"),
]


@pytest.mark.parametrize("line,message", BAD_RUN_LINES, ids=["duplicate-doc", "non-numeric", "infinite", "columns"])
def test_bad_run_file_names_file_and_line(coll, capsys, line, message):
    (coll / "run.bm25.trec").write_text(f"1 Q0 d8 1 9.0 test\n{line}\n", encoding="utf-8")
    _fails(capsys, _run_args(coll), message, coll.parents[1] / "out")  # as the collection's candidates
    _fails(capsys, ["evaluate", "--qrels", str(coll / "qrels.txt"), str(coll / "run.bm25.trec")], message)


def test_disjoint_qrels_and_queries(coll, capsys):
    (coll / "qrels.txt").write_text("77 0 d1 1\n78 0 d2 1\n", encoding="utf-8")
    _fails(capsys, _run_args(coll), "collection 'tiny': no query id in the queries is judged in the qrels", coll.parents[1] / "out")


def test_empty_query_text(coll, capsys):
    (coll / "queries.tsv").write_text("1\tdo goldfish grow\n2\t   \n3\twhy\n", encoding="utf-8")
    _fails(capsys, _run_args(coll), "collection 'tiny': query '2' has empty text; fix or remove it", coll.parents[1] / "out")


@pytest.mark.parametrize("corpus_line", [None, {"doc_id": "d8", "text": "   "}], ids=["missing", "blank"])
def test_candidate_document_without_text(coll, tiny_cross_encoder, capsys, corpus_line):
    lines = [line for line in (coll / "corpus.jsonl").read_text().splitlines() if '"d8"' not in line]
    if corpus_line:
        lines.append(json.dumps(corpus_line))
    (coll / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = coll.parents[1] / "out"
    argv = _run_args(coll, "--model", str(tiny_cross_encoder), "--top-k", "3")
    _fails(capsys, argv, "candidate document 'd8' for query '1' has no text", out)
    assert not list(out.rglob("tiny-ce-*.trec")), "no reranked run"


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("queries.tsv", b"1\tdo goldfish grow\n2\twhat is wi\xfffi\n", "queries.tsv:2: not valid UTF-8 (byte 0xff)"),
        ("qrels.txt", b"1 0 d1 3\n1 0 d\xe92 1\n", "qrels.txt:2: not valid UTF-8 (byte 0xe9)"),
        ("corpus.jsonl", b'{"doc_id": "d8", "text": "ok"}\n{"doc_id": "d1", "text": "gold\xc3fish"}\n',
         "corpus.jsonl:2: not valid UTF-8 (byte 0xc3)"),
        ("run.bm25.trec", b"1 Q0 d8 1 9.0 t\n1 Q0 d\xff 2 8.0 t\n", "run.bm25.trec:2: not valid UTF-8 (byte 0xff)"),
    ],
)
def test_non_utf8_bytes_name_file_and_line(coll, tiny_cross_encoder, capsys, name, content, message):
    (coll / name).write_bytes(content)
    _fails(capsys, _run_args(coll, "--model", str(tiny_cross_encoder), "--top-k", "1"), message, coll.parents[1] / "out")


# -- models -------------------------------------------------------------------------------


def test_missing_model_folder(coll, capsys):
    missing = coll.parents[1] / "models" / "no-such-model"
    _fails(capsys, _run_args(coll, "--model", str(missing)), f"model folder '{missing}' does not exist", coll.parents[1] / "out")
    assert not (coll.parents[1] / "out").exists(), "checked before the first stage runs"


def test_unknown_model_id_offline(coll, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    expected = "model 'no-such-org/no-such-reranker': not a local folder and could not be fetched"
    line = _fails(capsys, _run_args(coll, "--model", "no-such-org/no-such-reranker"), expected)
    assert "--model PATH" in line


def test_model_without_classification_head(coll, tmp_path, capsys):
    plain = make_plain_bert(tmp_path / "plain-bert")
    expected = "has no sequence-classification head (architectures: ['BertModel'])"
    _fails(capsys, _run_args(coll, "--model", str(plain), "--top-k", "2"), expected, coll.parents[1] / "out")


def test_pickled_weights_refused_from_the_command_line(coll, tiny_cross_encoder, tmp_path, capsys):
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_cross_encoder, folder)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    _fails(capsys, _run_args(coll, "--model", str(folder), "--top-k", "2"), "has only pickled weights (.bin)", coll.parents[1] / "out")
    assert main(_run_args(coll, "--model", str(folder), "--top-k", "2", "--allow-pickle")) == 0


def _custom_code_model(src: Path, folder: Path) -> Path:
    """A cross-encoder whose config.json maps to Python code shipped in the folder (auto_map)."""
    shutil.copytree(src, folder)
    (folder / "modeling_custom.py").write_text(
        "from transformers import BertConfig, BertForSequenceClassification\n\n\n"
        "class CustomConfig(BertConfig):\n    model_type = 'custom-bert'\n\n\n"
        "class CustomForSequenceClassification(BertForSequenceClassification):\n    config_class = CustomConfig\n",
        encoding="utf-8",
    )
    config = json.loads((folder / "config.json").read_text())
    config.update(
        model_type="custom-bert",
        architectures=["CustomForSequenceClassification"],
        auto_map={
            "AutoConfig": "modeling_custom.CustomConfig",
            "AutoModelForSequenceClassification": "modeling_custom.CustomForSequenceClassification",
        },
    )
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_model_with_custom_code_needs_trust_remote_code(coll, tiny_cross_encoder, tmp_path, capsys, monkeypatch):
    folder = _custom_code_model(tiny_cross_encoder, tmp_path / "custom")
    _fails(capsys, _run_args(coll, "--model", str(folder), "--top-k", "2"),
           "needs its own code (modeling_custom.py), which runs when loaded; pass --trust-remote-code", coll.parents[1] / "out")
    # transformers itself refuses too when asked without the flag (our check only words it better)
    from bench.rerankers.cross_encoder import CrossEncoder

    reranker = CrossEncoder(locate(str(folder)), ModelSettings("cpu", "float32", 8, 64))
    monkeypatch.setattr("bench.models.hf.check_code", lambda *a: None)
    with pytest.raises(ModelError, match="needs custom code; pass --trust-remote-code"):
        reranker.load()


@pytest.mark.slow
def test_trust_remote_code_flag_loads_the_custom_model(coll, tiny_cross_encoder, tmp_path):
    """In a separate process: the custom module is copied into HF_HOME, which must not be the user's."""
    folder = _custom_code_model(tiny_cross_encoder, tmp_path / "custom")
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", BENCH_CACHE_DIR=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "bench", "-q", "run", "tiny", "--data-dir", str(coll.parent), "--model", str(folder), "--top-k", "2",
           "--output", str(tmp_path / "out")]
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "--trust-remote-code" in refused.stderr
    trusted = subprocess.run([*cmd, "--trust-remote-code"], env=env, capture_output=True, text=True, timeout=600)
    assert trusted.returncode == 0, trusted.stderr
    assert list((tmp_path / "hf").rglob("modeling_custom.py")), "the custom code was loaded from the folder"


def _broken_scores_model(src: Path, folder: Path, value: float) -> Path:
    """NaN: the embedding of "goldfish" is NaN, so only pairs with that word break. Inf: the classifier bias, so every pair."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, folder)
    state = load_file(folder / "model.safetensors")
    if value != value:
        row = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines().index("goldfish")
        state["bert.embeddings.word_embeddings.weight"][row] = value
    else:
        state["classifier.bias"] = torch.full_like(state["classifier.bias"], value)
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


@pytest.mark.parametrize(
    "value,shown,pair",
    [
        # query 1's top candidate is d8
        (float("nan"), "nan", "for query 'do goldfish grow' and passage 'blue green water in a small river'"),
        (float("inf"), "inf", "for query 'warm up query' and passage 'a short warm up passage'"),  # found at the warm-up, before any work
    ],
)
def test_non_finite_scores_name_the_model_and_pair(coll, tiny_cross_encoder, tmp_path, capsys, value, shown, pair):
    folder = _broken_scores_model(tiny_cross_encoder, tmp_path / "broken", value)
    out = coll.parents[1] / "out"
    argv = _run_args(coll, "--model", str(folder), "--top-k", "2")
    line = _fails(capsys, argv, f"model '{folder}' gave a non-finite score ({shown})", out)
    assert pair in line and line.endswith("try --dtype float32 or check the checkpoint")
    assert not list(out.rglob("broken-*.trec"))


PASSAGES = ["goldfish grow to the size of the tank", "wifi", "the us did enter the world war", "a river bank is not a money bank",
            "cats and dogs in the city " * 6, "a fast red car engine", "blue green water in a small river"]


def _oom_above(model: torch.nn.Module, largest: int, sizes: list[int]) -> None:
    """Make the model's own forward fail like a GPU that fits at most ``largest`` pairs per batch."""
    real = model.forward

    def forward(*args, **kwargs):
        rows = kwargs["input_ids"].shape[0]
        sizes.append(rows)
        if rows > largest:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {rows} GiB")
        return real(*args, **kwargs)

    model.forward = forward


def test_cuda_out_of_memory_halves_the_batch_and_retries(tiny_cross_encoder, caplog):
    settings = ModelSettings(device="cpu", dtype="float32", batch_size=8, max_length=128)
    normal = create(locate(str(tiny_cross_encoder)), settings)
    normal.load()
    expected = normal.score("do goldfish grow", PASSAGES)
    reranker = create(locate(str(tiny_cross_encoder)), settings)
    reranker.load()
    sizes: list[int] = []
    _oom_above(reranker.model, 2, sizes)
    with caplog.at_level("WARNING"):
        got = reranker.score("do goldfish grow", PASSAGES)
    assert got == pytest.approx(expected, abs=1e-5)
    assert sizes == [7, 4, 2, 2, 2, 1]
    assert [r.getMessage() for r in caplog.records if "out of memory" in r.getMessage()] == [
        f"CUDA out of memory with {tiny_cross_encoder}: retrying with batch size 4",
        f"CUDA out of memory with {tiny_cross_encoder}: retrying with batch size 2",
    ]
    assert reranker.batch_size == 2  # later queries start at the size that fits
    sizes.clear()
    assert reranker.score("what is wifi", PASSAGES[:3]) == pytest.approx(normal.score("what is wifi", PASSAGES[:3]), abs=1e-5)
    assert sizes == [2, 1]


def test_cuda_out_of_memory_at_batch_size_one_is_one_line(coll, tiny_cross_encoder, capsys, monkeypatch):
    from transformers import BertForSequenceClassification

    real = BertForSequenceClassification.forward
    seen: list[int] = []

    def forward(self, *args, **kwargs):
        seen.append(kwargs["input_ids"].shape[0])
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")

    monkeypatch.setattr(BertForSequenceClassification, "forward", forward)
    _fails(capsys, _run_args(coll, "--model", str(tiny_cross_encoder), "--top-k", "3", "--batch-size", "4"),
           f"model '{tiny_cross_encoder}' does not fit in GPU memory even at batch size 1", coll.parents[1] / "out")
    assert seen == [2, 2, 1]  # the warm-up's two pairs at batch size 4, then 2, then 1: the error
    monkeypatch.setattr(BertForSequenceClassification, "forward", real)


# -- disk full ----------------------------------------------------------------------------


def _enospc_on(monkeypatch: pytest.MonkeyPatch, match) -> list[str]:
    """``os.fsync`` fails with ENOSPC for files whose path satisfies ``match`` (as a full disk does at the flush)."""
    real = os.fsync
    hits: list[str] = []

    def fsync(fd):
        target = os.readlink(f"/proc/self/fd/{fd}")
        if match(target):
            hits.append(target)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return hits


def test_disk_full_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "run.trec"
    write_run({"1": {"d1": 1.0}}, path, "old")
    before = path.read_bytes()
    _enospc_on(monkeypatch, lambda target: ".tmp-" in target)
    with pytest.raises(BenchError) as info:
        write_run({"1": {"d1": 2.0, "d2": 1.0}}, path, "new")
    assert str(info.value) == f"disk full while writing {path}; free space or choose another --output; nothing was left half-written"
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["run.trec"]
    with pytest.raises(BenchError, match="disk full while writing"):
        store.write_json(tmp_path / "results.json", {"a": 1})
    assert not (tmp_path / "results.json").exists() and _leftovers(tmp_path) == []


def test_disk_full_while_writing_results(coll, tiny_cross_encoder, capsys, monkeypatch):
    out = coll.parents[1] / "out"
    hits = _enospc_on(monkeypatch, lambda target: "results.json" in target)
    _fails(capsys, _run_args(coll, "--model", str(tiny_cross_encoder), "--top-k", "3"), "disk full while writing", out)
    assert hits and not (out / "reports" / "tiny" / "results.json").exists()
    monkeypatch.undo()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(_run_args(coll, "--model", str(tiny_cross_encoder), "--top-k", "3")) == 0  # space freed: the finished runs are reused
    record = json.loads((out / "reports" / "tiny" / "results.json").read_text())
    assert [s["latency"]["cached"] for s in record["systems"]] == [True, True]


def test_disk_full_while_appending_the_partial_run_keeps_finished_queries(coll, tiny_cross_encoder, capsys, monkeypatch):
    out = coll.parents[1] / "out"
    hits = _enospc_on(monkeypatch, lambda target: target.endswith(".partial"))
    line = _fails(capsys, _run_args(coll, "--model", str(tiny_cross_encoder), "--top-k", "3"), "disk full while writing", out)
    assert line.split("disk full while writing ")[1].split(";")[0].endswith(".partial") and hits
    assert line.endswith("; free space and run the same command again; the finished queries are kept")
    monkeypatch.undo()
    assert main(_run_args(coll, "--model", str(tiny_cross_encoder), "--top-k", "3")) == 0
    record = json.loads((out / "reports" / "tiny" / "results.json").read_text())
    assert record["systems"][1]["latency"]["resumed_queries"] == 3  # all three lines had reached the file
    assert not list(out.rglob("*.partial"))


@pytest.mark.slow
def test_real_full_disk(tmp_path, tiny_cross_encoder, capsys):
    """A real 24 KiB tmpfs as the output folder, then grown so the same command can finish (needs root; skipped elsewhere)."""
    from test_resume import QUERIES, make_big_collection

    from bench.partial import PartialRun

    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        make_big_collection(tmp_path / "data" / "big")
        argv = ["run", "big", "--data-dir", str(tmp_path / "data"), "--model", str(tiny_cross_encoder), "--top-k", "5",
                "--output", str(mount)]
        line = _fails(capsys, argv, "disk full while writing", mount)
        partials = list(mount.rglob("*.partial"))
        done = len(PartialRun(partials[0], json.loads(partials[0].read_text().split("\n")[0])["hash"]).rows()) if partials else 0
        assert done < QUERIES, line
        subprocess.run(["mount", "-o", "remount,size=4m", str(mount)], check=True)  # space freed
        assert main(argv) == 0
        capsys.readouterr()
        record = json.loads((mount / "reports" / "big" / "results.json").read_text())
        assert record["systems"][1]["latency"]["resumed_queries"] == done
        assert len(read_run(record["systems"][1]["run_file"])) == QUERIES and _leftovers(mount) == []
    finally:
        subprocess.run(["umount", str(mount)], check=False)


# -- options and experiment files -----------------------------------------------------------


@pytest.mark.parametrize(
    "toml,message",
    [
        ('collection = "tiny"\nlimit_querys = 2\n', "bad.toml: unknown key 'limit_querys'; known keys: collection, name,"),
        ('collection = "tiny"\n[first_stage]\ndepht = 10\n', "bad.toml.first_stage: unknown key 'depht'; known keys: kind, depth"),
        ('collection = "tiny"\n[[rerankers]]\nmodel = "m"\ntopk = 5\n',
         "bad.toml.rerankers[0]: unknown key 'topk'; known keys: model, name, kind, revision, top_k"),
    ],
)
def test_experiment_file_with_unknown_key(tmp_path, capsys, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    _fails(capsys, ["run", str(path), "--output", str(tmp_path / "out")], message)
    assert not (tmp_path / "out").exists()


def test_expected_failures_print_one_line_from_a_real_process(tmp_path):
    """The whole of stderr from the console entry point: with -q exactly the error; with logging on, one error line among INFO lines."""
    path = tmp_path / "x.toml"
    path.write_text('collection = "tiny"\n[[rerankers]]\nmodel = "m"\ntopk = 5\n', encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for argv, message in (
        ([str(path)], f"bench: error: {path}.rerankers[0]: unknown key 'topk'; known keys: "),
        (["../../x", "--data-dir", str(tmp_path)], "bench: error: collection name '../../x' is not allowed"),
    ):
        for quiet in (["-q"], []):
            cmd = [sys.executable, "-m", "bench", *quiet, "run", *argv]
            done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
            lines = done.stderr.splitlines()
            errors = [line for line in lines if line.startswith("bench:")]
            assert len(errors) == 1 and errors[0].startswith(message), done.stderr
            assert lines == errors if quiet else all(line.startswith("INFO ") for line in lines[:-1]) and lines[-1] == errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.toml"]


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(ConfigError, match="unknown collection 'trec-dl-2091'"):
        main(["--debug", "run", "trec-dl-2091"])


# -- names that become paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--name", "../x"], "experiment name '../x' is not allowed"),
        (["--name", "/etc/x"], "experiment name '/etc/x' is not allowed"),
    ],
)
def test_experiment_name_cannot_escape_reports(coll, capsys, extra, message):
    out = coll.parents[1] / "out"
    _fails(capsys, _run_args(coll, *extra), message)
    assert not out.exists(), "refused before any work"


def test_collection_name_cannot_escape(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    make_collection(tmp_path / "x")  # what ../x would reach from data/
    argv = ["run", "../x", "--data-dir", str(tmp_path / "data"), "--output", str(tmp_path / "out")]
    _fails(capsys, argv, "collection name '../x' is not allowed")
    _fails(capsys, ["run", "../../x", "--output", str(tmp_path / "out")], "collection name '../../x' is not allowed")
    assert not (tmp_path / "out").exists()


def test_reranker_name_from_an_experiment_file_cannot_escape(coll, tiny_cross_encoder, tmp_path, capsys):
    path = tmp_path / "exp.toml"
    toml = f'collection = "tiny"\ndata_dir = "{coll.parent}"\n[[rerankers]]\nmodel = "{tiny_cross_encoder}"\nname = "../../evil"\n'
    path.write_text(toml, encoding="utf-8")
    _fails(capsys, ["run", str(path), "--output", str(tmp_path / "out")], "reranker name '../../evil' is not allowed")
    assert not (tmp_path / "out").exists()


def test_names_from_folders_are_sanitised(tmp_path, tiny_cross_encoder, capsys):
    """A model folder and a collection folder with spaces and brackets: usable, and everything stays under --output."""
    model = tmp_path / "models" / "My Model (v2)"
    shutil.copytree(tiny_cross_encoder, model)
    coll = make_collection(tmp_path / "My Data")
    out = tmp_path / "out"
    assert main(["run", str(coll), "--model", str(model), "--top-k", "3", "--output", str(out)]) == 0
    capsys.readouterr()
    record = json.loads((out / "reports" / "My-Data" / "results.json").read_text())
    assert record["collection"]["name"] == "My-Data" and record["systems"][1]["name"] == "my-model-v2"
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert [f for f in files if f.endswith(".trec")] == [
        f"runs/My-Data/bm25-{record['systems'][0]['hash']}.trec",
        f"runs/My-Data/my-model-v2-{record['systems'][1]['hash']}.trec",
    ]


def test_safe_name_and_slug():
    assert store.safe_name("msmarco-passage/trec-dl-2019/judged") == "msmarco-passage__trec-dl-2019__judged"
    for bad in ("../../x", "/abs", "a//b", "..", "a/../b", "", "x y", ".hidden"):
        with pytest.raises(ConfigError, match="is not allowed"):
            store.safe_name(bad)
    assert store.slug("My Model (v2)") == "My-Model-v2"
    assert store.slug("../../x") == "x" and store.slug("..") == "x" and store.slug("") == "x"
    for text in ("../..", "a b/c", "-x-", "ü", "...a"):
        store.safe_name(store.slug(text))


# -- the store: locks, temp files, permissions --------------------------------------------------


def test_atomic_files_get_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        store.write_text(tmp_path / "new.txt", "x")
        assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600: co-workers can read results
        (tmp_path / "private.txt").write_text("old")
        os.chmod(tmp_path / "private.txt", 0o600)
        store.write_text(tmp_path / "private.txt", "new")
        assert (tmp_path / "private.txt").stat().st_mode & 0o777 == 0o600
        with store.atomic_dir(tmp_path / "index") as folder:
            (folder / "a").write_text("1")
        assert (tmp_path / "index").stat().st_mode & 0o777 == 0o755
    finally:
        os.umask(umask)


def test_lock_sweeps_what_a_killed_writer_left(tmp_path, caplog):
    runs = tmp_path / "runs"
    runs.mkdir()
    mine = [runs / ".ce-abc.trec.k2j3h4g5.tmp-", runs / ".ce-abc.meta.json.a1b2c3d4.tmp-"]
    other = runs / ".ce-abd.trec.k2j3h4g5.tmp-"
    for path in [*mine, other]:
        path.write_text("half")
    (runs / ".idx.x1y2z3w4.tmp-").mkdir()
    with caplog.at_level("INFO"), store.file_lock(runs / "ce-abc.trec"):
        assert [p.exists() for p in mine] == [False, False] and other.exists()
    assert store.lock_path(runs / "ce-abc.trec") == runs / ".ce-abc.trec.lock"
    with store.file_lock(runs / "idx"):
        assert not (runs / ".idx.x1y2z3w4.tmp-").exists()
    assert "left by an interrupted run" in caplog.text


def test_output_folder_that_cannot_be_created_is_one_line(coll, capsys):
    out = coll.parents[1] / "out"
    out.write_text("a file where the output folder should be")
    expected = f"cannot write {out}/runs/tiny/bm25-"
    line = _fails(capsys, ["run", "tiny", "--data-dir", str(coll.parent), "--output", str(out)], expected)
    assert line.endswith(".trec (Not a directory); check that --output and the cache folder are writable folders")
    assert out.read_text() == "a file where the output folder should be"
