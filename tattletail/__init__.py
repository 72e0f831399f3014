"""tattletail: CloudTrail records -> jq rules -> Slack, SNS and SES alerts.

The package reads in the order data flows: ``sources`` (Lambda events) -> ``cloudtrail``
(log objects to records) -> ``rules`` / ``engine`` (records to matches) -> ``destinations``
(matches to messages), wired together by ``handler`` and ``cli``.
"""

__version__ = "0.1.0"
