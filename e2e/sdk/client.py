#!/usr/bin/env python3
"""Call Gatehouse's STS-compatible API with the official Python clients, for the integration tests.

    client.py MODE --endpoint HOST:PORT [--ak AK --sk SK [--token TOKEN]] [--uri URL]
              [--process "CMD"] [--action GetCallerIdentity|AssumeRole
              --role-arn ARN --session-name NAME [--duration-seconds N]]

MODE picks the client and how it gets its credentials:

  tea-v3              alibabacloud_sts20150401, default ACS3-HMAC-SHA256 signing; --ak/--sk/--token
  tea-rpc             the same client with signature_algorithm="v2" (RPC, HMAC-SHA1); --ak/--sk/--token
  legacy              aliyun-python-sdk-core AcsClient + aliyun-python-sdk-sts (RPC); --ak/--sk/--token
  credentials-uri     credentials only from alibabacloud_credentials' credentials_uri provider (--uri),
                      then GetCallerIdentity with tea-v3
  credential-process  credentials only from boto3's credential_process (--process, run without a
                      shell through a throw-away AWS config profile), then GetCallerIdentity with tea-v3

Every call goes over plain http to HOST:PORT. Prints exactly one line of JSON on stdout:

  GetCallerIdentity: {"ok": true, "arn", "account_id", "identity_type", "raw": {response body}}
  AssumeRole:        {"ok": true, "assumed_role_arn", "access_key_id", "access_key_secret",
                      "security_token", "expiration", "raw": {response body}}
  an SDK error:      {"ok": false, "stage": "credentials"|"call", "code", "message", ...}

"code" is the SDK's own error code: TeaException.code (tea modes), ServerException/ClientException
.get_error_code() (legacy). CredentialException (credentials_uri) and botocore errors carry no code,
so "code" is then the exception class name, and for credentials_uri "server_code" is the Code in the
server's reply when the SDK quoted it. The credential modes add "credentials": {"access_key_id", ...}
to a successful result. Exit status 0 for success and SDK errors, 2 for usage errors, 1 for a crash.
"""
import argparse
import json
import logging
import os
import re
import sys
import tempfile

READ_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_MS = 5_000


class SdkError(Exception):
    """An error the SDK reported, already turned into the output fields."""

    def __init__(self, fields):
        super().__init__(fields.get("message"))
        self.fields = fields


# ---------------------------------------------------------------- result shaping

def shape(action, raw):
    if action == "AssumeRole":
        user = raw.get("AssumedRoleUser") or {}
        creds = raw.get("Credentials") or {}
        return {"ok": True, "assumed_role_arn": user.get("Arn"),
                "access_key_id": creds.get("AccessKeyId"),
                "access_key_secret": creds.get("AccessKeySecret"),
                "security_token": creds.get("SecurityToken"),
                "expiration": creds.get("Expiration"), "raw": raw}
    return {"ok": True, "arn": raw.get("Arn"), "account_id": raw.get("AccountId"),
            "identity_type": raw.get("IdentityType"), "raw": raw}


def tea_error(e):
    """TeaException family -> output fields, or None when e is not one."""
    from alibabacloud_credentials.exceptions import CredentialException
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
    from Tea.exceptions import TeaException, UnretryableException

    if isinstance(e, UnretryableException):  # darabonba wraps everything but server replies
        inner = getattr(e, "inner_exception", None)
        fields = inner is not None and (tea_error(inner) or credential_error(inner))
        return fields or {"code": "UnretryableException", "message": str(e)}
    if isinstance(e, CredentialException):
        return credential_error(e)
    if isinstance(e, AlibabaCloudException):
        return {"code": e.code, "message": e.message, "status": e.status_code,
                "request_id": e.request_id}
    if isinstance(e, TeaException):
        return {"code": getattr(e, "code", None) or type(e).__name__,
                "message": getattr(e, "message", None) or str(e)}
    return None


def credential_error(e):
    from alibabacloud_credentials.exceptions import CredentialException

    if not isinstance(e, CredentialException):
        return None
    fields = {"code": e.code or "CredentialException", "message": str(e.message)}
    m = re.search(r"result: (\{.*\})\s*$", str(e.message), re.S)
    if m:
        try:
            fields["server_code"] = json.loads(m.group(1)).get("Code")
        except ValueError:
            pass
    return fields


# ---------------------------------------------------------------- the clients

def tea_call(args, *, rpc=False, credential=None):
    """alibabacloud_sts20150401; static AK/secret/token unless `credential` (a credentials Client)."""
    from alibabacloud_sts20150401 import models
    from alibabacloud_sts20150401.client import Client
    from alibabacloud_tea_openapi.utils_models import Config

    config = Config(endpoint=args.endpoint, protocol="http",
                    read_timeout=READ_TIMEOUT_MS, connect_timeout=CONNECT_TIMEOUT_MS)
    if credential is not None:
        config.credential = credential
    else:
        config.access_key_id, config.access_key_secret = args.ak, args.sk
        config.security_token = args.token
    if rpc:
        config.signature_algorithm = "v2"
    client = Client(config)
    try:
        if args.action == "AssumeRole":
            response = client.assume_role(models.AssumeRoleRequest(
                role_arn=args.role_arn, role_session_name=args.session_name,
                duration_seconds=args.duration_seconds))
        else:
            response = client.get_caller_identity()
    except Exception as e:
        fields = tea_error(e)
        if fields is None:
            raise
        raise SdkError({"stage": "call", **fields}) from e
    return shape(args.action, response.body.to_map())


def legacy_call(args):
    from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
    from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
    from aliyunsdkcore.client import AcsClient
    from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest
    from aliyunsdksts.request.v20150401.GetCallerIdentityRequest import GetCallerIdentityRequest

    credential = (StsTokenCredential(args.ak, args.sk, args.token) if args.token
                  else AccessKeyCredential(args.ak, args.sk))
    # auto_retry off: the default retries 5xx/throttling with back-off, which only slows failing tests.
    client = AcsClient(region_id="cn-hangzhou", credential=credential, auto_retry=False,
                       timeout=READ_TIMEOUT_MS // 1000, connect_timeout=CONNECT_TIMEOUT_MS // 1000)
    if args.action == "AssumeRole":
        request = AssumeRoleRequest()
        request.set_RoleArn(args.role_arn)
        request.set_RoleSessionName(args.session_name)
        if args.duration_seconds is not None:
            request.set_DurationSeconds(args.duration_seconds)
    else:
        request = GetCallerIdentityRequest()
    request.set_endpoint(args.endpoint)   # host:port; the request classes default to https
    request.set_protocol_type("http")
    try:
        body = client.do_action_with_exception(request)
    except ServerException as e:
        raise SdkError({"stage": "call", "code": e.get_error_code(), "message": e.get_error_msg(),
                        "status": e.get_http_status(), "request_id": e.get_request_id()}) from e
    except ClientException as e:
        raise SdkError({"stage": "call", "code": e.get_error_code(),
                        "message": e.get_error_msg()}) from e
    return shape(args.action, json.loads(body))


def credentials_uri_call(args):
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_credentials.models import Config as CredentialConfig

    # The SDK logs every failed fetch with a traceback; the result line says it once.
    logging.getLogger("credentials").setLevel(logging.CRITICAL + 1)
    credential = CredentialClient(CredentialConfig(type="credentials_uri",
                                                   credentials_uri=args.uri))
    try:
        fetched = credential.get_credential()
    except Exception as e:
        fields = credential_error(e) or tea_error(e)
        if fields is None:
            raise
        raise SdkError({"stage": "credentials", **fields}) from e
    result = tea_call(args, credential=credential)
    result["credentials"] = {"access_key_id": fetched.access_key_id,
                             "provider": fetched.provider_name}
    return result


def credential_process_call(args):
    import boto3

    with tempfile.TemporaryDirectory() as tmp:
        config_file = os.path.join(tmp, "config")
        with open(config_file, "w") as f:
            f.write(f"[profile gatehouse]\ncredential_process = {args.process}\n")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                     "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(name, None)
        os.environ["AWS_CONFIG_FILE"] = config_file
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(tmp, "none")
        try:
            creds = boto3.Session(profile_name="gatehouse").get_credentials()
            if creds is None:
                raise SdkError({"stage": "credentials", "code": "NoCredentials",
                                "message": "boto3 found no credentials"})
            frozen = creds.get_frozen_credentials()
        except SdkError:
            raise
        except Exception as e:  # whatever botocore raises: CredentialRetrievalError, ...
            raise SdkError({"stage": "credentials", "code": type(e).__name__,
                            "message": str(e)}) from e
    if creds.method != "custom-process":
        raise SdkError({"stage": "credentials", "code": "WrongProvider",
                        "message": f"credentials came from {creds.method}"})
    args.ak, args.sk, args.token = frozen.access_key, frozen.secret_key, frozen.token
    result = tea_call(args)
    expiry = getattr(creds, "_expiry_time", None)
    result["credentials"] = {"access_key_id": frozen.access_key, "provider": creds.method,
                             "expiration": expiry.isoformat() if expiry else None}
    return result


MODES = {
    "tea-v3": tea_call,
    "tea-rpc": lambda args: tea_call(args, rpc=True),
    "legacy": legacy_call,
    "credentials-uri": credentials_uri_call,
    "credential-process": credential_process_call,
}


# ---------------------------------------------------------------- command line

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=list(MODES))
    p.add_argument("--endpoint", required=True, help="HOST:PORT of Gatehouse (plain http)")
    p.add_argument("--ak")
    p.add_argument("--sk")
    p.add_argument("--token", help="SecurityToken (omit for a plain AccessKey)")
    p.add_argument("--uri", help="credentials_uri for mode credentials-uri")
    p.add_argument("--process", help="credential_process command for mode credential-process")
    p.add_argument("--action", choices=["GetCallerIdentity", "AssumeRole"],
                   default="GetCallerIdentity")
    p.add_argument("--role-arn")
    p.add_argument("--session-name")
    p.add_argument("--duration-seconds", type=int)
    args = p.parse_args(argv)
    args.endpoint = re.sub(r"^https?://", "", args.endpoint).rstrip("/")
    if args.mode in ("tea-v3", "tea-rpc", "legacy") and not (args.ak and args.sk):
        p.error(f"{args.mode} needs --ak and --sk")
    if args.mode == "credentials-uri" and not args.uri:
        p.error("credentials-uri needs --uri")
    if args.mode == "credential-process" and not args.process:
        p.error("credential-process needs --process")
    if args.mode in ("credentials-uri", "credential-process") and args.action != "GetCallerIdentity":
        p.error(f"{args.mode} only calls GetCallerIdentity")
    if args.action == "AssumeRole" and not (args.role_arn and args.session_name):
        p.error("AssumeRole needs --role-arn and --session-name")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        result = MODES[args.mode](args)
    except SdkError as e:
        result = {"ok": False, **e.fields}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
