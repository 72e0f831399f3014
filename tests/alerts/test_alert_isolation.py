"""Title and field programs are guarded like ``jq_match``: an unproven one runs in the isolation child
under the per-record budget, so a slow title cannot hold the Lambda past its deadline (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from tattletail import settings
from tattletail.alerts import alert as alert_module
from tattletail.alerts.alert import Alert
from tattletail.config import loader as config_module
from tattletail.rules import Match, Rule

RECORD = {"eventID": "e1", "eventName": "CreateUser", "userIdentity": {"userName": "alice"}}
ENDLESS = "0 | until(. < 0; . + 1) | tostring"  # ends in no budget: the counter only grows


@pytest.fixture(autouse=True)
def small_budget(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(settings.RULE_BUDGET, "0.3")
    yield
    for sandbox in alert_module._ISOLATED.values():
        sandbox.close()
    alert_module._ISOLATED.clear()
    alert_module._OVERRUNS.clear()


def alert_of(**options: Any) -> tuple[Alert, list[tuple[str, str]]]:
    rule = Rule.compiled("Slow", 'select(.eventName == "CreateUser")', **options)
    errors: list[tuple[str, str]] = []
    made = Alert.of(Match(rule, RECORD, RECORD, None), on_error=lambda r, what, msg: errors.append((what, msg)))
    return made, errors


def test_unproven_title_that_never_ends_is_stopped_by_the_budget_and_left_out() -> None:
    made, errors = alert_of(title=ENDLESS, fields=(("who", ".userIdentity.userName"),))
    assert made.title == "Slow"  # the rule's name stands in
    assert made.fields == (("who", "alice"),)
    assert [what for what, _ in errors] == ["title"]
    assert "budget of 0.3 s" in errors[0][1] and "evaluated isolated" in errors[0][1]


def test_a_title_that_keeps_overrunning_is_strained_to_a_short_budget() -> None:
    messages = [alert_of(title=ENDLESS)[1][0][1] for _ in range(6)]
    budgets = [m.split("budget of ")[1].split(" s")[0] for m in messages]
    assert budgets == ["0.3", "0.3", "0.3", "0.15", "0.075", "0.05"]


def test_unproven_field_that_never_ends_is_stopped_and_the_others_kept() -> None:
    made, errors = alert_of(title='"user \\(.userIdentity.userName)"',
                            fields=(("slow", ENDLESS), ("who", ".userIdentity.userName")))
    assert made.title == "user alice"
    assert made.fields == (("who", "alice"),)
    assert [what for what, _ in errors] == ["slow"]


def test_unproven_title_that_ends_gives_its_value_from_the_isolation_child() -> None:
    made, errors = alert_of(title='[limit(3; repeat(.eventName))] | join(",")')
    assert errors == []
    assert made.title == "CreateUser,CreateUser,CreateUser"
    assert alert_module._ISOLATED  # it did not run in-process


def test_proven_title_runs_in_process() -> None:
    made, errors = alert_of(title='"user \\(.userIdentity.userName)"')
    assert (made.title, errors, alert_module._ISOLATED) == ("user alice", [], {})


def test_check_warns_about_an_unproven_title_naming_rule_and_key(tmp_path: Any) -> None:
    path = tmp_path / "t.toml"
    path.write_text(f"""
[[rule]]
name = "Slow title"
jq_match = 'select(.eventName == "CreateUser")'
title = '{ENDLESS}'
""")
    warnings = config_module.load(path).warnings
    assert any("rule 'Slow title'" in w and "title is not proven" in w and "budget" in w for w in warnings), warnings
