"""Test helpers: a local HTTP server standing in for Slack, log-file builders, corpus access."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
COMPAT = SHARED / "compat"
BENCH = SHARED / "bench"
EVENTS = Path(__file__).resolve().parent / "events"


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.json.gz")) if CORPUS.is_dir() else []


def load_event(name: str) -> dict[str, Any]:
    """A raw event fixture from tests/events/."""
    return json.loads((EVENTS / name).read_text())


def log_bytes(records: list[Any], *, gz: bool = True) -> bytes:
    """A CloudTrail log file holding ``records``."""
    data = json.dumps({"Records": records}).encode()
    return gzip.compress(data) if gz else data


def s3_event(bucket: str, *keys: str) -> dict[str, Any]:
    """An S3 ObjectCreated notification for ``keys`` (given already URL-encoded, as S3 sends them)."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-20T10:10:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": key, "size": 1024}},
    } for key in keys]}


class FakeSlack:
    """A local HTTP server recording the webhook POSTs it accepts. Its answers are scripted:
    ``statuses`` are used in order (then ``answer(n)``, by default 200). An answer is a status code,
    ``(429, retry_after)``, ``"hang"`` (no answer for ``hang_seconds``: the client times out) or
    ``"drop"`` (the connection is closed with no answer). Only a 200 counts as delivered."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.statuses: list[Any] = []
        self.requests = 0
        self.hang_seconds = 1.0
        self.answer: Any = lambda n: 200
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.requests += 1
                    action = outer.statuses.pop(0) if outer.statuses else outer.answer(outer.requests)
                    if action == 200:
                        outer.posts.append(json.loads(body))
                        outer.paths.append(self.path)
                if action == "hang":
                    time.sleep(outer.hang_seconds)
                    return
                if action == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, retry_after = action if isinstance(action, tuple) else (action, None)
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"invalid_token")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/services/T000/B000/SECRETTOKEN") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
