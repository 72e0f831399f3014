"""TOML text -> dict, and the type and key checks every table of a configuration goes through.

Kept apart from what the tables mean (rules, destinations, includes) because every part of the loader
reads tables the same way: a file decoded with a BOM allowed, unknown and missing keys reported, types
named as TOML names them (``string``, ``table``), not Python (``str``, ``dict``). ``Findings`` is where
the parts put what they find, so that every problem of a file is reported at once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

Spec = dict[str, tuple[type, bool]]  # key -> (type, required)

_TYPE_NAMES = {str: "a string", list: "an array", bool: "a boolean", int: "an integer", dict: "a table",
               float: "a float"}


@dataclass
class Findings:
    """The problems (errors) and warnings found while checking one configuration and its packs; each
    message names its file (``source`` unless another is given) and where in it."""

    source: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, where: str, message: str, source: str | None = None) -> None:
        self.problems.append(f"{source or self.source}: {where}: {message}")

    def warn(self, where: str, message: str, source: str | None = None) -> None:
        self.warnings.append(f"{source or self.source}: {where}: {message}")


def read_toml(path: str | Path, problems: list[str]) -> dict[str, Any] | None:
    """The parsed file, or ``None`` with the reason appended to ``problems``."""
    source = str(path)
    try:
        return tomllib.loads(Path(path).read_bytes().decode("utf-8-sig"))  # a BOM (Notepad) is not an error
    except OSError as exc:
        problems.append(f"{source}: cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        problems.append(f"{source}: not UTF-8 text: {exc}")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{source}: invalid TOML: {exc}")
    return None


def is_pack(data: dict[str, Any]) -> bool:
    """A pack holds rules only; a configuration also has destinations or includes."""
    return "rule" in data and not ({"destination", "include"} & set(data))


def toml_type(value: Any) -> str:
    """The TOML name of a parsed value's type, as a user wrote it (not Python's ``str``, ``dict``)."""
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"), (list, "array"),
                       (dict, "table"), (datetime, "datetime"), (date, "date"), (time, "time")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def top_level(data: dict[str, Any], source: str, valid: tuple[str, ...], problems: list[str],
              note: str = "") -> None:
    """Report top-level keys other than the ``valid`` arrays of tables."""
    for key in data:
        if key not in valid:
            problems.append(f"{source}: unknown top-level key {key!r} "
                            f"(valid: {', '.join(f'[[{k}]]' for k in valid)}){note}")


def array(data: dict[str, Any], key: str, source: str, problems: list[str]) -> list[Any]:
    """The ``[[key]]`` array of tables (empty when absent, reported when not an array)."""
    value = data.get(key, [])
    if not isinstance(value, list):
        problems.append(f"{source}: {key!r} must be an array of tables ([[{key}]])")
        return []
    return value


def check_keys(table: Any, spec: Spec, where: str, problems: list[str],
               extra_note: str = "") -> tuple[dict[str, Any], bool]:
    """The table's known values of the right type, and whether every required key is there with the
    right type. Unknown, missing and mistyped keys are reported; the values that are fine are still
    returned, so the caller checks them too and every problem is reported at once."""
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table, not {toml_type(table)}")
        return {}, False
    ok = True
    for key in table:
        if key not in spec:
            valid = ", ".join(sorted(spec))
            problems.append(f"{where}: unknown key {key!r}{extra_note} (valid: {valid})")
    values: dict[str, Any] = {}
    for key, (kind, required) in spec.items():
        if key not in table:
            if required:
                problems.append(f"{where}: missing key {key!r}")
                ok = False
        elif not is_type(table[key], kind):
            problems.append(f"{where}: {key!r} must be {_TYPE_NAMES.get(kind, kind.__name__)}, "
                            f"not {toml_type(table[key])}")
            ok = False
        else:
            values[key] = table[key]
    return values, ok


def table_or_none(table: Any, spec: Spec, where: str, problems: list[str],
                  extra_note: str = "") -> dict[str, Any] | None:
    """``check_keys`` for a checker that goes on only with a whole table (the correlation checker)."""
    values, ok = check_keys(table, spec, where, problems, extra_note)
    return values if ok else None


def is_type(value: Any, kind: type) -> bool:
    """TOML's types as Python's: booleans are not numbers, and a float setting takes an integer."""
    if isinstance(value, bool):
        return kind in (bool, object)
    return isinstance(value, kind) or (kind is float and isinstance(value, int))
