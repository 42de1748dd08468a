"""Capture server for studying what the Alibaba Cloud / AWS Python clients send.

Usage: capture.py PORT LOGFILE [--fail] [--secret SK]   (SK defaults to fake-secret)

Logs every request (method, path, query, headers, body) as one JSON object per line
to LOGFILE, recomputes the ACS3-HMAC-SHA256 or RPC HMAC-SHA1 signature with SK and
logs the canonical request / string-to-sign and whether it matched, then replies with
a plausible STS 2015-04-01 body (GetCallerIdentity / AssumeRole), or with a credentials_uri
body for GET /credentials/..., or — with --fail — with an STS-style 4xx error.
A development aid only; not used by the test suite.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

PORT, LOG = int(sys.argv[1]), sys.argv[2]
FAIL = "--fail" in sys.argv
SECRET = sys.argv[sys.argv.index("--secret") + 1] if "--secret" in sys.argv else "fake-secret"
# secrets of the credentials this server itself hands out
SECRETS = {"STS.fromuri": "uri-secret", "STS.newkey": "newsecret", "STS.fromproc": "proc-secret"}


def v3_check(method, path, query, headers, body):
    auth = headers.get("authorization", "")
    if not auth.startswith("ACS3-"):
        return None
    algo, rest = auth.split(" ", 1)
    parts = dict(p.split("=", 1) for p in rest.split(","))
    secret = SECRETS.get(parts["Credential"], SECRET)
    signed = parts["SignedHeaders"].split(";")
    cq = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(query))
    ch = "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed)
    payload = hashlib.sha256(body).hexdigest()
    creq = f"{method}\n{path}\n{cq}\n{ch}\n{parts['SignedHeaders']}\n{payload}"
    sts = f"{algo}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    sig = hmac.new(secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
    return {"canonical_request": creq, "string_to_sign": sts,
            "content_sha256_ok": headers.get("x-acs-content-sha256") == payload,
            "signature_ok": sig == parts["Signature"]}


def rpc_check(method, query, body_params):
    params = dict(query)
    params.update(dict(body_params))
    if "Signature" not in params:
        return None
    given = params.pop("Signature")
    secret = SECRETS.get(params.get("AccessKeyId"), SECRET)
    cq = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(params.items()))
    sts = f"{method}&%2F&{quote(cq, safe='~')}"
    sig = base64.b64encode(hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode()
    return {"string_to_sign": sts, "signature_ok": sig == given}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        u = urlsplit(self.path)
        query = parse_qsl(u.query, keep_blank_values=True)
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        form = []
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = parse_qsl(body.decode(), keep_blank_values=True)
        rec = {"method": self.command, "raw_path": self.path, "path": u.path, "query": query,
               "headers": list(self.headers.items()), "body": body.decode("utf-8", "replace"),
               "v3": v3_check(self.command, u.path, query, headers, body),
               "rpc": rpc_check(self.command, query, form)}
        with open(LOG, "a") as f:
            f.write(json.dumps(rec) + "\n")
        action = dict(query).get("Action") or dict(form).get("Action") or headers.get("x-acs-action")
        if u.path.startswith("/credentials"):
            if FAIL:
                status, out = 403, {"Code": "InvalidCredentialsToken", "Message": "gone"}
            else:
                status, out = 200, {"Code": "Success", "AccessKeyId": "STS.fromuri",
                                    "AccessKeySecret": "uri-secret", "SecurityToken": "uri-token",
                                    "Expiration": "2099-01-01T00:00:00Z"}
        elif FAIL:
            status, out = int(os.environ.get("FAIL_STATUS", "403")), {
                                "RequestId": "REQ-ERR", "HostId": "sts.aliyuncs.com",
                                "Code": os.environ.get("FAIL_CODE", "InvalidSecurityToken.Expired"),
                                "Message": os.environ.get("FAIL_MESSAGE", "Specified SecurityToken is expired."),
                                "Recommend": "https://example.invalid/recommend"}
        elif action == "AssumeRole":
            status, out = 200, {"RequestId": "REQ-1", "AssumedRoleUser": {
                "AssumedRoleId": "344584339364951186:alice",
                "Arn": "acs:ram::1234567890123456:role/gatehousesso-admin/alice"},
                "Credentials": {"AccessKeyId": "STS.newkey", "AccessKeySecret": "newsecret",
                                "SecurityToken": "newtoken", "Expiration": "2099-01-01T00:00:00Z"}}
        else:
            status, out = 200, {"RequestId": "REQ-1", "AccountId": "1234567890123456",
                                "Arn": "acs:ram::1234567890123456:assumed-role/gatehousesso-admin/alice",
                                "IdentityType": "AssumedRoleUser", "PrincipalId": "344584339364951186:alice",
                                "UserId": "", "RoleId": "344584339364951186"}
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = handle_any

    def log_message(self, *a):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
