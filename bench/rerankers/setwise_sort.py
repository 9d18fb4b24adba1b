"""Setwise heapsort and bubblesort (Zhuang et al., SIGIR 2024) as generators, driven in lockstep over many queries.

Each sort is llm-rankers 0.0.2's (``llmrankers/setwise.py``: ``SetwiseLlmRanker.heapify``,
``heapSort`` and the ``bubblesort`` branch of ``rerank``), step for step, so it asks for the
same sets in the same order and makes the same number of model calls. Written as a generator,
a sort yields each set it needs judged (the candidates' input positions, in label order: the
first is "Passage A") and is sent back the index of the winner in that set. A winner index
outside the set (a malformed answer) keeps the first, as llm-rankers does with an unknown
label. The generator returns the top ``k`` positions, best first.

One query's sets depend on each other (the next set reads the heap the last answer left),
so the only way to keep a model busy is to judge the pending set of many queries in one
call: :func:`drive` does that, as :func:`bench.rerankers.window.slide` does for windows.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

Sort = Generator[list[int], int, list[int]]
METHODS = ("heapsort", "bubblesort")


def heapsort(n: int, num_child: int, k: int) -> Sort:
    """A ``num_child``-ary max-heap over the input order; the top ``k`` extracted (llm-rankers' ``heapSort``)."""
    arr = list(range(n))

    def heapify(size: int, i: int) -> Generator[list[int], int, None]:
        while num_child * i + 1 < size:  # llm-rankers recurses on the swapped child; this loop is that recursion
            inds = [i, *range(num_child * i + 1, min(num_child * (i + 1) + 1, size))]
            best = yield [arr[j] for j in inds]
            largest = inds[best] if 0 <= best < len(inds) else i
            if largest == i:
                return
            arr[i], arr[largest] = arr[largest], arr[i]
            i = largest

    for i in range(n // num_child, -1, -1):
        yield from heapify(n, i)
    ranked = 0
    for i in range(n - 1, 0, -1):
        arr[i], arr[0] = arr[0], arr[i]
        ranked += 1
        if ranked == k:
            break
        yield from heapify(i, 0)
    return list(reversed(arr))[:k]


def bubblesort(n: int, num_child: int, k: int) -> Sort:
    """Sets of ``num_child + 1`` sliding up from the bottom, the winner moved to the set's top, ``k`` passes.

    llm-rankers' version skips the part of the list a pass left unchanged (``last_start``);
    its bookkeeping is copied as is. Two divergences, neither reachable with a well-formed
    answer: llm-rankers swaps with ``start + best`` even when an unknown label points past a
    short set (here such an answer keeps the first), and in its last passes with ``k`` close
    to ``n`` it can ask about an empty set (a wasted call; here none is made).
    """
    ranking = list(range(n))
    size = num_child + 1
    last_start = n - size
    for i in range(min(k, n)):
        start, end = last_start, last_start + size
        changed = False
        while True:
            start = max(start, i)
            window = ranking[start:end]
            best = (yield window) if window else 0
            if not 0 <= best < len(window):
                best = 0
            if best != 0:
                ranking[start], ranking[start + best] = ranking[start + best], ranking[start]
                if not changed:
                    changed = True
                    if last_start != n - size and best == len(window) - 1:
                        last_start += len(window) - 1
            if start == i:
                break
            if not changed:
                last_start -= num_child
            start -= num_child
            end -= num_child
    return ranking[:k]


def make(method: str, n: int, num_child: int, k: int) -> Sort:
    if method == "heapsort":
        return heapsort(n, num_child, k)
    if method == "bubblesort":
        return bubblesort(n, num_child, k)
    raise ValueError(f"unknown setwise method {method!r}; use one of {', '.join(METHODS)}")


# call(pending) -> one winner index per pending set; pending = [(which sort, the set's input positions)]
Judge = Callable[[list[tuple[int, list[int]]]], list[int]]


def drive(sorts: Sequence[Sort], judge: Judge) -> list[list[int]]:
    """Run every sort to its end, judging the pending set of each (still running) sort in one ``judge`` call."""
    results: list[Any] = [None] * len(sorts)
    pending: dict[int, list[int]] = {}
    for index in range(len(sorts)):
        _advance(sorts, index, None, pending, results)
    while pending:
        asked = sorted(pending.items())
        answers = judge(asked)
        if len(answers) != len(asked):
            raise RuntimeError(f"a setwise judge returned {len(answers)} answers for {len(asked)} sets")
        for (index, _), best in zip(asked, answers):
            _advance(sorts, index, best, pending, results)
    return results


def _advance(sorts: Sequence[Sort], index: int, answer: int | None, pending: dict[int, list[int]], results: list[Any]) -> None:
    try:
        pending[index] = sorts[index].send(answer)  # type: ignore[arg-type]  # send(None) starts a generator
    except StopIteration as stop:
        pending.pop(index, None)
        results[index] = stop.value


def final_order(top: Sequence[int], n: int) -> list[int]:
    """The top positions best first, then every other position in input order (llm-rankers' ``rerank`` result)."""
    chosen = set(top)
    return list(top) + [i for i in range(n) if i not in chosen]
