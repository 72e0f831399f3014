"""Regular expressions the compiled path runs with Python's ``re`` because they mean there exactly what
they mean in Oniguruma's Perl syntax (as jq 1.8.2 uses it), and a bound on their backtracking so that
Python never runs longer than Oniguruma, which stops a match after 10 million retries."""

from __future__ import annotations

import re
from typing import Any

_REGEX_TOKEN = re.compile(r"""
    \\[.\\/^$|?*+()\[\]{}\-n]     # an escaped metacharacter, or \n
  | \[\^?(?:[^\]\\\[]|\\[\\\]\-^])+\]   # a simple bracket class: no nested [, no classes like \w
  | \{\d+(?:,\d*)?\}\??           # a counted repeat
  | [*+?]\??                      # a repeat, maybe lazy
  | \(\?:                         # a non-capturing group
  | [()|^$.]                      # group, alternation, anchors, any
  | [^\\\[\](){}*+?|^$.]          # a literal character
""", re.VERBOSE)

ONIG_MAX_REPEAT = 100_000
"""Oniguruma's largest repeat bound (``ONIG_MAX_REPEAT_NUM``): ``a{1,100001}`` is its error "too big
number for repeat range" in libjq, where Python's ``re`` accepts it; such patterns are left to libjq."""

REGEX_BUDGET = 2_000_000
"""Backtracking paths the compiled path may explore for one ``test``; beyond, libjq decides. Oniguruma
stops a match after 10 million retries with an error, so a subject whose worst case stays under this
budget cannot reach that limit, and Python's ``re`` finishes it quickly too."""


def regex_shape(pattern: str) -> tuple[int, int] | None:
    """``(unbounded repeats, bounded choices x alternatives)`` of a pattern that means the same in
    Python's ``re`` as in Oniguruma's Perl syntax (as jq uses it), or ``None``. Only plain constructs are
    accepted: literals, ``.``, ``^``, ``$``, bracket classes without escapes like ``\\d`` or POSIX
    classes, groups, alternation, repeats, and ``(?i)`` at the very start. Shorthands (``\\d \\w \\s
    \\b``), look-arounds, backreferences and named groups are refused (their meaning differs), and so is
    a repeated group that holds a repeat or an alternation (``(a+)+``, ``(a|a)*``): its backtracking is
    exponential."""
    body = pattern[4:] if pattern.startswith("(?i)") else pattern
    pos, repeats, alternatives = 0, 0, 1
    groups_body = (0, 0)
    groups: list[list[Any]] = []  # per open group: [holds a repeat or an alternation?, where its body starts]
    closed: bool | None = None  # the group that just closed held one, if the last token closed a group
    while pos < len(body):
        m = _REGEX_TOKEN.match(body, pos)
        if not m:
            return None
        token = m.group()
        if token.startswith("[") and ("[:" in token or "&&" in token):
            return None
        if token == "(" and body.startswith("?", m.end()):
            return None  # (?=, (?!, (?<, (?P, inline flags: syntax or meaning differs
        if token[0] in "*+?{":
            if token[0] == "{" and any(int(n) > ONIG_MAX_REPEAT for n in re.findall(r"\d+", token)):
                return None  # Oniguruma refuses the bound: libjq gives its error
            if pos > 0 and body[pos - 1] in "*+?}" and not token.startswith("?"):
                return None  # a repeat of a repeat (possessive in Oniguruma, an error in Python)
            if closed and not _disjoint_characters(body[groups_body[0]:groups_body[1]], pattern != body):
                return None
            bounded = re.fullmatch(r"\{(\d+),(\d+)\}\??|\{(\d+)\}\??|\?\??", token)
            if bounded is None:
                repeats += 1
            elif bounded.group(1) is not None:
                alternatives *= max(1, int(bounded.group(2)) - int(bounded.group(1)) + 1)
            elif bounded.group(3) is None:
                alternatives *= 2
            if groups:
                groups[-1][0] = True
        elif token == "|":
            alternatives *= 2
            if groups:
                groups[-1][0] = True
        closed = None
        if token in ("(", "(?:"):
            groups.append([False, m.end()])
        elif token == ")":
            if not groups:
                return None
            closed, start = groups.pop()
            groups_body = (start, pos)
            if closed and groups:
                groups[-1][0] = True
        pos = m.end()
    try:
        re.compile(pattern)
    except re.error:
        return None
    return repeats, alternatives


def _disjoint_characters(alternation: str, fold: bool) -> bool:
    """Whether a group body is an alternation of single characters no two of which match the same
    character (``.|\\n`` as Sigma's imports write "anything"): repeating it cannot backtrack more
    than a single-character repeat does."""
    atoms = alternation.split("|")
    if any(len(a) != 1 and not (len(a) == 2 and a[0] == "\\") for a in atoms):
        return False
    chars = ["\n" if a == "\\n" else a[-1].lower() if fold else a[-1] for a in atoms if a != "."]
    if len(set(chars)) != len(chars):
        return False
    return "." not in atoms or (atoms.count(".") == 1 and all(c == "\n" for c in chars))


def regex_agrees(pattern: str) -> bool:
    """Whether the compiled path can run ``pattern`` (see ``regex_shape``)."""
    return regex_shape(pattern) is not None
