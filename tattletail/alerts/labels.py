"""Labels of every message, per language. Add a language by adding a column to ``LABELS``."""

from __future__ import annotations

LANGUAGES = ("en", "ja")

LABELS: dict[str, dict[str, str]] = {
    "rule": {"en": "Rule", "ja": "ルール"},
    "description": {"en": "Description", "ja": "説明"},
    "severity": {"en": "Severity", "ja": "重要度"},
    "time": {"en": "Time", "ja": "発生時刻"},
    "event": {"en": "Event", "ja": "イベント名"},
    "service": {"en": "Service", "ja": "サービス"},
    "region": {"en": "Region", "ja": "リージョン"},
    "account": {"en": "Account", "ja": "アカウント"},
    "who": {"en": "User", "ja": "ユーザー"},
    "identity_type": {"en": "Identity type", "ja": "ID種別"},
    "session": {"en": "Role session", "ja": "ロールセッション名"},
    "source_ip": {"en": "Source IP", "ja": "接続元IPアドレス"},
    "user_agent": {"en": "User agent", "ja": "ユーザーエージェント"},
    "target": {"en": "Target", "ja": "対象リソース"},
    "resources": {"en": "Resources", "ja": "リソースARN"},
    "result": {"en": "Result", "ja": "結果"},
    "failed": {"en": "Failed", "ja": "失敗"},
    "error": {"en": "Error", "ja": "エラー"},
    "match": {"en": "Match", "ja": "検出内容"},
    "runbook": {"en": "Runbook", "ja": "対応手順"},
    "console": {"en": "View in the CloudTrail console", "ja": "CloudTrailコンソールで表示"},
    "record": {"en": "CloudTrail record", "ja": "CloudTrailレコード"},
    "shortened": {"en": "shortened", "ja": "一部省略"},
    "event_id": {"en": "Event ID", "ja": "イベントID"},
    "sent_by": {"en": "Sent by tattletail", "ja": "tattletailによる通知"},
    "by": {"en": "by", "ja": "実行者"},
    "digest_in": {"en": "matches in one log file", "ja": "件のマッチ（1つのログファイル）"},
    "object": {"en": "Log file", "ja": "ログファイル"},
    "count": {"en": "Matches", "ja": "マッチ件数"},
    "first_matches": {"en": "First matches", "ja": "最初のマッチ"},
    "by_who": {"en": "By user", "ja": "ユーザー別"},
    "by_event": {"en": "By event", "ja": "イベント別"},
    "info": {"en": "Info", "ja": "情報"},
    "low": {"en": "Low", "ja": "低"},
    "medium": {"en": "Medium", "ja": "中"},
    "high": {"en": "High", "ja": "高"},
    "critical": {"en": "Critical", "ja": "緊急"},
}


def label(key: str, language: str) -> str:
    """The label ``key`` in ``language`` (English when a translation is missing)."""
    entry = LABELS[key]
    return entry.get(language) or entry["en"]
