"""Loading Hugging Face checkpoints safely, and tokenising without padding: shared by every family.

Safe loading: safetensors only unless ``--allow-pickle``, no model code unless
``--trust-remote-code`` (both checked before transformers runs, for one clear line), weights
loaded straight into the target dtype, and any loader failure turned into a one-line
:class:`~bench.errors.ModelError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelError
from .locate import check_code, check_weights


def load_pretrained(reranker: Any, auto_class: str, path: Path | None = None, **kwargs: Any) -> tuple[Any, Any, dict[str, Any]]:
    """``(tokenizer, model, loading info)`` from ``path`` (default: the located folder) with ``transformers.<auto_class>``.

    The model is not yet on its device; call ``reranker.place(model)``.
    """
    import transformers

    settings, spec = reranker.settings, reranker.located.spec
    path = path or reranker.located.path
    check_weights(path, settings.allow_pickle)
    check_code(path, spec, settings.trust_remote_code)
    cls = getattr(transformers, auto_class)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=settings.trust_remote_code)
        model, info = cls.from_pretrained(
            path,
            trust_remote_code=settings.trust_remote_code,
            use_safetensors=not settings.allow_pickle or None,
            output_loading_info=True,
            **reranker.load_kwargs(),
            **kwargs,
        )
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise ModelError(f"model {spec!r} needs custom code; pass --trust-remote-code if you trust it") from None
        raise ModelError(f"model {spec!r} could not be loaded: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise ModelError(f"model {spec!r} could not be loaded: {str(exc).splitlines()[0]}") from None
    return tokenizer, model, dict(info or {})


def features(enc: Any, count: int) -> list[dict[str, list[int]]]:
    """A tokenizer's unpadded output as one dict per row (``input_ids`` and ``token_type_ids`` when present)."""
    keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
    return [{k: enc[k][i] for k in keys} for i in range(count)]
