"""``[[correlation]]`` tables checked at load, packs with correlations, ``check --explain``, ``test``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tattletail.commands import main
from tattletail.config import loader
from tattletail.errors import ConfigError
from tests.helpers import ROOT

BASE = '''
[[rule]]
name = "Failed"
jq_match = 'select(.eventName == "ConsoleLogin")'

[[rule]]
name = "Created"
jq_match = 'select(.eventName == "CreateUser")'

[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "https://hooks.slack.com/services/T/B/X"
'''


def load(correlation: str) -> loader.Config:
    return loader.loads(BASE + correlation, "c.toml")


def problems(correlation: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(correlation)
    return info.value.problems


def test_a_correlation_loads_with_its_alert_rule_bound_to_its_destinations() -> None:
    config = load('''
[[correlation]]
name = "Brute force"
type = "event_count"
rules = ["Failed"]
group_by = [".userIdentity.arn"]
timespan = "5m"
condition = { gt = 9 }
destinations = ["Slack"]
severity = "high"
''')
    (correlation,) = config.correlations
    assert correlation.needed == 10 and correlation.timespan == 300 and correlation.lateness == 3600
    assert correlation.alert_rule.destinations == ("Slack",) and correlation.alert_rule.severity == "high"
    assert [r.destinations for r in config.rules] == [(), ()]  # base rules need no destinations
    assert "1 correlations" in config.summary()


@pytest.mark.parametrize(("table", "message"), [
    ('type = "event_count"\nrules = ["Nope"]\ntimespan = "5m"\ncondition = { gte = 3 }',
     "correlation 'X': unknown rule 'Nope' (defined: 'Failed', 'Created')"),
    ('type = "event_count"\nrules = ["Failed"]\ntimespan = "5 minutes"\ncondition = { gte = 3 }',
     "timespan '5 minutes' is not a duration"),
    ('type = "event_count"\nrules = ["Failed"]\ntimespan = "5m"\nlateness = "-1m"\ncondition = { gte = 3 }',
     "lateness '-1m' is not a duration"),
    ('type = "event_count"\nrules = ["Failed"]\ntimespan = "5m"\ncondition = { lt = 3 }',
     "lt, lte and eq need the window to close"),
    ('type = "event_count"\nrules = ["Failed"]\ntimespan = "5m"\ncondition = { gte = 5000 }',
     "condition { gte = 5000 } is out of range: gte takes 1 to 1000"),
    ('type = "event_count"\nrules = ["Failed"]\ntimespan = "5m"\ncondition = { gt = 1000 }',
     "condition { gt = 1000 } is out of range: gt takes 0 to 999"),
    ('type = "temporal"\nrules = ["Failed", "Created"]\ntimespan = "5m"\ncondition = { gt = 2 }',
     "condition { gt = 2 } is out of range: gt takes 0 to 1 (temporal counts at most its 2 rules)"),
    ('type = "value_count"\nrules = ["Failed"]\ntimespan = "5m"\ncondition = { gte = 3 }\nfield = ".a"\n'
     'weight = ".n"', "'weight' is for event_count only, not value_count"),
    ('type = "event_count"\nrules = ["Failed"]\ntimespan = "5m"',
     "missing key 'condition'"),
    ('type = "sliding"\nrules = ["Failed"]\ntimespan = "5m"\ncondition = { gte = 3 }',
     "unknown type 'sliding' (valid: event_count, value_count, temporal, temporal_ordered)"),
    ('type = "event_count"\nrules = ["Failed"]\ntimespan = "5m"\ncondition = { gte = 3 }\ngroup_by = [".a | ("]',
     "invalid group_by path '.a | ('"),
    ('type = "event_count"\nrules = ["Failed"]\ntimespan = "5m"\ncondition = { gte = 3 }\ngroup_by = ["who"]',
     "group_by 'who' is neither a jq path (starting with '.') nor an alias"),
    ('type = "value_count"\nrules = ["Failed"]\ntimespan = "5m"\ncondition = { gte = 3 }',
     "value_count needs 'field'"),
    ('type = "event_count"\nrules = ["Failed"]\ntimespan = "5m"\ncondition = { gte = 3 }\nfield = ".a"',
     "'field' is for value_count only"),
    ('type = "temporal"\nrules = ["Failed", "Created"]\ntimespan = "5m"\ngroup_by = ["u"]\n'
     'aliases = { u = { "Failed" = ".a" } }', "aliases.u gives no path for 'Created'"),
    ('type = "event_count"\nrules = ["Failed"]\ntimespan = "5m"\ncondition = { gte = 3 }\ndestinations = ["Slak"]',
     "unknown destination 'Slak' (defined: \"Slack\")"),
    ('type = "event_count"\nrules = ["Failed"]\ntimespan = "5m"\ncondition = { gte = 3 }\nwindow = "5m"',
     "unknown key 'window'"),
])
def test_invalid_correlations_are_refused_naming_file_and_correlation(table: str, message: str) -> None:
    found = problems(f'[[correlation]]\nname = "X"\n{table}\n')
    assert any(p.startswith("c.toml: correlation 'X': ") and message in p for p in found), found


def test_a_correlation_may_not_take_a_rule_name() -> None:
    found = problems('[[correlation]]\nname = "Failed"\ntype = "temporal"\nrules = ["Failed", "Created"]\n'
                     'timespan = "1h"\n')
    assert any("name already used by a rule or correlation" in p for p in found)


def _config_including_pack(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "tattletail.toml"
    config.write_text(f'''
[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "https://hooks.slack.com/services/T/B/X"

[[include]]
path = "{ROOT / "rules" / "correlations.toml"}"
destinations = ["Slack"]
{extra}
''')
    return config


def test_an_included_pack_binds_its_correlations_not_their_base_rules(tmp_path: Path) -> None:
    config = loader.load(_config_including_pack(tmp_path, 'severity = { "S3 mass deletion" = "critical" }'))
    assert len(config.correlations) == 5
    assert all(c.destinations == ("Slack",) for c in config.correlations)
    assert all(r.destinations == () for r in config.rules)
    assert {c.name: c.alert_rule.severity for c in config.correlations}["S3 mass deletion"] == "critical"


def test_disabling_a_base_rule_of_an_enabled_correlation_is_refused(tmp_path: Path) -> None:
    path = _config_including_pack(tmp_path, 'disable = ["Correlation input: S3 object deleted"]')
    with pytest.raises(ConfigError, match="a base rule of correlation 'S3 mass deletion'"):
        loader.load(path)
    path = _config_including_pack(tmp_path, 'disable = ["Correlation input: S3 object deleted", "S3 mass deletion"]')
    assert len(loader.load(path).correlations) == 4


def test_check_explain_says_what_each_correlation_counts(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["check", "--explain", str(_config_including_pack(tmp_path))], out=out, err=io.StringIO()) == 0
    text = out.getvalue()
    assert "5 correlations" in text
    assert ("correlation Console password spraying: value_count over 'Correlation input: console sign-in failed'; "
            "fires when gte 10 distinct .userIdentity.userName // .userIdentity.arn per account, .sourceIPAddress "
            "in a 1h window (overlapping: always within 30m) (records up to 1h late still count)") in text


def test_the_correlation_pack_cases_pass() -> None:
    out = io.StringIO()
    assert main(["test", str(ROOT / "rules" / "correlations.toml")], out=out, err=io.StringIO()) == 0, out.getvalue()
    assert "15 passed, 0 failed (6 rules, 5 correlations, 0 without" in out.getvalue()


def test_a_wrong_correlation_case_fails_and_says_what_happened(tmp_path: Path) -> None:
    record = {"eventID": "e{}", "eventTime": "2026-11-02T10:00:0{}Z", "eventName": "ConsoleLogin",
              "userIdentity": {"arn": "arn:aws:iam::1:user/bob"}}
    records = [json.dumps(record).replace("{}", str(n)) for n in range(3)]
    pack = tmp_path / "pack.toml"
    pack.write_text(f'''
[[rule]]
name = "Failed"
jq_match = 'select(.eventName == "ConsoleLogin")'

[[correlation]]
name = "Three failures"
type = "event_count"
rules = ["Failed"]
group_by = [".userIdentity.arn"]
timespan = "1m"
condition = {{ gte = 3 }}

[[correlation.test]]
fire = true
count = 3
records = {json.dumps(records)}

[[correlation.test]]
name = "wrong on purpose"
fire = false
records = {json.dumps(records)}
''')
    out = io.StringIO()
    assert main(["test", str(pack)], out=out, err=io.StringIO()) == 1
    text = out.getvalue()
    assert "FAILED" in text and "correlation 'Three failures': test[2] 'wrong on purpose'" in text
    assert "got:      fired once counting 3" in text and "1 passed, 1 failed" in text
