"""Dense retrieval: a bi-encoder's corpus index built on the engines, searched exactly or with FAISS.

:mod:`.options` (what a user sets), :mod:`.encoder` (the bi-encoder family's model, prompts
from the folder), :mod:`.encode` (the encode job an engine runs, shard by shard),
:mod:`.index` (the cached, resumable index), :mod:`.search` (exact and FAISS search) and
:mod:`.stage` (the first stage). Nothing heavy is imported here.
"""
