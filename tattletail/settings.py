"""Every environment variable tattletail reads, in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

S3_CONFIG_BUCKET = "S3_CONFIG_BUCKET"
S3_CONFIG_PATH = "S3_CONFIG_PATH"
TATTLETAIL_CONFIG = "TATTLETAIL_CONFIG"
LOG_LEVEL = "TATTLETAIL_LOG_LEVEL"
STATE_TABLE = "TATTLETAIL_STATE_TABLE"     # DynamoDB table of delivery keys (idempotency across invocations)
DLQ_URL = "TATTLETAIL_DLQ_URL"             # SQS queue for dead letters
DLQ_S3 = "TATTLETAIL_DLQ_S3"               # or s3://bucket/prefix for dead letters
RULE_BUDGET = "TATTLETAIL_RULE_BUDGET"     # seconds an unproven rule may take on one record (engine)
LAMBDA_MEMORY = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # MB, set by Lambda (sizes the isolation child's limit)

BUNDLED_CONFIG_NAME = "tattletail.toml"


@dataclass(frozen=True)
class ConfigLocation:
    """Where the Lambda reads its configuration: an S3 object or a local path."""

    bucket: str | None = None
    key: str | None = None
    path: str | None = None

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.is_s3 else str(self.path)


def bundle_dir(environ: Mapping[str, str] | None = None) -> str:
    """Where the deployed code lives: the Lambda task root, else the directory above the package."""
    env = os.environ if environ is None else environ
    return env.get("LAMBDA_TASK_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def config_location(environ: Mapping[str, str] | None = None, bundle: str | None = None) -> ConfigLocation:
    """S3 (both variables set) wins, then ``TATTLETAIL_CONFIG``, then ``tattletail.toml`` beside the code."""
    env = os.environ if environ is None else environ
    bucket, key = env.get(S3_CONFIG_BUCKET), env.get(S3_CONFIG_PATH)
    if bucket and key:
        return ConfigLocation(bucket=bucket, key=key)
    if env.get(TATTLETAIL_CONFIG):
        return ConfigLocation(path=env[TATTLETAIL_CONFIG])
    return ConfigLocation(path=os.path.join(bundle or bundle_dir(env), BUNDLED_CONFIG_NAME))
