from __future__ import annotations

import subprocess
import sys

import pytest

from tattletail.config import loader as config
from tattletail.errors import ConfigError
from tests.helpers import BENCH, COMPAT, ROOT

GOOD_DEST = '''
[[destination]]
id = "SNS"
type = "sns"
sns_arn = "arn:aws:sns:us-east-1:123456789012:alerts"
'''


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.loads(text, "t.toml")
    return info.value.problems


@pytest.mark.parametrize("name", ["example.tattletail.toml", "readme-example.tattletail.toml"])
def test_go_tool_configs_load_unchanged(name: str) -> None:
    if not COMPAT.is_dir():
        pytest.skip("../shared/compat is absent")
    loaded = config.load(COMPAT / name)
    assert {d.type for d in loaded.destinations.values()} == {"sns", "slack_webhook", "ses"}
    assert loaded.rules[0].name == "Create User"
    assert "\n" in loaded.rules[0].jq_match or name == "example.tattletail.toml"


def test_example_and_bench_configs_load() -> None:
    assert len(config.load(ROOT / "tattletail.toml").rules) == 12  # 3 of its own, 9 from two packs
    if BENCH.is_dir():
        assert len(config.load(BENCH / "rules50.toml").rules) == 50


def test_toml_syntax_error_has_line_and_column() -> None:
    (problem,) = problems('[[rule]]\nname = "x\n')
    assert problem.startswith("t.toml: invalid TOML:") and "line 2" in problem and "column" in problem


def test_unknown_and_missing_keys() -> None:
    found = problems('[[rule]]\nname = "R"\ndescriptoin = "typo"\ndestinations = []\n'
                     '[[rule]]\njq_match = "."\n')
    assert ("t.toml: rule 'R': unknown key 'descriptoin' (valid: author, description, destinations, "
            "digest_threshold, enabled, falsepositives, fields, jq_match, license, name, references, runbook, "
            "severity, "
            "sigma_id, test, title)") in found
    assert "t.toml: rule 'R': missing key 'jq_match'" in found
    assert "t.toml: rule[2]: missing key 'name'" in found


def test_unknown_top_level_key() -> None:
    assert problems("[[rules]]\nname='x'\n") == [
        "t.toml: unknown top-level key 'rules' (valid: [[rule]], [[correlation]], [[destination]], [[include]])"]


def test_unknown_destination_type_lists_valid_ones() -> None:
    (problem,) = problems('[[destination]]\nid = "Slack"\ntype = "slak_webhook"\n')
    assert problem == "t.toml: destination[1] 'Slack': unknown type 'slak_webhook' (valid: ses, slack_webhook, sns)"


def test_duplicate_destination_ids() -> None:
    assert problems(GOOD_DEST + GOOD_DEST) == ["t.toml: destination[2] 'SNS': duplicate destination id"]


def test_rule_naming_undefined_destination_lists_defined_ones() -> None:
    text = GOOD_DEST + '[[rule]]\nname = "Create User"\njq_match = "."\ndestinations = ["Slack"]\n'
    assert problems(text) == ["t.toml: rule 'Create User': unknown destination 'Slack' (defined: \"SNS\")"]


def test_sns_arn_must_be_an_arn() -> None:
    (problem,) = problems('[[destination]]\nid = "SNS"\ntype = "sns"\nsns_arn = "cloudtrail_alert"\n')
    assert problem.startswith("t.toml: destination[1] 'SNS': sns_arn is not an SNS topic ARN")


def test_empty_email_list() -> None:
    text = '[[destination]]\nid = "Mail"\ntype = "ses"\nto_emails = []\nfrom_email = "a@example.com"\n'
    assert problems(text) == ["t.toml: destination[1] 'Mail': to_emails is empty"]


def test_key_of_another_destination_type_is_unknown() -> None:
    (problem,) = problems(GOOD_DEST.replace('sns_arn', 'webhook_url = "https://x.example/y"\nsns_arn'))
    assert "unknown key 'webhook_url' for type 'sns'" in problem


def test_wrong_value_type() -> None:
    (problem,) = problems('[[rule]]\nname = "R"\njq_match = "."\ndestinations = "SNS"\n')
    assert problem == "t.toml: rule 'R': 'destinations' must be an array, not string"


def test_invalid_jq_quotes_jqs_own_message() -> None:
    (problem,) = problems('[[rule]]\nname = "Bad"\njq_match = "select(.eventName == "\n')
    assert problem.startswith("t.toml: rule 'Bad': invalid jq_match: jq: error: syntax error")


def test_every_error_is_reported_at_once() -> None:
    text = ('[[rule]]\nname = "A"\njq_match = "select("\ndestinations = ["Nope"]\n'
            '[[destination]]\nid = "X"\ntype = "carrier_pigeon"\n')
    assert len(problems(text)) == 3


def test_unreadable_file_names_it(tmp_path) -> None:
    with pytest.raises(ConfigError, match="missing.toml: cannot read"):
        config.load(tmp_path / "missing.toml")


def test_webhook_url_is_masked_in_repr() -> None:
    loaded = config.loads('[[destination]]\nid = "S"\ntype = "slack_webhook"\n'
                          'webhook_url = "https://hooks.slack.com/services/T1/B2/SECRET"\n')
    assert "SECRET" not in repr(loaded.destinations) and "hooks.slack.com/***" in repr(loaded.destinations)


def test_summary_line() -> None:
    assert config.load(ROOT / "tattletail.toml").summary() == (
        f"{ROOT / 'tattletail.toml'}: OK, 12 rules, 3 destinations (ses 1, slack_webhook 1, sns 1)")


def test_presentation_keys_are_checked() -> None:
    found = problems(GOOD_DEST.replace('sns_arn', 'timezone = "Asia/Tokio"\nlanguage = "fr"\nsns_arn')
                     + '[[rule]]\nname = "R"\njq_match = "."\nseverity = "urgent"\ntitle = "\\"x\\" +"\n'
                       'runbook = "wiki/page"\nfields = { "A" = ".a", "B" = 3, "C" = ".c |" }\n')
    assert "t.toml: destination[1] 'SNS': unknown language 'fr' (valid: en, ja)" in found
    assert any("unknown timezone 'Asia/Tokio'" in p for p in found)
    assert "t.toml: rule 'R': unknown severity 'urgent' (valid: info, low, medium, high, critical)" in found
    assert "t.toml: rule 'R': runbook is not an http(s) URL: 'wiki/page'" in found
    assert "t.toml: rule 'R': fields.B must be a jq program (a string), not integer" in found
    assert any(p.startswith("t.toml: rule 'R': invalid title: jq: error") for p in found)
    assert any(p.startswith("t.toml: rule 'R': invalid fields.C: jq: error") for p in found)


def test_presentation_keys_load() -> None:
    loaded = config.loads(GOOD_DEST.replace('sns_arn', 'timezone = "Asia/Tokyo"\nlanguage = "ja"\nsns_arn')
                          + '[[rule]]\nname = "R"\njq_match = "."\nseverity = "high"\ntitle = ".eventName"\n'
                            'fields = { "Who" = ".userIdentity.arn" }\nrunbook = "https://wiki/x"\n')
    rule = loaded.rules[0]
    assert (rule.severity, rule.title, rule.fields, rule.runbook) == (
        "high", ".eventName", (("Who", ".userIdentity.arn"),), "https://wiki/x")
    assert (loaded.destinations["SNS"].view.timezone, loaded.destinations["SNS"].view.language) == ("Asia/Tokyo", "ja")


def write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


PACK = """
[[rule]]
name = "A"
jq_match = 'select(.eventName == "A")'
severity = "high"

[[rule]]
name = "B"
jq_match = 'select(.eventName == "B")'
"""


def test_include_binds_a_pack_to_destinations_disables_and_overrides_severity(tmp_path) -> None:
    write(tmp_path / "rules" / "p.toml", PACK)
    cfg = write(tmp_path / "conf" / "tattletail.toml", GOOD_DEST + """
[[include]]
path = "../rules/p.toml"
destinations = ["SNS"]
disable = ["B"]
severity = { "A" = "low" }
""")
    (rule,) = config.load(cfg).rules
    assert (rule.name, rule.destinations, rule.severity) == ("A", ("SNS",), "low")
    assert rule.origin == str(tmp_path / "conf" / "../rules/p.toml")


def test_include_problems_name_the_pack_and_the_rule(tmp_path) -> None:
    write(tmp_path / "p.toml", PACK + '[[rule]]\nname = "C"\njq_match = "select("\ndestinations = ["SNS"]\n'
          '[[destination]]\nid = "X"\n')
    cfg = write(tmp_path / "t.toml", GOOD_DEST + """
[[include]]
path = "p.toml"
destinations = ["Nope"]
disable = ["Z"]
severity = { "A" = "urgent" }

[[include]]
path = "missing.toml"
""")
    with pytest.raises(ConfigError) as info:
        config.load(cfg)
    found = "\n".join(info.value.problems)
    pack = tmp_path / "p.toml"
    assert (f"{pack}: unknown top-level key 'destination' (valid: [[rule]], [[correlation]]) "
            "(a rule pack holds [[rule]] and [[correlation]] tables only)") in found
    assert f"{pack}: rule 'C': a rule pack names no destinations" in found
    assert f"{cfg}: include 'p.toml': unknown destination 'Nope' (defined: \"SNS\")" in found
    assert f"{cfg}: include 'p.toml': disable names no rule or correlation of the pack: 'Z'" in found
    assert "unknown severity 'urgent' for 'A'" in found
    assert (f"{cfg}: [[include]] 2 path = 'missing.toml': no such pack ({tmp_path / 'missing.toml'}); "
            f"packs in {tmp_path}: p.toml, t.toml") in found


def test_rule_names_are_unique_across_config_and_packs(tmp_path) -> None:
    write(tmp_path / "p.toml", PACK)
    cfg = write(tmp_path / "t.toml", '[[rule]]\nname = "A"\njq_match = "."\n[[include]]\npath = "p.toml"\n')
    with pytest.raises(ConfigError, match="rule 'A': duplicate rule name"):
        config.load(cfg)


def test_rule_test_cases_are_checked(tmp_path) -> None:
    found = problems('[[rule]]\nname = "R"\njq_match = "."\n[[rule.test]]\nmatch = "yes"\n'
                     '[[rule.test]]\nmatch = true\n[[rule.test]]\nmatch = true\nrecord = "{}"\nfile = "x.json"\n')
    assert "t.toml: rule 'R': test[1]: 'match' must be a boolean, not string" in found
    assert "t.toml: rule 'R': test[2] needs exactly one of 'record' (JSON text) or 'file'" in found
    assert "t.toml: rule 'R': test[3] needs exactly one of 'record' (JSON text) or 'file'" in found


@pytest.mark.parametrize("program", ["1", '"hello"', ".", "select(true)", "now > 0"])
def test_a_rule_that_reads_no_field_and_matches_warns_that_it_matches_everything(program: str) -> None:
    loaded = config.loads(f"[[rule]]\nname = \"r\"\njq_match = '{program}'\n")
    assert any("matches every record" in w for w in loaded.warnings), loaded.warnings


@pytest.mark.parametrize("program", ['select(.eventName == "X")', "select(.errorCode == null)", "false", "empty"])
def test_rules_that_read_fields_or_never_match_do_not_warn_so(program: str) -> None:
    loaded = config.loads(f"[[rule]]\nname = \"r\"\njq_match = '{program}'\n")
    assert not any("matches every record" in w for w in loaded.warnings), loaded.warnings


def test_records_read_by_index_warns_like_dot_records() -> None:
    loaded = config.loads("[[rule]]\nname = \"r\"\njq_match = '.[\"Records\"][]? | select(.eventName == \"X\")'\n")
    assert any("reads .Records" in w for w in loaded.warnings), loaded.warnings


@pytest.mark.parametrize("program", ["until(false; .)", "def f: f; f", "repeat(1)", "[range(1e12)] | length > 0"])
def test_the_matches_everything_lint_never_runs_a_program_that_may_not_end(program: str) -> None:
    """The lint evaluates a program that reads no field; one the guard cannot prove ends must not run."""
    code = ("import sys\nfrom tattletail.config import loader\n"
            "try:\n    loader.loads(sys.argv[1])\nexcept Exception:\n    pass")
    result = subprocess.run([sys.executable, "-c", code,
                             f"[[rule]]\nname = \"r\"\njq_match = '{program}'\n"], timeout=60, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()[-500:]
