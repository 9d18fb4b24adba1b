"""Listwise LLM reranking on the ranking contract: rank_llm 0.25.7's presets, windows, parsing and repair.

``presets`` holds the prompt texts as data, ``prompt`` builds and fits a window's prompt,
``parse`` reads and repairs an answer (with its counts), ``family`` is the ranker
(registered as ``listwise`` in :data:`bench.rerankers.FAMILIES`).
"""
