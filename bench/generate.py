"""Write a large, realistic CloudTrail log file for benchmarks (deterministic for a given seed).

The mix follows what real trails hold: mostly Describe/List/Get/AssumeRole/Decrypt calls, a small
share of interesting events (sessions, IAM changes, console logins, errors), identities of every
type, and request/response bodies of varying size (about 1.3 KB a record on average).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random

ACCOUNT = "123456789012"
NOISE = [("ec2.amazonaws.com", n) for n in ("DescribeInstances", "DescribeVolumes", "DescribeSecurityGroups",
                                           "DescribeSubnets", "DescribeTags")]
NOISE += [("s3.amazonaws.com", n) for n in ("GetBucketAcl", "ListObjects", "GetObject", "HeadBucket")]
NOISE += [("sts.amazonaws.com", "AssumeRole"), ("kms.amazonaws.com", "Decrypt"),
          ("kms.amazonaws.com", "GenerateDataKey"), ("iam.amazonaws.com", "GetUser"),
          ("iam.amazonaws.com", "ListRoles"), ("logs.amazonaws.com", "CreateLogStream"),
          ("ssm.amazonaws.com", "GetParameter"), ("lambda.amazonaws.com", "ListFunctions20150331")]
INTERESTING = [
    ("ssm.amazonaws.com", "StartSession"), ("ssm.amazonaws.com", "TerminateSession"),
    ("ssm.amazonaws.com", "ResumeSession"), ("iam.amazonaws.com", "CreateAccessKey"),
    ("iam.amazonaws.com", "CreateUser"), ("iam.amazonaws.com", "AttachUserPolicy"),
    ("iam.amazonaws.com", "CreateRole"), ("iam.amazonaws.com", "DeactivateMFADevice"),
    ("signin.amazonaws.com", "ConsoleLogin"), ("cloudtrail.amazonaws.com", "StopLogging"),
    ("cloudtrail.amazonaws.com", "UpdateTrail"), ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
    ("ec2.amazonaws.com", "RunInstances"), ("ec2.amazonaws.com", "TerminateInstances"),
    ("s3.amazonaws.com", "PutBucketPolicy"), ("s3.amazonaws.com", "DeleteBucket"),
    ("kms.amazonaws.com", "ScheduleKeyDeletion"), ("guardduty.amazonaws.com", "DeleteDetector"),
    ("ssm.amazonaws.com", "SendCommand"), ("secretsmanager.amazonaws.com", "GetSecretValue"),
]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"]


def identity(rng: random.Random) -> dict:
    kind = rng.choices(["AssumedRole", "IAMUser", "AWSService", "Root", "FederatedUser"], [50, 25, 20, 3, 2])[0]
    if kind == "AWSService":
        return {"type": "AWSService", "invokedBy": rng.choice(["ec2.amazonaws.com", "lambda.amazonaws.com"])}
    if kind == "Root":
        return {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT}
    if kind == "IAMUser":
        name = rng.choice(["alice", "bob", "ci-deployer", "terraform"])
        return {"type": "IAMUser", "principalId": "AIDA" + "X" * 17, "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
                "accountId": ACCOUNT,
                "accessKeyId": rng.choice(["AKIA", "ASIA"]) + "EXAMPLE%08d" % rng.randrange(10**8),
                "userName": name}
    role = rng.choice(["Admin", "ReadOnly", "ec2-app", "OrganizationAccountAccessRole"])
    session = rng.choice(["botocore-session-1700000000", "alice", "i-0a1b2c3d4e5f67890", "AWSCLI-Session"])
    return {"type": kind, "principalId": f"AROAEXAMPLE:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}", "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLE%08d" % rng.randrange(10**8),
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                                                 "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "accountId": ACCOUNT,
                                                 "userName": role},
                               "webIdFederationData": {},
                               "attributes": {"creationDate": "2026-11-20T08:00:00Z",
                                              "mfaAuthenticated": rng.choice(["true", "false"])}}}


def body(rng: random.Random, name: str) -> tuple[dict | None, dict | None]:
    params: dict = {"maxResults": rng.choice([50, 100, "1"])}
    if name in ("StartSession", "SendCommand", "TerminateInstances"):
        params = {"target": "i-0%016x" % rng.randrange(16**16), "documentName": "AWS-RunShellScript",
                  "instanceIds": ["i-0%016x" % rng.randrange(16**16)],
                  "instancesSet": {"items": [{"instanceId": "i-0%016x" % rng.randrange(16**16)}]}}
    elif name == "AssumeRole":
        params = {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/ec2-app", "durationSeconds": rng.choice([900, 3600, 43200]),
                  "roleSessionName": rng.choice(["botocore-session-1700000000", "alice"])}
    elif name == "AuthorizeSecurityGroupIngress":
        params = {"groupId": "sg-0123456789abcdef0", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22,
                  "toPort": 22, "ipRanges": {"items": [{"cidrIp": rng.choice(["0.0.0.0/0", "10.0.0.0/8"])}]}}]}}
    elif name in ("CreateUser", "CreateAccessKey", "AttachUserPolicy"):
        params = {"userName": rng.choice(["deploy-bot", "eve"]),
                  "policyArn": rng.choice(["arn:aws:iam::aws:policy/AdministratorAccess",
                                           "arn:aws:iam::aws:policy/ReadOnlyAccess"])}
    elif name == "PutBucketPolicy":
        params = {"bucketName": "data",
                  "bucketPolicy": {"Statement": [{"Sid": "Public", "Effect": "Allow", "Principal": "*"}]}}
    elif rng.random() < 0.05:
        params = None
    padding = rng.choice([0, 0, 200, 600, 2000])
    if params is not None and padding:
        params["filterSet"] = {"items": [{"name": "tag:Name", "valueSet": {"items": [{"value": "x" * padding}]}}]}
    response = None
    if name in ("CreateAccessKey",):
        response = {"accessKey": {"accessKeyId": "AKIAEXAMPLE00000001", "status": "Active", "userName": "deploy-bot"}}
    elif name == "ConsoleLogin":
        response = {"ConsoleLogin": rng.choice(["Success", "Failure"])}
    elif rng.random() < 0.15:
        response = {"items": [{"id": "%032x" % rng.randrange(16**32)} for _ in range(rng.randrange(1, 8))]}
    return params, response


def record(rng: random.Random, n: int) -> dict:
    source, name = rng.choice(INTERESTING) if rng.random() < 0.03 else rng.choice(NOISE)
    params, response = body(rng, name)
    ident = identity(rng)
    rec = {
        "eventVersion": "1.09", "userIdentity": ident,
        "eventTime": "2026-11-20T%02d:%02d:%02dZ" % (n // 3600 % 24, n // 60 % 60, n % 60),
        "eventSource": source, "eventName": name, "awsRegion": rng.choice(REGIONS),
        "sourceIPAddress": ident.get("invokedBy") or rng.choice(["203.0.113.24", "198.51.100.7", "10.1.2.3"]),
        "userAgent": rng.choice(["aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.1", "Boto3/1.34.0 Python/3.11",
                                 "console.amazonaws.com", "aws-sdk-go/1.44.0 (go1.21; linux; amd64) kali"]),
        "requestParameters": params, "responseElements": response,
        "requestID": "%08x-0000-4000-8000-%012x" % (n, n), "eventID": "%08x-1111-4000-9000-%012x" % (n, n),
        "readOnly": name.startswith(("Describe", "List", "Get", "Head")), "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": ACCOUNT, "eventCategory": "Management",
    }
    if rng.random() < 0.08:
        rec["errorCode"] = rng.choice(["AccessDenied", "UnauthorizedOperation", "ThrottlingException"])
        rec["errorMessage"] = "User is not authorized to perform this operation"
    if name == "ConsoleLogin":
        rec["additionalEventData"] = {"MFAUsed": rng.choice(["Yes", "No"]), "LoginTo": "https://console.aws.amazon.com"}
    return rec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output")
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with gzip.open(args.output, "wt", compresslevel=6) as out:
        out.write('{"Records":[')
        for n in range(args.records):
            if n:
                out.write(",")
            out.write(json.dumps(record(rng, n)))
        out.write("]}")


if __name__ == "__main__":
    main()
