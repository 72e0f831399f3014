"""Secrets kept out of the zip and the config: a destination's string values may reference them.

- ``ssm:/tattletail/slack-audit``: an SSM Parameter Store parameter (a SecureString is decrypted);
- ``secretsmanager:tattletail/slack#webhook_url``: a key of a JSON secret in Secrets Manager
  (without ``#key``: the whole secret string); a secret's full ARN works in place of its name;
- ``${ENV_NAME}``: an environment variable.

References are resolved when the config loads (so once per container, like the config) and the
values are never logged: errors name the destination and the reference, not the value, and a URL
read is registered with ``tattletail.redact`` so that no log line, error or dead letter can show it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tattletail import aws, redact
from tattletail.errors import SecretError

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_SSM_NAME = re.compile(r"^(/[A-Za-z0-9_.\-/]+|[A-Za-z0-9_.\-]+|arn:aws[a-z-]*:ssm:[^\s]+:parameter/[A-Za-z0-9_.\-/]+)$")
_SECRET_NAME = re.compile(r"^([A-Za-z0-9/_+=.@\-]+|arn:aws[a-z-]*:secretsmanager:[^\s]+)$")


@dataclass(frozen=True)
class Reference:
    kind: str           # ssm, secretsmanager, env
    name: str           # parameter name, secret id, or variable name
    key: str | None = None

    def __str__(self) -> str:
        if self.kind == "env":
            return f"${{{self.name}}}"
        return f"{self.kind}:{self.name}" + (f"#{self.key}" if self.key else "")


def parse(value: Any) -> Reference | None:
    """The reference a value holds, ``None`` for a plain value; ``SecretError`` when malformed."""
    if not isinstance(value, str):
        return None
    if value.startswith("${"):
        m = _ENV.match(value)
        if not m:
            raise SecretError(f"malformed environment reference {value!r} (write ${{NAME}})")
        return Reference("env", m.group(1))
    if value.startswith("ssm:"):
        name = value[4:]
        if not _SSM_NAME.match(name):
            raise SecretError(f"malformed SSM reference {value!r} (write ssm:/path/to/parameter)")
        return Reference("ssm", name)
    if value.startswith("secretsmanager:"):
        name, _, key = value[len("secretsmanager:"):].partition("#")
        if not _SECRET_NAME.match(name) or (_ and not key):
            raise SecretError(f"malformed Secrets Manager reference {value!r} (write secretsmanager:name#key)")
        return Reference("secretsmanager", name, key or None)
    return None


class Resolver:
    """Reads referenced secrets; clients are made on first use (``AWS_ENDPOINT_URL`` honoured)."""

    def __init__(self, environ: Mapping[str, str] | None = None, ssm: Any = None, secretsmanager: Any = None) -> None:
        self.environ = os.environ if environ is None else environ
        self._ssm, self._secretsmanager = ssm, secretsmanager

    def resolve(self, ref: Reference) -> str:
        """The value ``ref`` names; ``SecretError`` naming ``ref`` only. A URL read is registered with
        ``redact`` (a bearer secret, masked wherever printed); addresses and ARNs are not, as they
        must stay intact in what is sent (an email's From) and in dead letters."""
        value = self._read(ref)
        if "://" in value:
            redact.register(value)
        return value

    def _read(self, ref: Reference) -> str:
        if ref.kind == "env":
            if ref.name not in self.environ:
                raise SecretError(f"{ref}: environment variable {ref.name} is not set")
            return self.environ[ref.name]
        try:
            if ref.kind == "ssm":
                self._ssm = self._ssm or aws.client("ssm")
                return str(self._ssm.get_parameter(Name=ref.name, WithDecryption=True)["Parameter"]["Value"])
            self._secretsmanager = self._secretsmanager or aws.client("secretsmanager")
            text = self._secretsmanager.get_secret_value(SecretId=ref.name).get("SecretString")
        except Exception as exc:  # botocore: not found, access denied, KMS, network
            raise SecretError(f"{ref}: cannot read: {_short(exc)}") from None
        if not isinstance(text, str):
            raise SecretError(f"{ref}: the secret has no SecretString")
        if ref.key is None:
            return text
        try:
            value = json.loads(text)[ref.key]
        except (ValueError, KeyError, TypeError):
            raise SecretError(f"{ref}: the secret is not a JSON object with the key {ref.key!r}") from None
        if not isinstance(value, str):
            raise SecretError(f"{ref}: the value of {ref.key!r} is not a string")
        return value


def hide(message: str, resolved: Mapping[str, str]) -> str:
    """A problem found in resolved values (value -> its reference), naming each secret by its
    reference, never its value (nor its masked URL: even a secret URL's host is the secret's business).

    Validators quote a value (``repr``) or mask a URL, and those forms are always replaced. A value
    seen bare is replaced only where it stands as a word of its own, and only from 4 characters: a
    short value (``e``, ``on``, ``us``) would otherwise be cut out of every word of the message."""
    for value, ref in sorted(resolved.items(), key=lambda item: -len(item[0])):
        if not value:
            continue
        name = f"(the value of {ref})"
        masked = redact.mask_url(value)
        for form in (repr(value), json.dumps(value), f"'{value}'", *((masked,) if "://" in masked else ())):
            message = message.replace(form, name)
        if len(value) >= redact.MIN_SECRET:
            message = message.replace(value, name)
        elif len(value) >= 4:
            message = re.sub(rf"(?<![\w]){re.escape(value)}(?![\w])", name.replace("\\", "\\\\"), message)
    return message


def _short(exc: Exception) -> str:
    """What went wrong reading a secret, never what was read: AWS's own errors in full (code and
    message), anything else by its type alone (a message of unknown shape might quote the value)."""
    if aws.error_code(exc) or type(exc).__module__.startswith("botocore") or isinstance(exc, ModuleNotFoundError):
        return aws.describe(exc)
    return type(exc).__name__
