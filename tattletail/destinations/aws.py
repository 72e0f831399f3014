"""boto3 clients for destinations, created on first use.

boto3 is imported lazily so ``tattletail check`` works without it, and clients use botocore's
``standard`` retry mode. ``AWS_ENDPOINT_URL`` is honoured by boto3 itself; nothing here overrides it.
"""

from __future__ import annotations

from typing import Any


def client(service: str, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=region, config=Config(retries={"mode": "standard"}))
