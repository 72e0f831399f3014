"""The IAM policy a config needs, and no more: one list of statements, two renderings.

``statements(config)`` derives what the function does with this config: read the trail's log objects
(and list the trail prefix, so a deleted object reads as missing rather than denied), read the config
object, publish to exactly the configured topics, send email from exactly the configured identities,
read exactly the referenced secrets, write its own logs, and use the state table, dead letter queue
and inbox queue when the stack has them. Resources are written as ``Fn::Sub`` templates over the
CloudFormation stack's parameters; ``cloudformation`` renders them for ``template.yaml`` (so the
template's role is generated from the same statements) and ``concrete`` fills in real names for
``tattletail policy``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, TextIO

from tattletail import settings
from tattletail.commands.common import DEFAULT_CONFIG, load_config, write_file
from tattletail.config.loader import Config
from tattletail.config.secrets import Reference
from tattletail.destinations import Ses, Sns
from tattletail.errors import PolicyError

PARTITION = "arn:${AWS::Partition}"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9:.]+)\}")


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]                      # Fn::Sub templates; literal values never contain "${"
    when: str | None = None                         # the stack condition (and concrete value) enabling it
    conditions: dict[str, Any] = field(default_factory=dict)
    in_template: bool = True                        # False: only for setups the template does not build


def _literal(value: str) -> str:
    return value.replace("${", "${!")  # Fn::Sub escape; config values are validated and never contain it


def _secret_arn(ref: Reference) -> str | None:
    if ref.kind == "env":
        return None
    if ref.name.startswith("arn:"):
        return _literal(ref.name if ref.kind == "ssm" else f"{ref.name}*")
    if ref.kind == "ssm":
        name = ref.name if ref.name.startswith("/") else f"/{ref.name}"
        return f"{PARTITION}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{_literal(name)}"
    return f"{PARTITION}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{_literal(ref.name)}-??????"


def _plain(config: Config, dest_id: str, key: str, value: Any) -> Any:
    if any(d == dest_id and k == key for d, k, _ in config.references):
        raise PolicyError(f"destination {dest_id!r}: {key} is a secret reference; derive the policy with "
                          "--resolve so its value is known")
    return value


def statements(config: Config) -> list[Statement]:
    found = [
        Statement("WriteOwnLogs", ("logs:CreateLogStream", "logs:PutLogEvents"),
                  (f"{PARTITION}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/${{FunctionName}}:*",)),
        Statement("ReadTrailLogs", ("s3:GetObject",), (f"{PARTITION}:s3:::${{TrailBucket}}/${{TrailPrefix}}*",)),
        Statement("ListTrailPrefix", ("s3:ListBucket",), (f"{PARTITION}:s3:::${{TrailBucket}}",),
                  conditions={"StringLike": {"s3:prefix": "${TrailPrefix}*"}}),
        Statement("ReadConfig", ("s3:GetObject",), (f"{PARTITION}:s3:::${{ConfigBucket}}/${{ConfigKey}}",),
                  when="HasS3Config"),
    ]
    topics = sorted({_plain(config, d.id, "sns_arn", d.sns_arn) for d in config.destinations.values()
                     if isinstance(d, Sns)})
    if topics:
        found.append(Statement("PublishAlerts", ("sns:Publish",), tuple(_literal(t) for t in topics)))
    identities: set[str] = set()
    for d in config.destinations.values():
        if isinstance(d, Ses):
            sender = _plain(config, d.id, "from_email", d.from_email)
            region = _literal(_plain(config, d.id, "region", d.region)) if d.region else "${AWS::Region}"
            base = f"{PARTITION}:ses:{region}:${{AWS::AccountId}}:identity/"
            identities |= {base + _literal(sender), base + _literal(sender.rsplit("@", 1)[-1])}
    if identities:
        found.append(Statement("SendAlertEmail", ("ses:SendEmail", "ses:SendRawEmail"), tuple(sorted(identities))))
    by_kind: dict[str, set[str]] = {"ssm": set(), "secretsmanager": set()}
    for _, _, ref in config.references:
        arn = _secret_arn(ref)
        if arn:
            by_kind[ref.kind].add(arn)
    if by_kind["ssm"]:
        found.append(Statement("ReadSecretParameters", ("ssm:GetParameter",), tuple(sorted(by_kind["ssm"]))))
    if by_kind["secretsmanager"]:
        found.append(Statement("ReadSecrets", ("secretsmanager:GetSecretValue",),
                               tuple(sorted(by_kind["secretsmanager"]))))
    found += [
        Statement("DeliveryState", ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                     "dynamodb:BatchGetItem"),
                  ("${StateTable.Arn}",), when="CreateStateTable"),
        Statement("DeadLetters", ("sqs:SendMessage",), ("${DeadLetterQueue.Arn}",), when="CreateDeadLetterQueue"),
        Statement("DeadLettersInS3", ("s3:PutObject",),
                  (f"{PARTITION}:s3:::${{DeadLetterBucket}}/${{DeadLetterPrefix}}*",),
                  when="HasS3DeadLetters", in_template=False),
        Statement("ReadInbox", ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
                  ("${InboxQueue.Arn}",), when="FrontIsSqs"),
    ]
    return found


def _sub(text: str) -> Any:
    return {"Fn::Sub": text} if "${" in text else text


def _document(statement: Statement, render: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"Sid": statement.sid, "Effect": "Allow", "Action": list(statement.actions),
                           "Resource": [render(r) for r in statement.resources]}
    if statement.conditions:
        doc["Condition"] = {op: {k: render(v) for k, v in kv.items()} for op, kv in statement.conditions.items()}
    return doc


def cloudformation(config: Config) -> list[Any]:
    """The statements for the template's role: conditional ones under ``Fn::If``."""
    out: list[Any] = []
    for statement in statements(config):
        if not statement.in_template:
            continue
        doc = _document(statement, _sub)
        out.append({"Fn::If": [statement.when, doc, {"Ref": "AWS::NoValue"}]} if statement.when else doc)
    return out


def concrete(config: Config, values: dict[str, str]) -> dict[str, Any]:
    """The IAM policy with real names. ``values`` maps each placeholder (``TrailBucket``,
    ``AWS::AccountId``, ``StateTable.Arn``, ...) to its value, and each condition to enable (present
    and truthy)."""

    def fill(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            if m.group(1) not in values:
                raise PolicyError(f"no value for {m.group(1)}")
            return values[m.group(1)]

        return _PLACEHOLDER.sub(one, text).replace("${!", "${")

    docs = [_document(s, fill) for s in statements(config) if s.when is None or values.get(s.when)]
    return {"Version": "2012-10-17", "Statement": docs}


def partition_of(region: str) -> str:
    return "aws-us-gov" if region.startswith("us-gov-") else "aws-cn" if region.startswith("cn-") else "aws"


BEGIN = "# BEGIN statements generated by `tattletail template`"
END = "# END statements"


def render_template(template: str, config: Config) -> str:
    """``template`` with the role's statements replaced by those of ``config`` (JSON is YAML)."""
    import json

    lines = template.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.strip().startswith(BEGIN))
        end = next(i for i, line in enumerate(lines) if i > start and line.strip().startswith(END))
    except StopIteration:
        raise PolicyError(f"the template has no '{BEGIN}' ... '{END}' block") from None
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    body = json.dumps(cloudformation(config), indent=2).replace("\n", "\n" + indent + "  ")
    return "".join(lines[: start + 1]) + f"{indent}Statement: {body}\n" + "".join(lines[end:])


def cmd_template(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config, err)
    if config is None:
        return 1
    try:
        with open(args.template, encoding="utf-8") as fh:
            rendered = render_template(fh.read(), config)
    except OSError as exc:  # outside a clone there is no template.yaml: say which option names it
        print(f"error: {args.template}: {exc.strerror or exc} (--template: the SAM template to fill in, "
              "template.yaml of a tattletail clone)", file=err)
        return 1
    except PolicyError as exc:
        print(f"error: {exc}", file=err)
        return 1
    if args.output:
        write_file(args.output, rendered)
    else:
        out.write(rendered)
    return 0


def cmd_policy(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config, err, resolve=args.resolve)
    if config is None:
        return 1
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    values = {"AWS::Partition": partition_of(region), "AWS::Region": region,
              "AWS::AccountId": args.account_id or "*", "FunctionName": args.function_name,
              "TrailBucket": args.trail_bucket or "*", "TrailPrefix": args.trail_prefix}
    if args.account_id is None:
        print("note: no --account-id; account fields are '*'", file=err)
    if args.trail_bucket is None:
        print("note: no --trail-bucket; the trail bucket is '*'", file=err)
    config_bucket = args.config_bucket or os.environ.get(settings.S3_CONFIG_BUCKET)
    if config_bucket:
        values.update(HasS3Config="1", ConfigBucket=config_bucket,
                      ConfigKey=args.config_key or os.environ.get(settings.S3_CONFIG_PATH) or "tattletail.toml")
    if args.state_table:
        arn = args.state_table if args.state_table.startswith("arn:") else (
            f"arn:{values['AWS::Partition']}:dynamodb:{region}:{values['AWS::AccountId']}:table/{args.state_table}")
        values.update(CreateStateTable="1", **{"StateTable.Arn": arn})
    if args.dlq_url:
        host, _, path = args.dlq_url.removeprefix("https://").partition("/")
        account, _, name = path.partition("/")
        queue_region = host.split(".")[1] if host.startswith("sqs.") else region
        values.update(CreateDeadLetterQueue="1", **{
            "DeadLetterQueue.Arn": f"arn:{values['AWS::Partition']}:sqs:{queue_region}:{account}:{name}"})
    if args.dlq_s3:
        bucket, _, prefix = args.dlq_s3.removeprefix("s3://").partition("/")
        values.update(HasS3DeadLetters="1", DeadLetterBucket=bucket, DeadLetterPrefix=prefix)
    try:
        document = concrete(config, values)
    except PolicyError as exc:
        print(f"error: {exc}", file=err)
        return 1
    out.write(json.dumps(document, indent=2) + "\n")
    return 0


def account_arg(value: str) -> str:
    """An AWS account id for argparse: anything but 12 digits is a usage error (exit 2), not a policy
    with a wrong ARN in it."""
    if not re.fullmatch(r"\d{12}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an AWS account id (12 digits)")
    return value


def register(sub: Any) -> None:
    tpl = sub.add_parser("template", help="template.yaml with the role's statements derived from a config")
    tpl.add_argument("--config", default=DEFAULT_CONFIG)
    tpl.add_argument("--template", default="template.yaml")
    tpl.add_argument("-o", "--output")
    tpl.set_defaults(func=cmd_template)

    pol = sub.add_parser("policy", help="the least-privilege IAM policy the function needs for a config")
    pol.add_argument("--config", default=DEFAULT_CONFIG)
    pol.add_argument("--trail-bucket")
    pol.add_argument("--trail-prefix", default="AWSLogs/")
    pol.add_argument("--config-bucket", help=f"config in S3 (default: ${settings.S3_CONFIG_BUCKET})")
    pol.add_argument("--config-key")
    pol.add_argument("--state-table", help="DynamoDB table name or ARN")
    pol.add_argument("--dlq-url", help="SQS dead letter queue URL")
    pol.add_argument("--dlq-s3", help="s3://bucket/prefix for dead letters")
    pol.add_argument("--function-name", default="tattletail")
    pol.add_argument("--region")
    pol.add_argument("--account-id", type=account_arg, help="the 12-digit AWS account id")
    pol.add_argument("--resolve", action="store_true", help="read secrets that hold ARNs or addresses")
    pol.set_defaults(func=cmd_policy)
