"""What the commands say reads as English and as jq, never as Python's internals."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tattletail import commands as cli
from tests.helpers import ROOT


def cli_run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(argv), out, err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("cases", "said"), [
    ("", "has no matching case and no close miss"),
    ("[[rule.test]]\nname = 'hit'\nmatch = true\nrecord = '{\"eventName\": \"CreateUser\"}'\n", "has no close miss"),
    ("[[rule.test]]\nname = 'miss'\nmatch = false\nrecord = '{\"eventName\": \"GetObject\"}'\n",
     "has no matching case"),
])
def test_test_names_the_missing_cases_in_english(cases: str, said: str, tmp_path: Path) -> None:
    full = ("[[rule]]\nname = 'Full'\njq_match = 'select(.eventName == \"CreateUser\")'\n"
            "[[rule.test]]\nname = 'hit'\nmatch = true\nrecord = '{\"eventName\": \"CreateUser\"}'\n"
            "[[rule.test]]\nname = 'miss'\nmatch = false\nrecord = '{\"eventName\": \"GetObject\"}'\n")
    (tmp_path / "p.toml").write_text(full + "[[rule]]\nname = 'R'\njq_match = 'select(.eventName == \"CreateUser\")'\n"
                                     + cases)
    _, out, _ = cli_run("test", str(tmp_path / "p.toml"))
    assert f"rule 'R' {said}" in out and "no a " not in out


@pytest.mark.parametrize(("argv", "choices"), [(["import"], "{sigma}"), (["backfill"], "{manifest}"),
                                               (["report"], "{sessions}")])
def test_a_missing_subcommand_is_named_by_its_choices(argv: list[str], choices: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_run(*argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and f"required: {choices}" in err and "format_" not in err


def test_check_of_an_empty_path_says_so() -> None:
    code, _, err = cli_run("check", "")
    assert code == 1 and "the config path is empty" in err and "Is a directory" not in err


def test_check_explain_shows_prefilter_values_as_jq_strings() -> None:
    code, out, _ = cli_run("check", "--explain", str(ROOT / "tattletail.toml"))
    assert code == 0
    assert 'evaluated only when eventSource in "ssm.amazonaws.com"' in out
    assert "['" not in out
