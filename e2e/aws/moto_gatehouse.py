#!/usr/bin/env python3
"""moto's server (IAM and STS) on a free loopback port, for Gatehouse's aws provider tests.

    moto_gatehouse.py --ready-file PATH [--no-auth-count N] [--quiet]

Writes {"port": P} to PATH once it listens. Access control is on after the first N calls
(INITIAL_NO_AUTH_ACTION_COUNT, default 3: the owner's bootstrap), so every later call must carry
a SigV4 signature moto recomputes and be allowed by the caller's IAM policies.

Two corrections make moto behave as AWS documents (see README.md):
  1. AssumeRoleWithSAML and AssumeRoleWithWebIdentity are called without AWS credentials
     ("Calling AssumeRoleWithSAML does not require the use of AWS security credentials"):
     moto's access control would otherwise ask them for a signature.
  2. IAM authorises a call on a role against that role's ARN whether or not it exists yet
     (CreateRole on arn:aws:iam::ACCOUNT:role/NAME); moto uses "*" for a role it does not have,
     which no least-privilege Resource matches.

One gap filled: moto has no `AssumeRoot` (AWS centralized root access, 2024). The launcher
authorises it as AWS documents (after moto's own SigV4 check: the caller's identity policies
must allow sts:AssumeRoot on arn:aws:iam::TARGET:root, with the request's sts:TaskPolicyArn as
a condition key), validates it as AWS does (a 12-digit TargetPrincipal, one of the five
root-task policy ARNs, DurationSeconds at most 900) and answers AWS's AssumeRootResponse with
fresh random session credentials. moto knows nothing of those credentials: what a root session
may do in the member account is AWS's part, and not shown here.

And one control, for tests of retries: POST /_gatehouse/faults {"action": "CreateRole",
"count": 2, "code": "Throttling", "status": 400} answers the next `count` calls of `action`
with that AWS error (Query API XML) before moto sees them. DELETE /_gatehouse/faults clears them.
"""
import argparse
import json
import os
import sys
import threading
import uuid
from urllib.parse import parse_qs


ROOT_TASKS = {
    f"arn:aws:iam::aws:policy/root-task/{name}"
    for name in ("IAMAuditRootUserCredentials", "IAMCreateRootUserPassword",
                 "IAMDeleteRootUserCredentials", "S3UnlockBucketPolicy", "SQSUnlockQueuePolicy")
}


def install_assume_root():
    """sts:AssumeRoot, authorised and validated as AWS documents it (see the module's doc)."""
    import datetime
    import random
    import string

    from moto.core.responses import ActionResult
    from moto.iam.access_control import IAMPolicy, IAMRequestBase, PermissionResult
    from moto.sts.exceptions import STSValidationError
    from moto.sts.responses import TokenResponse
    from moto.sts.utils import random_session_token

    original_resource = TokenResponse._determine_resource

    def determine_resource(self):
        if self.querystring.get("Action", [""])[0] == "AssumeRoot":
            target = (self.querystring.get("TargetPrincipal") or [""])[0]
            return f"arn:aws:iam::{target}:root"
        return original_resource(self)

    TokenResponse._determine_resource = determine_resource

    original_check = IAMRequestBase.check_action_permitted

    def check_action_permitted(self, resource):
        if self._action != "sts:AssumeRoot":
            return original_check(self, resource)
        task = (self._data.get("TaskPolicyArn.arn") or [""])[0]
        conditions = {"sts:TaskPolicyArn": task}
        permitted = False
        for policy in self._access_key.collect_policies():
            result = IAMPolicy(policy).is_action_permitted(self._action, resource, None, conditions)
            if result == PermissionResult.DENIED:
                self._raise_access_denied()
            permitted = permitted or result == PermissionResult.PERMITTED
        if not permitted:
            self._raise_access_denied()

    IAMRequestBase.check_action_permitted = check_action_permitted

    def assume_root(self):
        target = self._get_param("TargetPrincipal") or ""
        task = self._get_param("TaskPolicyArn.arn") or ""
        duration = self._get_int_param("DurationSeconds", 900)
        if not (len(target) == 12 and target.isdigit()):
            raise STSValidationError(f"Value '{target}' at 'targetPrincipal' failed to satisfy constraint: "
                                     "Member must be a 12-digit AWS account ID")
        if task not in ROOT_TASKS:
            raise STSValidationError(f"The task policy {task} is not a root task policy.")
        if not 0 < duration <= 900:
            raise STSValidationError(f"Value '{duration}' at 'durationSeconds' failed to satisfy constraint: "
                                     "Member must have value less than or equal to 900")
        alphabet = string.ascii_uppercase + string.digits
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=duration)
        return ActionResult({
            "Credentials": {
                "AccessKeyId": "ASIA" + "".join(random.choices(alphabet, k=16)),
                "SecretAccessKey": "".join(random.choices(string.ascii_letters + string.digits + "+/", k=40)),
                "SessionToken": random_session_token(),
                "Expiration": expires,
            },
        })

    TokenResponse.assume_root = assume_root


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--no-auth-count", type=int, default=3)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    # moto reads these when it is imported.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(args.no_auth_count)
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    from werkzeug.serving import make_server
    from moto.server import DomainDispatcherApplication, create_backend_app
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.responses import IamResponse

    unsigned = {"AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"}
    original_auth = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate(self, iam_request_cls, resource="*"):
        if self._get_action() in unsigned and not self.headers.get("Authorization"):
            return
        return original_auth(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate

    def determine_resource(self):
        if "RoleName" in self.data:
            name = self.data["RoleName"][0]
            try:
                return self.backend.get_role(name).arn
            except Exception:  # noqa: BLE001 - any "no such role"
                return f"arn:aws:iam::{self.current_account}:role/{name}"
        return "*"

    IamResponse._determine_resource = determine_resource

    install_assume_root()

    faults = {}
    lock = threading.Lock()
    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_gatehouse/faults":
            method = environ["REQUEST_METHOD"]
            with lock:
                if method == "POST":
                    n = int(environ.get("CONTENT_LENGTH") or 0)
                    f = json.loads(environ["wsgi.input"].read(n) or b"{}")
                    faults[f["action"]] = {"count": int(f.get("count", 1)), "code": f.get("code", "Throttling"),
                                           "status": int(f.get("status", 400))}
                elif method == "DELETE":
                    faults.clear()
                body = json.dumps(faults).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if faults and environ["REQUEST_METHOD"] == "POST":
            n = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(n)
            action = (parse_qs(raw.decode("utf-8", "replace")).get("Action") or [""])[0]
            fault = None
            with lock:
                f = faults.get(action)
                if f and f["count"] > 0:
                    f["count"] -= 1
                    fault = dict(f)
            if fault:
                rid = str(uuid.uuid4())
                body = (
                    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
                    f'<Code>{fault["code"]}</Code><Message>Rate exceeded</Message></Error>'
                    f"<RequestId>{rid}</RequestId></ErrorResponse>"
                ).encode()
                start_response(f'{fault["status"]} Error', [("Content-Type", "text/xml"),
                                                           ("Content-Length", str(len(body)))])
                return [body]
            import io
            environ["wsgi.input"] = io.BytesIO(raw)
        return moto_app(environ, start_response)

    if args.quiet:
        import logging
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"port": server.port}, fh)
    os.replace(tmp, args.ready_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
