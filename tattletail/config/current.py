"""The Lambda's configuration, loaded once per container and reused while unchanged.

A local file (``TATTLETAIL_CONFIG`` or ``tattletail.toml`` beside the code) is read once. A config in
S3 (``S3_CONFIG_BUCKET`` + ``S3_CONFIG_PATH``) is read again only when its ETag changed (a conditional
GET answered 304 costs no parse and no compile). A config in S3 that turns invalid keeps the last good
one in use, and says so in the log: a typo pushed to the bucket must not stop alerting. A config in S3
is UTF-8 text, exactly as a local file must be: other bytes make it invalid (never guessed at with
replacement characters, which could silently change what a rule compares). An S3 read that fails (denied,
throttled, network) keeps the last good config too. A cold container with nothing good to keep falls back to
the ``tattletail.toml`` bundled in the zip when there is one, logging the error each time S3 cannot be read;
without a bundled config (or with an invalid one in S3) it raises ``ConfigError``, every invocation, until
S3 answers with a valid config. The engine is built with the config, so rules compile once per container.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from tattletail import aws, log, settings
from tattletail.config import secrets
from tattletail.config.loader import Config, load, loads
from tattletail.engine import Engine
from tattletail.errors import ConfigError


@dataclass
class Loaded:
    """A configuration in use, with where it came from and its engine."""

    location: str
    etag: str | None
    config: Config
    engine: Engine
    fallback: str | None = None  # the bundled config in use because ``location`` could not be read


_loaded: Loaded | None = None  # per container


def reset() -> None:
    """Forget the loaded config (a new container; tests)."""
    global _loaded
    _loaded = None


def current() -> Loaded:
    """The config in use, (re)loaded as described above. An invalid config with nothing good to keep
    raises ``ConfigError``."""
    global _loaded
    location = settings.config_location()
    where = str(location)
    if not location.is_s3:
        if _loaded is None or _loaded.location != where:
            config = load(location.path or "", resolve=secrets.Resolver(), sending=True)
            _loaded = Loaded(where, None, config, Engine(config.rules))
            log.emit("config_loaded", source=where, rules=len(config.rules))
        return _loaded
    kwargs = {"Bucket": location.bucket, "Key": location.key}
    if _loaded is not None and _loaded.location == where and _loaded.etag:
        kwargs["IfNoneMatch"] = _loaded.etag
    try:
        response = aws.client("s3").get_object(**kwargs)
    except Exception as exc:  # botocore: 304, missing, denied, network
        if aws.http_status(exc) == 304 and _loaded is not None:
            return _loaded
        return _unreadable(where, f"{where}: cannot read: {aws.describe(exc)}")
    try:
        config = loads(_text(response["Body"].read(), where), where, settings.bundle_dir(),  # packs ship in the zip
                       resolve=secrets.Resolver(), sending=True)
    except ConfigError as exc:
        if _loaded is None or _loaded.location != where:
            raise
        log.emit("config_invalid_kept_previous", logging.ERROR, source=where, etag=response.get("ETag"),
                 kept_etag=_loaded.etag, problems=exc.problems)
        return _loaded
    _loaded = Loaded(where, response.get("ETag"), config, Engine(config.rules))
    log.emit("config_loaded", source=where, rules=len(config.rules), etag=response.get("ETag"))
    return _loaded


def _text(data: bytes, where: str) -> str:
    """The config's text, refused as the local loader refuses it when it is not UTF-8 (a BOM is fine)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{where}: not UTF-8 text: {exc}"]) from None


def _unreadable(where: str, problem: str) -> Loaded:
    """The config in S3 cannot be read: keep the last good one, else fall back to the bundled one (both with
    an error log), else raise ``ConfigError``."""
    global _loaded
    if _loaded is not None and _loaded.location == where:
        log.emit("config_unreadable_kept_previous", logging.ERROR, source=where, problem=problem,
                 kept_etag=_loaded.etag, kept=_loaded.fallback or where)
        return _loaded
    bundled = os.path.join(settings.bundle_dir(), settings.BUNDLED_CONFIG_NAME)
    if not os.path.isfile(bundled):
        raise ConfigError([problem])
    try:
        config = load(bundled, resolve=secrets.Resolver(), sending=True)
    except ConfigError as exc:
        raise ConfigError([problem, *exc.problems]) from None
    _loaded = Loaded(where, None, config, Engine(config.rules), fallback=bundled)
    log.emit("config_unreadable_using_bundled", logging.ERROR, source=where, problem=problem,
             bundled=bundled, rules=len(config.rules))
    return _loaded
