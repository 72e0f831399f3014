"""The Lambda's configuration, loaded once per container and reused while unchanged.

A local file (``TATTLETAIL_CONFIG`` or ``tattletail.toml`` beside the code) is read once. A config in
S3 (``S3_CONFIG_BUCKET`` + ``S3_CONFIG_PATH``) is read again only when its ETag changed (a conditional
GET answered 304 costs no parse and no compile). A config in S3 that turns invalid keeps the last good
one in use, and says so in the log: a typo pushed to the bucket must not stop alerting. The engine is
built with the config, so rules compile once per container.
"""

from __future__ import annotations

import logging
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
        raise ConfigError([f"{where}: cannot read: {aws.describe(exc)}"]) from None
    text = response["Body"].read().decode("utf-8", errors="replace")
    try:
        config = loads(text, where, settings.bundle_dir(),  # packs ship in the zip
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
