"""Secrets masked in every encoding, and nothing but secrets masked.

urllib3 re-encodes the URL it sends (``%2f`` -> ``%2F``, ``[`` -> ``%5B``, a space -> ``%20``), an endpoint
may echo the path decoded or lower-cased, and a proxy may encode it twice: every one of these forms of
a webhook's token must be masked in errors, logs and dead letters. And masking must not garble the
ordinary words a log holds (a query ``?debug=true`` must not turn every ``true`` into ``***``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote

import pytest
import urllib3

from tattletail import log, redact
from tattletail.config import secrets
from tattletail.destinations import SlackWebhook
from tattletail.errors import DeliveryError

# Three secret runs, joined by characters urllib3 re-encodes or that have several encodings.
RUNS = ("Zq7TokenRunOne4sRv", "Kd2SecondRun8Wq", "Hy5ThirdRun1Lm")
ODD_TOKEN = f"{RUNS[0]}%2f{RUNS[1]}[x]~%7e{RUNS[2]}"
ODD_QUERY = "Qx8QueryRun3mW5%2Btail"
ODD_URL = f"http://127.0.0.1:9/services/T0ODD/B0ODD/{ODD_TOKEN}?token={ODD_QUERY}&debug=true"


def assert_masked(text: str) -> None:
    lowered = text.lower()
    for run in (*RUNS, "Qx8QueryRun3mW5"):
        assert run.lower() not in lowered, f"secret {run} leaked in: {text}"


def forms_of(url: str) -> list[str]:
    """The ways a URL or its path is quoted back: as urllib3 sends it, decoded, with lower- or
    upper-case escapes, lower-cased whole, encoded once more, and as a form would encode it."""
    sent = urllib3.util.parse_url(url)
    path = sent.request_uri
    return [url, sent.url, path, unquote(path), path.lower(), path.upper().replace("%2F", "%2f"),
            quote(path, safe="/?&="), quote(unquote(path), safe=""), path.replace("%20", "+"),
            f"Max retries exceeded with url: {path} (Caused by ...)", f"POST {sent.url} -> 404 {unquote(path)}"]


def test_every_encoding_of_the_token_is_scrubbed() -> None:
    for text in forms_of(ODD_URL):
        assert_masked(redact.scrub(text, ODD_URL))


def test_every_encoding_of_a_registered_url_is_redacted() -> None:
    redact.register(ODD_URL)
    for text in forms_of(ODD_URL):
        masked = redact.redact(f"error: {text} (after 3 tries)")
        assert_masked(masked)
        assert masked.startswith("error: ") and masked.endswith(" (after 3 tries)")


class _Echo(BaseHTTPRequestHandler):
    """Answers 404 quoting the request line as it arrived (urllib3's encoding) and decoded."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = f"no_service {self.path} ({unquote(self.path)}) {self.path.lower()}".encode()
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def test_an_endpoint_echoing_the_re_encoded_url_cannot_leak_it(echo_port: int) -> None:
    url = ODD_URL.replace(":9/", f":{echo_port}/")
    with pytest.raises(DeliveryError) as caught:
        SlackWebhook("s", url, timeout=5).deliver({"text": "x"})
    message = str(caught.value)
    assert "HTTP 404: no_service" in message  # the endpoint's answer is shown, its secret is not
    assert_masked(message)


@pytest.mark.parametrize("url", [
    "https://hooks.slack.com/services/T0AB1CD2E/B0AB1CD2E/Xy9AbCdEfGhIjKlMn?debug=true&channel=alerts#user",
    "https://user@hooks.slack.com/services/T0AB1CD2E/B0AB1CD2E/Xy9AbCdEfGhIjKlMn?true",
    "https://hooks.slack.com/services/T0AB1CD2E/B0AB1CD2E/Xy9AbCdEfGhIjKlMn?verbose=on#services",
])
def test_ordinary_words_of_a_secret_url_are_not_masked_elsewhere(url: str) -> None:
    text = "user alice set debug=true for channel=alerts (verbose=on, true, services/hooks)"
    assert redact.scrub(text, url) == text
    redact.register(url)
    assert redact.redact(text) == text
    assert "Xy9AbCdEfGhIjKlMn" not in redact.redact(f"sent to {url.split('?')[0]}")  # the token still is


def test_a_path_of_ordinary_words_is_still_masked_as_the_urls_own() -> None:
    url = "https://chat.example.com/webhook/abcdefghij?kind=alert"
    text = "Max retries exceeded with url: /webhook/abcdefghij?kind=alert; kind=alert and webhook stay"
    assert redact.scrub(text, url) == "Max retries exceeded with url: ***; kind=alert and webhook stay"


@pytest.mark.parametrize(("piece", "secret_like"), [
    ("true", False), ("debug=true", False), ("channel=alerts", False), ("services", False), ("2026", False),
    ("T0AB1CD2E", True), ("Xy9AbCdEfGhIjKlMn", True), ("abcdefghijklmnopqrstuvwx", True),
    ("user:hunter22", True), ("/services/T/B/X", True),
])
def test_only_secret_like_pieces_are_masked_on_their_own(piece: str, secret_like: bool) -> None:
    assert redact.secret_like(piece) is secret_like


def test_a_log_line_through_the_lambda_logger_keeps_its_words(caplog: pytest.LogCaptureFixture) -> None:
    redact.register("https://hooks.slack.com/services/T0AB1CD2E/B0AB1CD2E/Xy9Zz8Yy7Ww6?state=true#user")
    with caplog.at_level(logging.INFO, logger="tattletail"):
        log.emit("rule_matched", logging.INFO, rule="Create User", user="user", mfa="true", state="true")
    line = caplog.records[-1].getMessage()
    assert '"user": "user"' in line and '"mfa": "true"' in line and "***" not in line


@pytest.mark.parametrize(("message", "value", "expected"), [
    ("from_email is not an email address: 'e'", "e",
     "from_email is not an email address: (the value of ${V})"),
    ("region us is not a region: 'us'; use us-east-1", "us",
     "region us is not a region: (the value of ${V}); use us-east-1"),
    ("timeout must be between 0 and 60 seconds, not abcd; abcdef keeps", "abcd",
     "timeout must be between 0 and 60 seconds, not (the value of ${V}); abcdef keeps"),
    ('to_emails has an entry that is not an email address: "a-long-bad-value"', "a-long-bad-value",
     "to_emails has an entry that is not an email address: (the value of ${V})"),
])
def test_hide_names_the_reference_without_garbling_the_message(message: str, value: str, expected: str) -> None:
    assert secrets.hide(message, {value: "${V}"}) == expected
