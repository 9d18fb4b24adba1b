"""Where a model's files come from and how they load safely: a local folder, a bundled copy or the Hub (``locate``),
safetensors only unless pickles are allowed, no model code unless trusted (``hf``). Rankers and backends both use it.
"""
