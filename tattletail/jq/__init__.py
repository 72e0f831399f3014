"""The jq subset real rules use: ``parse`` (text -> AST), ``compile`` (AST -> Python closures with jq's
semantics), ``values`` (jq's equality, order and printing, and the number policy), ``regex`` (the regular
expressions Python runs as Oniguruma does), ``prefilter`` (necessary conditions).

Imports nothing else of tattletail: it is a jq implementation checked against libjq 1.8.2, nothing more.
"""
