#!/usr/bin/env python3
"""Drive moto (or AWS) with boto3, as a customer's pipeline would; prints exactly one JSON line.

    boto_client.py bootstrap --endpoint URL
        The account owner's first calls, inside moto's no-auth window: an IAM user `owner` with
        AdministratorAccess and an access key. Output: {"ok": true, "ak", "sk"}.
    boto_client.py call <iam|sts> <Action> [--params JSON] --endpoint URL [--ak AK --sk SK [--token T]]
        Any API action by its AWS name; string parameters are converted to the types the
        operation's model asks for (MaxSessionDuration "3600" -> 3600). Output: {"ok": true, "body"}.
    boto_client.py caller-identity --endpoint URL --ak AK --sk SK [--token T]
        Output: {"ok": true, "arn", "account", "user_id"}.
    boto_client.py chain-identity --endpoint URL
        GetCallerIdentity with the credentials boto3's default chain finds in the environment
        (AWS_* exports, a profile's credential_process, AWS_CONTAINER_CREDENTIALS_FULL_URI ...).
        Output: {"ok": true, "arn", "account", "method"} (method: how boto3 got them, e.g.
        "env", "custom-process", "container-role"); {"ok": false, "code": <exception>,
        "message"} when the chain fails.
    boto_client.py role <RoleName> --endpoint URL --ak --sk
        A role as IAM has it: {"ok": true, "role", "trust", "attached": [arn...],
        "inline": {name: document}}.

An AWS error is {"ok": false, "code", "message", "status", "request_id"}. Exit status 0 for
success and AWS errors, 2 for usage errors, 1 for a crash.
"""
import argparse
import json
import sys
import urllib.parse


def client(service, args):
    import boto3
    from botocore.config import Config
    kw = {}
    if args.ak:
        kw = {"aws_access_key_id": args.ak, "aws_secret_access_key": args.sk, "aws_session_token": args.token}
    else:
        # Inside the no-auth window moto needs no real key; boto3 still wants one to sign with.
        kw = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "bootstrap"}
    return boto3.client(service, endpoint_url=args.endpoint, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10), **kw)


def coerce(shape, value):
    """A string from the setup kit, as the operation's model types it."""
    if shape is None or not isinstance(value, str):
        return value
    t = shape.type_name
    if t in ("integer", "long"):
        return int(value)
    if t == "boolean":
        return value.lower() == "true"
    if t == "list":
        return value if isinstance(value, list) else json.loads(value)
    return value


def call(service, action, params, args):
    c = client(service, args)
    op = c.meta.service_model.operation_model(action)
    members = op.input_shape.members if op.input_shape else {}
    kwargs = {k: coerce(members.get(k), v) for k, v in params.items()}
    method = {v: k for k, v in c.meta.method_to_api_mapping.items()}[action]
    body = getattr(c, method)(**kwargs)
    body.pop("ResponseMetadata", None)
    return body


def error(e):
    from botocore.exceptions import ClientError
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        meta = e.response.get("ResponseMetadata", {})
        return {"ok": False, "code": err.get("Code"), "message": err.get("Message"),
                "status": meta.get("HTTPStatusCode"), "request_id": meta.get("RequestId")}
    from botocore.exceptions import BotoCoreError
    if isinstance(e, BotoCoreError):
        # A credential provider's failure (credential_process, container credentials).
        return {"ok": False, "code": type(e).__name__, "message": str(e)}
    raise e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command")
    ap.add_argument("rest", nargs="*")
    ap.add_argument("--params", default="{}")
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--ak")
    ap.add_argument("--sk")
    ap.add_argument("--token")
    args = ap.parse_args()
    try:
        if args.command == "bootstrap":
            iam = client("iam", args)
            iam.create_user(UserName="owner")
            iam.attach_user_policy(UserName="owner", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
            key = iam.create_access_key(UserName="owner")["AccessKey"]
            out = {"ok": True, "ak": key["AccessKeyId"], "sk": key["SecretAccessKey"]}
        elif args.command == "call":
            if len(args.rest) != 2:
                print(json.dumps({"ok": False, "code": "Usage", "message": "call <service> <Action>"}))
                return 2
            body = call(args.rest[0], args.rest[1], json.loads(args.params), args)
            out = {"ok": True, "body": body}
        elif args.command == "caller-identity":
            v = client("sts", args).get_caller_identity()
            out = {"ok": True, "arn": v["Arn"], "account": v["Account"], "user_id": v["UserId"]}
        elif args.command == "chain-identity":
            import boto3
            from botocore.config import Config
            session = boto3.Session(region_name="us-east-1")
            creds = session.get_credentials()
            if creds is None:
                out = {"ok": False, "code": "NoCredentials", "message": "the chain found none"}
            else:
                # Resolving them runs the provider (the process, the container endpoint).
                creds.get_frozen_credentials()
                sts = session.client("sts", endpoint_url=args.endpoint,
                                     config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10))
                v = sts.get_caller_identity()
                out = {"ok": True, "arn": v["Arn"], "account": v["Account"], "method": creds.method}
        elif args.command == "role":
            iam = client("iam", args)
            name = args.rest[0]
            role = iam.get_role(RoleName=name)["Role"]
            trust = role.pop("AssumeRolePolicyDocument", None)
            if isinstance(trust, str):
                trust = json.loads(urllib.parse.unquote(trust))
            attached = [p["PolicyArn"] for p in
                        iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
            inline = {}
            for p in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                doc = iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                inline[p] = json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc
            out = {"ok": True, "role": role, "trust": trust, "attached": attached, "inline": inline}
        else:
            print(json.dumps({"ok": False, "code": "Usage", "message": f"unknown command {args.command}"}))
            return 2
    except Exception as e:  # noqa: BLE001 - AWS errors are output, anything else is a crash
        out = error(e)
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
