"""The AST the parser builds and every later step reads, and ``Unsupported``, the subset's boundary.

It is its own module because the lexer, the parser, the compiler, the prefilter and the root-field
analysis all share these two names, and none of them should import another only to get them.

AST nodes are tuples whose first item names them: ``("identity",)``, ``("field", term, name)``,
``("index", term, expr)``, ``("iterate", term)``, ``("optional", step)`` (``.a[]?``: only the last step
may fail), ``("try", body, handler)``, ``("literal", value)``,
``("format", parts)`` (string interpolation), ``("array", expr)``, ``("object", entries)``,
``("pipe", a, b)``, ``("comma", a, b)``, ``("alt", a, b)``, ``("and", a, b)``, ``("or", a, b)``,
``("binop", op, a, b)``, ``("neg", term)``, ``("if", branches, otherwise)``, ``("call", name, args)``.
"""

from __future__ import annotations

from typing import Any

Node = tuple[Any, ...]


class Unsupported(Exception):
    """The program uses something outside the compiled subset (the message names it)."""
