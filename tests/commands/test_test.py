"""``tattletail test``: the shipped packs pass, every rule has a match and a close miss, and a broken
rule fails, showing the rule, the case and what jq produced."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from tattletail import commands as cli
from tattletail.commands import test as ruletest
from tattletail.config import loader as config
from tests.helpers import ROOT

PACKS = ("ssm-session-manager", "iam", "cis-aws-foundations", "cloudtrail-tampering", "root-account", "console-login")


def run_test(*paths: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(["test", *paths], out, err), out.getvalue(), err.getvalue()


def test_shipped_packs_pass() -> None:
    code, out, err = run_test(str(ROOT / "rules"))
    assert code == 0, out + err
    assert " passed, 0 failed" in out and "0 without both a match and a close miss" in out


def test_every_rule_has_severity_description_a_match_and_a_close_miss() -> None:
    for name in PACKS:
        rules = config.load_pack(ROOT / "rules" / f"{name}.toml")
        assert rules, name
        assert ruletest.untested(rules) == []
        for rule in rules:
            assert rule.severity and rule.description, rule.name


def test_a_broken_rule_fails_and_shows_what_the_engine_gave(tmp_path: Path) -> None:
    pack = tmp_path / "iam.toml"
    shutil.copy(ROOT / "rules" / "iam.toml", pack)
    text = pack.read_text().replace('"CreateAccessKey" and .errorCode', '"CreateAccessKeys" and .errorCode')
    pack.write_text(text)
    code, out, _ = run_test(str(pack))
    assert code == 1
    assert f"FAILED {pack}: rule 'IAM access key created': test[1] 'key created for another user'" in out
    assert 'expected: match annotated "access key AKIAEXAMPLEKEYID0002 for deploy-bot by' in out
    assert "got:      no match" in out
    assert "1 failed" in out


def test_wrong_annotation_is_a_failure(tmp_path: Path) -> None:
    pack = tmp_path / "p.toml"
    pack.write_text("""
[[rule]]
name = "R"
jq_match = '"got: \\(.eventName | ascii_downcase)"'
[[rule.test]]
match = true
annotation = "got: X"
record = '{"eventName": "Y"}'
[[rule.test]]
name = "error counts as no match"
match = false
record = '{"eventName": null}'
""")
    results = ruletest.run(config.load_pack(pack))
    assert [r.passed for r in results] == [False, True]
    assert results[0].got == 'match annotated "got: y"'


def test_configs_and_their_includes_are_tested(tmp_path: Path) -> None:
    code, out, _ = run_test(str(ROOT / "tattletail.toml"))
    assert code == 0 and "(12 rules, 3 without both" in out  # the packs' cases run; its own 3 rules have none
    bare = tmp_path / "bare.toml"
    bare.write_text('[[rule]]\nname = "R"\njq_match = "."\n')
    code, out, err = run_test(str(bare))
    assert code == 1 and "no test cases: none of the 1 rules has a [[rule.test]] case" in err  # none is no pass
