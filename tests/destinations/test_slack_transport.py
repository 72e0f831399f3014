"""The Slack webhook's transport (urllib3, the runtime's HTTP stack): one POST per attempt, what is worth
retrying said by the exception's type, the server's Retry-After kept, and the webhook URL (a secret) in
no message, against a local HTTP server."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import pytest

from tattletail.destinations.slack import SlackWebhook
from tattletail.errors import DeliveryError, RetryableDeliveryError
from tests.helpers import ROOT, FakeSlack

MESSAGE = {"text": "héllo <b>", "blocks": []}


def test_a_post_is_the_rendered_json(slack: FakeSlack) -> None:
    SlackWebhook("S", slack.url()).deliver(MESSAGE)
    assert slack.posts == [MESSAGE] and slack.paths == ["/services/T000/B000/SECRETTOKEN"]


@pytest.mark.parametrize(("answer", "kind", "retry_after"), [
    ((429, 7), RetryableDeliveryError, 7.0),
    (503, RetryableDeliveryError, None),
    ("hang", RetryableDeliveryError, None),
    ("drop", RetryableDeliveryError, None),
    (404, DeliveryError, None),
])
def test_failures_say_whether_to_retry_and_never_show_the_url(slack: FakeSlack, answer: object, kind: type,
                                                              retry_after: float | None) -> None:
    slack.statuses = [answer]
    slack.hang_seconds = 1.5
    with pytest.raises(DeliveryError) as info:
        SlackWebhook("S", slack.url(), timeout=0.5).deliver(MESSAGE)
    assert type(info.value) is kind
    assert getattr(info.value, "retry_after", None) == retry_after
    assert "SECRETTOKEN" not in str(info.value) and "T000/B000" not in str(info.value)
    masked = r'^destination "S" \(slack_webhook http://127\.0\.0\.1(:\d+)?/\*\*\*\): '
    assert re.search(masked, str(info.value))


def test_a_refused_connection_is_retryable_and_hides_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    with pytest.raises(RetryableDeliveryError) as info:
        SlackWebhook("S", f"http://127.0.0.1:{port}/services/T1/B2/SECRETTOKEN", timeout=2).deliver(MESSAGE)
    assert "SECRETTOKEN" not in str(info.value) and "B2" not in str(info.value)


def test_requests_is_no_longer_needed() -> None:
    """Running a delivery imports no ``requests`` (it would have to be shipped in the zip)."""
    code = ("import sys, json; from tattletail.destinations.slack import SlackWebhook\n"
            "from tests.helpers import FakeSlack\n"
            "s = FakeSlack(); SlackWebhook('S', s.url()).deliver({'text': 'x'}); s.close()\n"
            "print(json.dumps(['requests' in sys.modules, 'urllib3' in sys.modules, len(s.posts)]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert json.loads(done.stdout) == [False, True, 1], done.stderr
