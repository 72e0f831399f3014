"""One test of a placeholder (``base.is_placeholder``), used by ``check``'s warning, ``validate`` and
``unusable`` alike."""

from __future__ import annotations

import pytest

from tattletail.config import loader
from tattletail.destinations.base import is_placeholder
from tattletail.errors import ConfigError
from tests.helpers import ROOT

CONFIG = """\
[[rule]]
name = "R"
jq_match = 'select(.eventName == "CreateUser")'
destinations = ["S"]

[[destination]]
id = "S"
type = "slack_webhook"
webhook_url = "{url}"
"""

PLACEHOLDERS = [
    "https://hooks.slack.com/services/...",  # the README's own example
    "https://hooks.slack.com/services/T0AB/B0CD/TODO",
    "https://hooks.slack.com/services/{{token}}",
    "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",  # the bundled demo URL
    "https://hooks.slack.com/services/YOUR/WEBHOOK/URL",
    "___YOUR_SLACK_WEBHOOK___",
    "https://hooks.slack.com/services/change-me",
]


@pytest.mark.parametrize("url", PLACEHOLDERS)
def test_check_warns_for_every_kind_of_placeholder(url: str) -> None:
    assert is_placeholder(url)
    config = loader.loads(CONFIG.format(url=url))
    (warning,) = config.warnings
    assert "is a placeholder, not a Slack webhook URL" in warning and set(config.placeholders) == {"S"}
    assert config.destinations["S"].unusable() == "webhook_url is a placeholder, not a webhook URL"


def test_the_bundled_demo_url_is_a_placeholder() -> None:
    config = loader.load(ROOT / "tattletail.toml")
    assert "Slack Audit" in config.placeholders


@pytest.mark.parametrize("url", [
    "https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/aBcDeFgYOURhIjKlMnOpQrStU",  # YOUR inside a token
    "https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/xTODOxchangemeXXXXXXq1",
    "https://yourteam.example/hook",
])
def test_a_real_url_that_merely_contains_the_letters_is_sendable(url: str) -> None:
    assert not is_placeholder(url)
    config = loader.loads(CONFIG.format(url=url), sending=True)
    assert config.warnings == () and config.placeholders == {}


def test_a_url_without_a_scheme_says_so_rather_than_placeholder() -> None:
    with pytest.raises(ConfigError, match="webhook_url must start with https://") as raised:
        loader.loads(CONFIG.format(url="hooks.slack.com/services/T01ABCDEF/B02GHIJKL/secrettoken"))
    assert "placeholder" not in str(raised.value) and "secrettoken" not in str(raised.value)
