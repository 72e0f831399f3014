from __future__ import annotations

from tattletail.settings import config_location


def test_s3_wins_when_both_variables_are_set() -> None:
    env = {"S3_CONFIG_BUCKET": "b", "S3_CONFIG_PATH": "k.toml", "TATTLETAIL_CONFIG": "/x.toml"}
    assert str(config_location(env)) == "s3://b/k.toml"


def test_then_the_path_variable_then_the_bundled_file() -> None:
    assert str(config_location({"S3_CONFIG_BUCKET": "b", "TATTLETAIL_CONFIG": "/x.toml"})) == "/x.toml"
    assert str(config_location({"LAMBDA_TASK_ROOT": "/var/task"})) == "/var/task/tattletail.toml"
