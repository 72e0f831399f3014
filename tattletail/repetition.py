"""String repetition, judged per multiplication chain, for ``tattletail.guard``.

``"x" * n`` builds ``n`` copies: a rule that repeats a record's string, or chains small literals
(``"x" * 10000 * 10000`` is 100 MB though each step looks small), can take the Lambda's memory. A chain
``a * b * c ...`` is read as a whole: literal strings give a size, computed values a growth factor.
"""

from __future__ import annotations

import math

from tattletail.jqtokens import Tok, close

CONSTANT_STRING = 1 << 20      # bytes a literal repeated may build and still be proven
HUGE_STRING = 100_000_000      # bytes a literal repetition may build before it is refused


def repetition(tokens: list[Tok], i: int, unproven: list[str], never: list[str]) -> int:
    """``a * b`` repeats a string when one side is a string and the other a number. Judged per chain
    ``a * b * c ...`` (``"x" * 10000 * 10000`` is 100 MB though each step is small): a literal string
    repeated into more than ``CONSTANT_STRING`` bytes is unproven (``HUGE_STRING``: refused); a computed
    value multiplied by a computed number, or a literal string by one, is unproven; a computed value by
    literals counts their product as growth (doublings), like additions. Returns the doublings."""
    if tokens[i].text == "*" and _left_start(tokens, i) is None:
        return 0  # not the chain's first '*': judged with it
    operands = []
    k = i
    start = _left_start(tokens, i) if tokens[i].text == "*" else None
    operands.append(_value(tokens[start:i]) if start is not None else None)
    while k < len(tokens) and tokens[k].kind == "op" and (tokens[k].text == "*" or k == i):
        end = _right_end(tokens, k)
        operands.append(_value(tokens[k + 1:end]))
        k = end
    computed = sum(1 for o in operands if o is None)
    numbers = [abs(o[1]) for o in operands if o is not None and o[0] == "num"]
    strings = [o[1] for o in operands if o is not None and o[0] == "str"]
    factor = 1.0
    for n in numbers:
        factor *= max(n, 1.0)
    if strings and not computed:
        size = max(strings) * factor
        if size >= HUGE_STRING:
            never.append(f"repeats a string {factor:.3g} times: hundreds of MB at least")
        if size > CONSTANT_STRING:
            unproven.append(f"builds a string of {size:.3g} bytes by repetition")
        return 0
    if computed >= 2 or (computed and strings):
        unproven.append("multiplication by a computed number (string repetition)")
        return 0
    return math.ceil(math.log2(factor)) if computed else 0


def _left_start(tokens: list[Tok], i: int) -> int | None:
    """Where the operand left of the ``*`` at ``i`` starts, or ``None`` when that operand is itself the
    right operand of another ``*`` (so ``i`` is not the first of its chain)."""
    j = i - 1
    if j < 0:
        return 0
    start = j
    if tokens[j].kind == "op" and tokens[j].text == ")":
        depth = 0
        for k in range(j, -1, -1):
            depth += tokens[k].text == ")" and tokens[k].kind == "op"
            depth -= tokens[k].text == "(" and tokens[k].kind == "op"
            if depth == 0:
                start = k
                break
    if start > 0 and tokens[start - 1].kind == "op" and tokens[start - 1].text == "*":
        return None
    return start


def _right_end(tokens: list[Tok], k: int) -> int:
    """Index after the operand right of the ``*`` at ``k`` (a literal, ``-`` literal, or a group)."""
    j = k + 1
    if j < len(tokens) and tokens[j].text == "-" and tokens[j].kind == "op":
        j += 1
    if j < len(tokens) and tokens[j].kind == "op" and tokens[j].text == "(":
        return close(tokens, j) + 1
    return j + 1


def _value(operand: list[Tok]) -> tuple[str, float] | None:
    """A literal operand's kind and magnitude (a number's value, a string's bytes), ``None`` if computed.
    A parenthesised chain of literals is evaluated (``("x" * 1000)``)."""
    if len(operand) == 1 and operand[0].kind == "num":
        return ("num", float(operand[0].text))
    if len(operand) == 2 and operand[0].text == "-" and operand[1].kind == "num":
        return ("num", -float(operand[1].text))
    if len(operand) == 1 and operand[0].kind == "str":
        return ("str", float(len(operand[0].text.encode())))
    if len(operand) > 2 and operand[0].text == "(" and operand[-1].text == ")" and \
            all(t.kind in ("num", "str") or t.text in ("*", "(", ")") for t in operand):
        inner = [_value([t]) for t in operand[1:-1] if t.kind in ("num", "str")]
        if any(v is None for v in inner) or len(inner) != sum(1 for t in operand if t.kind in ("num", "str")):
            return None
        values = [v for v in inner if v is not None]
        product = 1.0
        for _, magnitude in values:
            product *= max(abs(magnitude), 1.0)
        return ("str" if any(kind == "str" for kind, _ in values) else "num", product)
    return None
