"""A deterministic synthetic passage corpus shaped like MS MARCO, for BM25 scale benchmarks.

Words are pronounceable strings drawn from a Zipfian distribution (exponent 1.07 over a
500k-word vocabulary) with English stopwords mixed in at about the rate of real text;
passage lengths follow a log-normal distribution with mean about 60 words (MS MARCO
passages average about 56). Queries are 3-8 words drawn from the same distribution. The
same seed gives the same corpus in every process, generated in chunks so millions of
passages never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator

STOPWORDS = "the of and to a in is that for it as was with be by on not he i this are or his from at which but have an they you were".split()
VOCAB = 500_000
ZIPF = 1.07
SEED = 1234


def vocabulary(size: int = VOCAB, seed: int = SEED) -> list[str]:
    """``size`` distinct pronounceable words (index 0 is the most frequent)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    onsets = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "ch", "st", "tr", "pl", "gr"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou"]
    codas = ["", "n", "r", "s", "t", "l", "m", "ng", "ck", "st"]
    syllables = [o + v + c for o in onsets for v in vowels for c in codas]
    words: list[str] = []
    seen: set[str] = set(STOPWORDS)
    while len(words) < size:
        count = rng.integers(1, 4, size=size)
        picks = rng.integers(0, len(syllables), size=(size, 3))
        for n, row in zip(count, picks, strict=True):
            word = "".join(syllables[s] for s in row[:n])
            if len(word) > 1 and word not in seen:
                seen.add(word)
                words.append(word)
                if len(words) == size:
                    break
    return words


def _zipf_ranks(rng, n: int, size: int) -> object:
    """n word indices in [0, size) with P(rank r) proportional to 1/(r+1)^ZIPF."""
    import numpy as np

    cdf = np.cumsum(1.0 / np.arange(1, size + 1) ** ZIPF)
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(n))


def passages(count: int, seed: int = SEED, chunk: int = 50_000, words: list[str] | None = None) -> Iterator[tuple[str, str]]:
    """``(doc_id, text)`` for ``count`` passages, ids ``"0"`` .. ``str(count - 1)``."""
    import numpy as np

    words = words or vocabulary()
    lexicon = np.array(words, dtype=object)
    stop = np.array(STOPWORDS, dtype=object)
    rng = np.random.default_rng(seed + 1)
    for start in range(0, count, chunk):
        n = min(chunk, count - start)
        lengths = np.clip(rng.lognormal(mean=4.0, sigma=0.45, size=n).astype(np.int64), 5, 250)
        total = int(lengths.sum())
        tokens = lexicon[_zipf_ranks(rng, total, len(words))]
        is_stop = rng.random(total) < 0.4
        tokens[is_stop] = stop[rng.integers(0, len(stop), size=int(is_stop.sum()))]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        for i in range(n):
            yield str(start + i), " ".join(tokens[bounds[i] : bounds[i + 1]])


def queries(count: int, seed: int = SEED, words: list[str] | None = None) -> dict[str, str]:
    """``count`` queries of 3-8 words (one stopword each), keyed ``"q0"`` ...; content words skip the 50 most frequent."""
    import numpy as np

    words = words or vocabulary()
    rng = np.random.default_rng(seed + 2)
    out = {}
    for i in range(count):
        n = int(rng.integers(2, 7))
        ranks = 50 + _zipf_ranks(rng, n, len(words) - 50)
        terms = [words[r] for r in ranks] + [STOPWORDS[int(rng.integers(0, len(STOPWORDS)))]]
        rng.shuffle(terms)
        out[f"q{i}"] = " ".join(terms)
    return out
