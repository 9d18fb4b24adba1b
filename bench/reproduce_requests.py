"""``bench reproduce --requests N``: ask a served model a sample of a run's requests again and count the answers that differ.

A server may answer the same request differently from one run to the next (batch-dependent
numerics, a model updated under the same name). The run's trace names each call's request
key; the response cache holds the exact request and the answer the run used. A sample of
them is sent again, bypassing the cache, and the answers compared: the generated text and
the first position's top log-probabilities, exactly, and the largest log-probability change.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import random
from pathlib import Path
from typing import Any

from .errors import ConfigError, DataError

log = logging.getLogger(__name__)


def _keys(system: dict[str, Any]) -> list[str]:
    info = system.get("info") or {}
    trace = Path(system["run_file"]).with_name(info["trace_file"]) if info.get("trace_file") else None
    if trace is None or not trace.is_file():
        raise DataError(f"system {system['name']}: no trace file beside {system['run_file']}; the request keys are in it")
    keys = []
    for line in gzip.decompress(trace.read_bytes()).decode("utf-8").splitlines():
        keys += [c["request"] for c in json.loads(line).get("calls") or [] if c.get("request")]
    return keys


def _essence(answer: dict[str, Any]) -> tuple[str, dict[str, float]]:
    from .backends.openai import first_top_logprobs

    choice = (answer.get("choices") or [{}])[0]
    text = choice.get("text") if "text" in choice else (choice.get("message") or {}).get("content")
    return str(text or ""), first_top_logprobs(answer)


def reask(record_path: str | os.PathLike[str], sample: int, endpoint: str | None = None, seed: int = 0) -> tuple[str, dict[str, Any]]:
    """Per served system: requests asked again, answers that differ, the largest log-probability change. A text summary too."""
    from . import results
    from .backends.cache import ResponseCache
    from .backends.client import Client

    if sample < 1:
        raise ConfigError(f"--requests must be at least 1, got {sample}")
    record = results.read(record_path)
    served = [s for s in record["systems"] if (s.get("info") or {}).get("backend") == "openai"]
    if not served:
        raise ConfigError(f"{record_path}: no system ran on a served model (backend openai); --requests re-asks served models only")
    cache, summary, lines = ResponseCache(), {}, []
    for system in served:
        info = system["info"]
        keys = sorted(set(_keys(system)))
        chosen = random.Random(seed).sample(keys, min(sample, len(keys)))
        key_env = info.get("api_key_env")
        client = Client(endpoint or info["endpoint"], os.environ.get(key_env) if key_env else None, max_concurrency=1)
        asked = differ = missing = 0
        worst = 0.0
        for key in chosen:
            entry = cache.entry(key)
            if entry is None:
                missing += 1
                continue
            body = json.dumps(entry["request"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            (old_text, old_lp), (new_text, new_lp) = _essence(entry["response"]), _essence(client.post(entry["path"], body))
            asked += 1
            shared = old_lp.keys() & new_lp.keys()
            change = max((abs(old_lp[t] - new_lp[t]) for t in shared), default=0.0)
            worst = max(worst, change if shared else math.inf)
            differ += int(old_text != new_text or old_lp != new_lp)
        summary[system["name"]] = {"asked": asked, "differ": differ, "not_in_cache": missing, "max_logprob_change": worst}
        lines.append(f"{system['name']}: {differ} of {asked} re-asked responses differ (largest log-probability change {worst:.3g})"
                     + (f"; {missing} sampled requests were not in the response cache" if missing else ""))
    return "\n".join(lines) + "\n", summary
