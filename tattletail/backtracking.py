"""Whether a regular expression can backtrack exponentially, read from its text.

Backtracking engines (Python's ``re`` on the compiled path, Oniguruma in libjq) take time exponential in
the subject's length when an unbounded repeat applies to something that can match the same text in
several ways: a group that itself repeats (``(a+)+``) or alternates between overlapping branches
(``(a|ab)*``); backreferences make matching NP-hard. Such a pattern under ``test`` on a field an API
caller controls (a user agent, a resource name) is a way to stall the engine, so ``tattletail.guard``
keeps the rule out of the in-process paths. Polynomial backtracking (``a.*b.*c``) is accepted: its cost
is bounded by the string's size, which the input limits bound.
"""

from __future__ import annotations

import re


def regex_risk(pattern: str) -> str | None:
    """Why ``pattern`` may backtrack exponentially (an unbounded repeat of a group that itself repeats
    or alternates, or a backreference), or ``None``. Polynomial backtracking (``a.*b.*c``) is accepted."""
    groups: list[list[bool]] = [[False, False]]  # per open group: [holds a repeat, holds an alternation]
    last: tuple[bool, bool] | None = None        # the atom a quantifier would apply to
    opened: list[int] = []                        # where each open group starts
    pos = 0
    while pos < len(pattern):
        ch = pattern[pos]
        if ch == "\\":
            nxt = pattern[pos + 1:pos + 2]
            if nxt and nxt in "123456789kg":
                return "a backreference"
            pos, last = pos + 2, (False, False)
        elif ch == "[":
            pos, last = _class_end(pattern, pos), (False, False)
        elif ch == "(":
            groups.append([False, False])
            opened.append(pos)
            pos, last = pos + 1, None
        elif ch == ")":
            inner = groups.pop() if len(groups) > 1 else [False, False]
            if inner[1] and not inner[0] and _disjoint_chars(pattern, opened.pop() if opened else 0, pos):
                inner[1] = False  # (?:.|\n): one character either way, nothing to backtrack over
            elif opened:
                opened.pop()
            groups[-1][0] = groups[-1][0] or inner[0]
            groups[-1][1] = groups[-1][1] or inner[1]
            pos, last = pos + 1, (inner[0], inner[1])
        elif ch == "|":
            groups[-1][1] = True
            pos, last = pos + 1, None
        elif ch in "*+?{":
            m = re.match(r"\{(\d*)(,?)(\d*)\}", pattern[pos:]) if ch == "{" else None
            if ch == "{" and m is None:
                pos, last = pos + 1, (False, False)  # a literal brace
                continue
            unbounded = ch in "*+" or (m is not None and bool(m.group(2)) and (not m.group(3) or int(m.group(3)) > 1))
            if unbounded and last is not None and (last[0] or last[1]):
                return "an unbounded repeat of a group that repeats or alternates (exponential backtracking)"
            groups[-1][0] = groups[-1][0] or unbounded
            pos = pos + (m.end() if m is not None else 1)
            while pos < len(pattern) and pattern[pos] in "?+":
                pos += 1
            last = None
        else:
            pos, last = pos + 1, (False, False)
    return None


_CHAR = re.compile(r"\\.|[^\\|()\[\]{}*+?^$]")


def _disjoint_chars(pattern: str, start: int, end: int) -> bool:
    """Whether the group ``pattern[start:end+1]`` is an alternation of distinct single characters
    (``.`` counting as "any but a newline"), so that at most one branch matches a given character."""
    body = pattern[start + 1:end]
    if body.startswith("?:"):
        body = body[2:]
    branches = body.split("|")
    if any(_CHAR.fullmatch(b) is None for b in branches) or len(set(branches)) != len(branches):
        return False
    return "." not in branches or all(b in (".", "\\n") for b in branches)


def _class_end(pattern: str, pos: int) -> int:
    """Index after the bracket class opening at ``pos`` (nested classes and escapes skipped)."""
    end = pos + 1
    if pattern.startswith("^", end):
        end += 1
    if pattern.startswith("]", end):
        end += 1
    depth = 1
    while end < len(pattern) and depth:
        if pattern[end] == "\\":
            end += 1
        elif pattern[end] == "[":
            depth += 1
        elif pattern[end] == "]":
            depth -= 1
        end += 1
    return end
