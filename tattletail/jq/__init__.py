"""The jq subset real rules use, one step per module, in the order a program goes through them:

    nodes       the AST's shape and ``Unsupported`` (the subset's boundary), shared by every step
    lexer       program text -> tokens (jq 1.8's comments and string literals)
    parse       tokens -> AST: jq's grammar and precedence, number literals
    modes       the three closure modes (ONE, OPT, MANY), ``first`` and ``as_many``: what callers run
    compile     AST -> Python closures with jq's semantics (the compiler proper)
    builtins    the builtin functions the compiler knows (``select``, ``test``, ``any``, ``IN``, ...)
    paths       ``.name``, ``.[key]``, ``.[]`` with libjq's ``jv_get`` rules and messages
    operators   ``+ - * /``, comparisons, ``contains``, ``length``, negation, as libjq's ``jv`` computes
    values      jq's equality, order and printing
    recordtext  the number policy: the text libjq reads for a record, and when the compiled path is exact
    regex       the regular expressions Python runs as Oniguruma does
    roots       the top-level record fields a program can read (so only they need the exactness check)
    prefilter   necessary conditions, so records no rule can match are skipped

Imports nothing else of tattletail: it is a jq implementation checked against libjq 1.8.2, nothing more.
"""
