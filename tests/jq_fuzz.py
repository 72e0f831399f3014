"""A differential fuzzer: random programs over the compiled grammar, random mixed-type inputs (CloudTrail-
shaped records among them), each pair run through the compiled path and libjq (``jq_differential``).

The suite runs it with fixed seeds (tests/jq/test_fuzz.py); ``make fuzz`` explores with random seeds:
``python -m tests.jq_fuzz --seconds 300``. Every divergence it finds becomes a named case in
tests/jq_regressions.py.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

from tests.jq_differential import compile_or_none, difference

KEYS = ["a", "b", "c", "eventName", "userIdentity", "requestParameters"]
STRINGS = ["", "a", "A", "abc", "ABC", "a,b", "é", "ß", "ss", "İ", "x y", "Get", "ListBuckets", "arn:aws:iam::1:root",
           "1.5", "null", "\u212a", "\x7f", "\n", "a\\b", "\"q\""]
NUMBERS: list[Any] = [0, 1, -1, 2, 3, 1.5, -2.5, 0.1, 100, 2**53, 2**53 + 1, 10**20, 1e-5, 1.0, 0.0, 1e300, -7]
NUMBER_LITERALS = ["0", "1", "2", "-1", "1.5", "0.5", "100", "1.0", "1e3", "0.1", "-0", "3", "9007199254740993"]
REGEXES = ["^a", "b$", "a|b", "^(Get|List)", "[a-z]+", "A.c", "s+", "^$", "x*y", "(ab)+", "é", "\\.", ".*a.*",
           "(?:.|\n)*a", r"(?:.|\n)*a", "(a|b)+", "^[A-Z][a-z]*$", "a{2,3}", "b?c", "(?i)get"]


class ProgramGen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, items: list[Any]) -> Any:
        return items[self.rng.randrange(len(items))]

    def string(self) -> str:
        s = self.pick(STRINGS)
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\x7f", "\\u007f") + '"'

    def path(self) -> str:
        return self.pick([
            ".", ".a", ".b", ".c", ".a.b", ".[0]", ".[-1]", ".[1.5]", ".[-0.5]", '.["a"]', ".[]", ".[]?", ".a?",
            ".a[]?", ".[null]", ".[[1]]", "(.a.b)?", ".a[0]", ".eventName", ".userIdentity.type",
            ".requestParameters", ".requestParameters.x?", '."b"', ".a.b?", ".[.b]", ".[.a]?",
        ])

    def literal(self) -> str:
        return self.pick([self.pick(NUMBER_LITERALS), self.string(), "true", "false", "null", "[]", "{}",
                          "[1,2]", '["a",1]', '{"a":1}'])

    def expr(self, depth: int) -> str:
        if depth <= 0:
            return self.pick([self.path(), self.path(), self.literal()])
        d = depth - 1
        e = self.expr
        choice = self.rng.randrange(30)
        if choice < 4:
            return self.pick([self.path(), self.literal()])
        if choice < 8:
            op = self.pick(["+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "and", "or", "//"])
            return f"({e(d)} {op} {e(d)})"
        if choice < 14:
            name = self.pick(["length", "type", "tostring", "tojson", "keys", "not", "values", "ascii_downcase",
                              "ascii_upcase", "first", "last", "empty", "error", "any", "all"])
            return f"({e(d)} | {name})"
        if choice < 20:
            arg = e(d)
            call = self.pick([
                f"select({arg})", f"has({arg})", f"contains({arg})", f"startswith({self.string()})",
                f"endswith({self.string()})", f"ltrimstr({self.string()})", f"rtrimstr({self.string()})",
                f"test({json.dumps(self.pick(REGEXES))})", f'test({json.dumps(self.pick(REGEXES))}; "i")',
                f"split({self.string()})",
                f"join({self.string()})", f"map({arg})", f"any({arg})", f"all({arg})", f"any({arg}; {e(d)})",
                f"all({arg}; {e(d)})", f"IN({arg})", f"IN({arg}; {e(d)})", f"first({arg})", f"error({arg})",
                f"has({self.literal()})", f"contains({self.literal()})",
            ])
            return f"({e(d)} | {call})"
        if choice == 20:
            return f"[{e(d)}]"
        if choice == 21:
            key = self.pick(["a", '"b"', f"({e(d)})", f'"k\\({e(d)})"', "if"])
            short = self.pick(["", ", a", ", $x" if False else ", c"])
            return f"{{{key}: {e(d)}{short}}}"
        if choice == 22:
            return f'"v=\\({e(d)}) w=\\({e(d)})"'
        if choice == 23:
            return self.pick([f"if {e(d)} then {e(d)} else {e(d)} end", f"if {e(d)} then {e(d)} end",
                              f"if {e(d)} then {e(d)} elif {e(d)} then {e(d)} end"])
        if choice == 24:
            return self.pick([f"try {e(d)}", f"try {e(d)} catch {e(d)}", f"({e(d)})?", f"try error({e(d)}) catch ."])
        if choice == 25:
            return f"({e(d)} | {e(d)})"
        if choice == 26:
            return f"({e(d)}, {e(d)})"
        if choice == 27:
            return f"(-{e(d)})"
        if choice == 28:
            return f"({e(d)} # c \\\n, {e(d)})"
        return f"{e(d)}[{e(d)}]" if self.rng.random() < 0.5 else f"{self.path()}"

    def program(self) -> str:
        return self.expr(self.rng.randrange(1, 4))


class ValueGen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def scalar(self) -> Any:
        r = self.rng.randrange(5)
        if r == 0:
            return self.rng.choice([None, True, False])
        if r == 1:
            return self.rng.choice(NUMBERS)
        if r == 2:
            return self.rng.randint(-5, 5)
        return self.rng.choice(STRINGS)

    def value(self, depth: int = 3) -> Any:
        r = self.rng.randrange(6)
        if depth <= 0 or r < 3:
            return self.scalar()
        if r == 3:
            return [self.value(depth - 1) for _ in range(self.rng.randrange(4))]
        return {self.rng.choice(KEYS): self.value(depth - 1) for _ in range(self.rng.randrange(4))}

    def record(self) -> Any:
        if self.rng.random() < 0.3:
            return cloudtrail_record(self.rng)
        return {k: self.value() for k in KEYS if self.rng.random() < 0.6}


def cloudtrail_record(rng: random.Random) -> dict[str, Any]:
    """A CloudTrail-shaped record with the usual fields, some null, some of unexpected types."""
    return {
        "eventVersion": "1.08",
        "eventName": rng.choice(["GetObject", "ListBuckets", "CreateUser", "ConsoleLogin", "PutBucketPolicy"]),
        "eventSource": rng.choice(["s3.amazonaws.com", "iam.amazonaws.com", "signin.amazonaws.com"]),
        "userIdentity": rng.choice([{"type": "Root", "arn": "arn:aws:iam::1:root"},
                                    {"type": "IAMUser", "userName": "alice"}, None, "odd"]),
        "requestParameters": rng.choice([None, {"bucketName": "b", "x": 1}, {}, [1, "x"], {"policy": "é"}]),
        "responseElements": rng.choice([None, {"ConsoleLogin": "Success"}, {"ConsoleLogin": "Failure"}]),
        "errorCode": rng.choice([None, "AccessDenied"]) if rng.random() < 0.5 else "AccessDenied",
        "readOnly": rng.choice([True, False]),
        "a": rng.choice([None, 1, "a", [1, 2], {"b": 2}, 1.5]),
        "b": rng.choice([0, "b", [], {"a": 1}]),
    }


def run(seed: int, programs: int, inputs: int) -> tuple[int, int, list[tuple[str, Any, str]]]:
    """(accepted programs, pairs compared, divergences) for one seed."""
    rng = random.Random(seed)
    pgen, vgen = ProgramGen(rng), ValueGen(rng)
    accepted = pairs = 0
    divergences = []
    for _ in range(programs):
        program = pgen.program()
        compiled = compile_or_none(program)
        if compiled is None:
            continue
        accepted += 1
        values = [vgen.record() for _ in range(inputs)] + [vgen.value() for _ in range(inputs // 2)]
        for value in values:
            pairs += 1
            diff = difference(program, value, compiled)
            if diff is not None:
                divergences.append((program, value, diff))
                break
    return accepted, pairs, divergences


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--seed", type=int, default=None, help="start seed (default: random)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    deadline, totals, found = time.monotonic() + args.seconds, [0, 0], 0
    while time.monotonic() < deadline:
        accepted, pairs, divergences = run(seed, 200, 6)
        totals[0] += accepted
        totals[1] += pairs
        for program, value, diff in divergences:
            found += 1
            print(f"seed {seed}: {program!r} on {value!r}: {diff}")
        seed += 1
    print(f"programs accepted {totals[0]}, pairs {totals[1]}, divergences {found}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
