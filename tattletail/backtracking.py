"""Whether a regular expression can backtrack exponentially, read from its text.

Backtracking engines (Python's ``re`` on the compiled path, Oniguruma in libjq) take time exponential in
the subject's length when an unbounded repeat applies to something that can match the same text in
several ways: a group that itself repeats (``(a+)+``) or alternates between overlapping branches
(``(a|ab)*``); backreferences make matching NP-hard. Such a pattern under ``test`` on a field an API
caller controls (a user agent, a resource name) is a way to stall the engine, so ``tattletail.guard``
keeps the rule out of the in-process paths.

Polynomial backtracking is a risk too (``polynomial_risk``): an unanchored search retries every start
position, so ``\\s+$`` on 50,000 spaces, or ``.*a.*b``, costs time quadratic (or worse) in the subject, and
a record holds strings of hundreds of KB. A pattern is linear when it has at most one unbounded repeat
(``*``, ``+``, ``{n,}`` or a bound over ``SMALL_REPEAT``) and that repeat is last, or the pattern is
anchored at the start (``^``/``\\A``: jq's ``^`` is the string's start), or the repeat is of one
character class preceded by literal characters one of which the class cannot match (so the runs it
scans from different start positions are disjoint: ``V[0-9]+$``, ``"arn:...[^"]*"``).
"""

from __future__ import annotations

import re

SMALL_REPEAT = 16  # a bounded repeat up to this many counts as a constant amount of work per position
_PLAIN = re.compile(r"[A-Za-z0-9 !\"#%&',\-/:;<=>@_`~]")


def regex_risk(pattern: str, flags: str | None = "") -> str | None:
    """Why ``pattern`` may backtrack exponentially (an unbounded repeat of a group that itself repeats
    or alternates, or a backreference), or ``None``. Polynomial backtracking (``a.*b.*c``) is accepted.
    ``flags`` are jq's (``"ix"``...); ``None`` means computed, so any flag may be set."""
    every = flags is None
    ignore_case = every or "i" in (flags or "") or re.search(r"\(\?[A-Za-z-]*i", pattern) is not None
    extended = every or "x" in (flags or "") or re.search(r"\(\?[A-Za-z-]*x", pattern) is not None
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
            if inner[1] and not inner[0] \
                    and _disjoint_chars(pattern, opened.pop() if opened else 0, pos, ignore_case, extended):
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
_ESCAPED_LITERAL = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "e": "\x1b", "a": "\x07"}
# Unicode simple case foldings that join characters Python's lower/upper do not pair both ways
_FOLD_EXTRA = {"k": "\u212a", "s": "\u017f", "\u00e5": "\u212b", "\u03b9": "\u1fbe\u0345",
               "\u03c3": "\u03c2", "\u03b2": "\u03d0", "\u03b5": "\u03f5", "\u03b8": "\u03d1\u03f4",
               "\u03ba": "\u03f0", "\u03c0": "\u03d6", "\u03c1": "\u03f1", "\u03c6": "\u03d5",
               "\u03bc": "\u00b5"}


def _variants(ch: str) -> set[str]:
    """The characters a case-insensitive match of ``ch`` also matches (simple case folding)."""
    found = {ch}
    for form in (ch.lower(), ch.upper(), ch.casefold(), ch.swapcase()):
        if len(form) == 1:
            found.add(form)
    for base in list(found):
        for key, extra in _FOLD_EXTRA.items():
            if base == key or base in extra or base.lower() == key:
                found.update({key, key.upper(), *extra})
    return found


def _branch_chars(branch: str, ignore_case: bool) -> set[str] | None:
    """The characters a single-character branch matches when that is a short literal set (an escaped or
    plain literal, with its case variants under ``ignore_case``); ``None`` for classes (``\\d``, ``.``...)."""
    if branch.startswith("\\"):
        escaped = branch[1:]
        if escaped.isalnum():
            literal = _ESCAPED_LITERAL.get(escaped)
            if literal is None:
                return None  # \d \w \s \h \p... a class: it may hold any literal
            return {literal}
        ch = escaped
    elif branch == ".":
        return None
    else:
        ch = branch
    return _variants(ch) if ignore_case else {ch}


def _disjoint_chars(pattern: str, start: int, end: int, ignore_case: bool = False,
                    extended: bool = False) -> bool:
    """Whether the group ``pattern[start:end+1]`` is an alternation of single characters no two of which
    can match the same character, so that at most one branch matches a given character (no backtracking
    between them). Sound rather than complete: two literal characters are disjoint unless they are equal
    (or case variants of each other under ``ignore_case``); ``.`` is disjoint only from a literal newline;
    any other class (``\\d``, ``\\w``, ``[0-9]``) is taken to overlap everything else, as ``\\d|1`` does.
    Under ``extended`` (flag ``x``) a blank or ``#`` branch is no character at all: not judged."""
    body = pattern[start + 1:end]
    if body.startswith("?:"):
        body = body[2:]
    branches = body.split("|")
    if extended and any(b.isspace() or b == "#" for b in branches):
        return False
    if any(_CHAR.fullmatch(b) is None for b in branches) or len(set(branches)) != len(branches):
        return False
    seen: set[str] = set()
    dots = 0
    for branch in branches:
        chars = _branch_chars(branch, ignore_case)
        if chars is None:
            if branch != ".":
                return False
            dots += 1
            continue
        if chars & seen:
            return False
        seen |= chars
    return dots == 0 or (dots == 1 and seen <= {"\n"})


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


def polynomial_risk(pattern: str, flags: str | None = "") -> str | None:
    """Why ``pattern`` may backtrack polynomially (quadratic or worse in the subject's length) under an
    unanchored search, or ``None`` when its work is linear (see the module docstring). Sound rather
    than complete: anything not read is a risk."""
    every = flags is None
    ignore_case = every or "i" in (flags or "") or re.search(r"\(\?[A-Za-z-]*i", pattern) is not None
    extended = every or "x" in (flags or "") or re.search(r"\(\?[A-Za-z-]*x", pattern) is not None
    repeats: list[tuple[int, int, int]] = []  # (atom start, atom end, after the quantifier)
    atom: tuple[int, int] | None = None
    depth, top_alternation, pos = 0, False, 0
    while pos < len(pattern):
        ch = pattern[pos]
        if ch == "\\":
            atom, pos = (pos, pos + 2), pos + 2
        elif ch == "[":
            end = _class_end(pattern, pos)
            atom, pos = (pos, end), end
        elif ch == "(":
            depth += 1
            atom, pos = None, pos + 1
        elif ch == ")":
            depth -= 1
            atom, pos = (-1, -1), pos + 1  # a group: not one character
        elif ch == "|":
            top_alternation = top_alternation or depth == 0
            atom, pos = None, pos + 1
        elif ch in "*+?{":
            m = re.match(r"\{(\d*)(,?)(\d*)\}", pattern[pos:]) if ch == "{" else None
            if ch == "{" and m is None:
                atom, pos = (pos, pos + 1), pos + 1
                continue
            bound = None if ch in "*+" else 1 if ch == "?" else \
                int(m.group(3)) if m is not None and m.group(3) else None if m is not None and m.group(2) else \
                int(m.group(1) or 0) if m is not None else None
            end = pos + (m.end() if m is not None else 1)
            while end < len(pattern) and pattern[end] in "?+":
                end += 1
            if (bound is None or bound > SMALL_REPEAT) and atom is not None:
                repeats.append((atom[0], atom[1], end))
            atom, pos = None, end
        else:
            atom, pos = (pos, pos + 1), pos + 1
    if not repeats:
        return None
    if len(repeats) > 1:
        return f"{len(repeats)} unbounded repeats (polynomial backtracking on a long subject)"
    start, end, after = repeats[0]
    if pattern[after:].strip(")") == "":
        return None  # nothing after it can fail: the first position reaching it matches
    if (pattern.startswith("^") or pattern.startswith("\\A")) and not top_alternation:
        return None  # one start position
    if start >= 0 and not extended and _guarded(pattern, start, end, ignore_case):
        return None
    return "an unbounded repeat followed by more pattern, unanchored (quadratic backtracking)"


def _guarded(pattern: str, start: int, end: int, ignore_case: bool) -> bool:
    """Whether the literal characters right before the one-character atom ``pattern[start:end]`` hold
    one the atom cannot match: then the runs scanned from different matches of the literal are disjoint."""
    try:
        atom = re.compile(pattern[start:end], re.IGNORECASE if ignore_case else 0)
    except re.error:
        return False
    k = start
    while k > 0:
        ch, escaped = pattern[k - 1], k >= 2 and pattern[k - 2] == "\\" and not pattern[k - 1].isalnum()
        if escaped:
            k -= 2
        elif _PLAIN.fullmatch(ch) and not (k >= 2 and pattern[k - 2] == "\\"):
            k -= 1
        else:
            break
        variants = _variants(ch) if ignore_case else {ch}
        if not any(atom.fullmatch(v) for v in variants):
            return True
    return False
