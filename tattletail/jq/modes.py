"""The three modes of a compiled node and the conversions between them: the runtime every closure shares.

Each AST node becomes a function of its input in one of three modes, so that the common case costs a
few Python calls and no generator: ``ONE`` returns exactly one output (or raises ``JqError``), ``OPT``
returns one output or ``NOTHING`` (``select``, ``try``), ``MANY`` returns an iterable (``.[]``, ``,``).
A rule only needs its first output, so ``MANY`` nodes are iterated lazily and stopped at the first.
The engine and the rules run compiled programs through these names alone, so they need not import the
compiler to run what it built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

ONE, OPT, MANY = "one", "opt", "many"
NOTHING: Any = object()
Compiled = tuple[str, Callable[[Any], Any]]


def as_many(c: Compiled) -> Callable[[Any], Iterable[Any]]:
    """``c`` as a ``MANY`` function, for the places that combine outputs (pipes, generators, arguments)."""
    mode, f = c
    if mode == MANY:
        return f
    if mode == ONE:
        return lambda v: (f(v),)

    def many(v: Any) -> Iterable[Any]:
        r = f(v)
        return () if r is NOTHING else (r,)

    return many


def first(c: Compiled, v: Any) -> Any:
    """The first output of ``c`` on ``v``, or ``NOTHING``."""
    mode, f = c
    if mode == MANY:
        for out in f(v):
            return out
        return NOTHING
    return f(v)
