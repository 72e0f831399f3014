"""The jq subset real rules use: ``parse`` (text -> AST), ``compile`` (AST -> Python closures with jq's
semantics), ``values`` (jq's equality, order and printing), ``prefilter`` (necessary conditions).

Imports nothing else of tattletail: it is a jq implementation checked against libjq, nothing more.
"""
