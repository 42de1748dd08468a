#!/usr/bin/env python3
"""Drive the Alibaba Cloud emulator with the official Python SDKs; prints exactly one JSON line.

    sdk_client.py caller-identity  --endpoint 127.0.0.1:PORT --ak AK --sk SK [--token TOKEN]
    sdk_client.py describe-regions --endpoint ... --ak ... --sk ... [--token ...]
    sdk_client.py ram <Action> --params '{"RoleName": "x", ...}' --endpoint ... --ak ... --sk ... [--token ...]
    sdk_client.py ims <Action> --params '{...}' --endpoint ... --ak ... --sk ... [--token ...]
    sdk_client.py assume-role-with-saml --params '{"SAMLProviderArn", "RoleArn", "SAMLAssertion",
                  "DurationSeconds"?, "Policy"?}' --endpoint ...          (anonymous, no --ak/--sk)
    sdk_client.py golden --log FILE --endpoint ... --ak ... --sk ... [--token ...] [--ignore-header H]...

Clients: alibabacloud_sts20150401 (GetCallerIdentity; AssumeRoleWithSAML, which the SDK sends with
auth_type "Anonymous"), alibabacloud_ram20150501, alibabacloud_ims20190815 (the typed
`<action>_with_options` methods, built with the Request model's from_map), and tea-openapi's generic
`call_api` for ECS DescribeRegions (no ECS package installed) and for `golden`. All sign with the
SDK default, ACS3-HMAC-SHA256, over plain http.

Output: success {"ok": true, ...} — caller-identity: arn, account_id, identity_type, raw;
describe-regions: regions, raw; ram/ims/assume-role-with-saml: body (the response JSON);
an SDK error {"ok": false, "code", "message", "status", "request_id", "data"}; golden:
{"ok": true, "compared": N} or {"ok": false, "compared": N, "diffs": [...]}.
Exit status 0 for success and SDK errors, 2 for usage errors, 1 for a crash.

`golden` reads a JSON list of requests as GET /_emulator/requests returns them (or that object
itself) — what Gatehouse sent — re-sends each with the same action, version, parameters and kind
of authentication through the SDK, and compares the emulator's record of the SDK's request with
the original: action, version, parameter names and values, the set of signed headers, and the
values of the signed headers that do not legitimately vary (host, accept, content-type, x-acs-action,
x-acs-version, x-acs-content-sha256, x-acs-security-token, x-acs-accesskey-id). x-acs-date,
x-acs-signature-nonce, user-agent and x-acs-credentials-provider are compared by presence only.
"""
import argparse
import json
import re
import sys
import urllib.request

READ_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_MS = 5_000
VERSIONS = {"sts": "2015-04-01", "ram": "2015-05-01", "ims": "2019-08-15", "ecs": "2014-05-26"}
COMPARE_VALUES = {"host", "accept", "content-type", "x-acs-action", "x-acs-version", "x-acs-content-sha256",
                  "x-acs-security-token", "x-acs-accesskey-id"}


def config(endpoint, ak=None, sk=None, token=None):
    from alibabacloud_tea_openapi.utils_models import Config
    return Config(access_key_id=ak, access_key_secret=sk, security_token=token or None, endpoint=endpoint,
                  protocol="http", read_timeout=READ_TIMEOUT_MS, connect_timeout=CONNECT_TIMEOUT_MS)


def runtime():
    from darabonba.runtime import RuntimeOptions
    return RuntimeOptions(read_timeout=READ_TIMEOUT_MS, connect_timeout=CONNECT_TIMEOUT_MS)


def sdk_error(e):
    """An SDK exception -> output fields."""
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
    inner = getattr(e, "inner_exception", None)
    if inner is not None and inner is not e:
        fields = sdk_error(inner)
        fields.setdefault("wrapped_in", type(e).__name__)
        return fields
    if isinstance(e, AlibabaCloudException):
        return {"ok": False, "code": e.code, "message": e.message, "status": e.status_code,
                "request_id": e.request_id, "data": e.data}
    return {"ok": False, "code": getattr(e, "code", None) or type(e).__name__, "message": str(e)}


def call(fn):
    try:
        return fn()
    except Exception as e:  # the SDK's own exception types, reported as data
        if type(e).__module__.startswith(("Tea", "darabonba", "alibabacloud", "requests", "json", "urllib3")) \
                or isinstance(e, (ValueError, ConnectionError)):
            return sdk_error(e)
        raise


def snake(action):
    """The SDK's method name for an action: CreateSAMLProvider -> create_samlprovider."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", action).lower()


# ------------------------------------------------------------ modes

def caller_identity(endpoint, ak, sk, token=None):
    from alibabacloud_sts20150401.client import Client
    def run():
        body = Client(config(endpoint, ak, sk, token)).get_caller_identity_with_options(runtime()).body.to_map()
        return {"ok": True, "arn": body.get("Arn"), "account_id": body.get("AccountId"),
                "identity_type": body.get("IdentityType"), "raw": body}
    return call(run)


def generic(endpoint, action, version, params, ak=None, sk=None, token=None, anonymous=False, headers=None):
    """tea-openapi's generic call_api: RPC style, parameters in the query, ACS3-HMAC-SHA256.
    headers: extra request headers; they override the SDK's own (e.g. a fixed x-acs-signature-nonce)
    and are signed like them."""
    from alibabacloud_tea_openapi.client import Client
    from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
    def run():
        p = Params(action=action, version=version, protocol="HTTP", pathname="/", method="POST",
                   auth_type="Anonymous" if anonymous else "AK", style="RPC", req_body_type="formData",
                   body_type="json")
        req = OpenApiRequest(query={k: str(v) for k, v in (params or {}).items()}, headers=headers or {})
        out = Client(config(endpoint, ak, sk, token)).call_api(p, req, runtime())
        return {"ok": True, "body": out.get("body")}
    return call(run)


def describe_regions(endpoint, ak, sk, token=None):
    out = generic(endpoint, "DescribeRegions", VERSIONS["ecs"], {}, ak, sk, token)
    if out.get("ok"):
        out["regions"] = [r.get("RegionId") for r in (out["body"].get("Regions") or {}).get("Region", [])]
    return out


def typed(product, endpoint, action, params, ak, sk, token=None):
    """A RAM or IMS call through its own package's typed method."""
    if product == "ram":
        from alibabacloud_ram20150501 import models
        from alibabacloud_ram20150501.client import Client
    else:
        from alibabacloud_ims20190815 import models
        from alibabacloud_ims20190815.client import Client
    client = Client(config(endpoint, ak, sk, token))
    method = getattr(client, snake(action) + "_with_options", None)
    model = getattr(models, action + "Request", None)
    if method is None:
        return {"ok": False, "code": "UnknownAction", "message": f"{product} SDK has no {action}"}
    def run():
        resp = method(model().from_map(params), runtime()) if model else method(runtime())
        return {"ok": True, "body": resp.body.to_map()}
    return call(run)


def assume_role_with_saml(endpoint, params):
    from alibabacloud_sts20150401 import models
    from alibabacloud_sts20150401.client import Client
    def run():
        req = models.AssumeRoleWithSAMLRequest().from_map(params)
        body = Client(config(endpoint)).assume_role_with_samlwith_options(req, runtime()).body.to_map()
        return {"ok": True, "body": body}
    return call(run)


# ------------------------------------------------------------ golden

def fetch_requests(endpoint, since):
    with urllib.request.urlopen(f"http://{endpoint}/_emulator/requests?since={since}", timeout=10) as r:
        return json.load(r)["requests"]


def compare(original, mine, ignore):
    diffs = []
    for field in ("action", "version", "params"):
        if original.get(field) != mine.get(field):
            diffs.append({"field": field, "gatehouse": original.get(field), "sdk": mine.get(field)})
    theirs = set(original.get("signed_headers") or []) - ignore
    ours = set(mine.get("signed_headers") or []) - ignore
    if theirs != ours:
        diffs.append({"field": "signed_headers", "only_gatehouse": sorted(theirs - ours),
                      "only_sdk": sorted(ours - theirs)})
    h1, h2 = original.get("headers") or {}, mine.get("headers") or {}
    for h in sorted((theirs & ours & COMPARE_VALUES) - ignore):
        if h1.get(h) != h2.get(h):
            diffs.append({"field": f"header {h}", "gatehouse": h1.get(h), "sdk": h2.get(h)})
    return diffs


def golden(endpoint, log_path, ak, sk, token=None, ignore=()):
    with open(log_path) as f:
        data = json.load(f)
    entries = data["requests"] if isinstance(data, dict) else data
    entries = [e for e in entries if e.get("version") and e.get("product") != "signin"]
    ignore = {h.lower() for h in ignore}
    diffs = []
    seen = fetch_requests(endpoint, 0)
    since = seen[-1]["seq"] if seen else 0
    for i, orig in enumerate(entries):
        generic(endpoint, orig["action"], orig["version"], orig.get("params") or {}, ak, sk, token,
                anonymous=bool(orig.get("anonymous")))
        recorded = fetch_requests(endpoint, since)
        since = recorded[-1]["seq"] if recorded else since
        mine = [r for r in recorded if r.get("product") != "signin"]
        if len(mine) != 1:
            diffs.append({"index": i, "action": orig.get("action"), "field": "request",
                          "error": f"expected one recorded SDK request, found {len(mine)}"})
            continue
        for d in compare(orig, mine[0], ignore):
            diffs.append(dict(d, index=i, action=orig.get("action")))
    out = {"ok": not diffs, "compared": len(entries)}
    if diffs:
        out["diffs"] = diffs
    return out


# ------------------------------------------------------------ CLI

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["caller-identity", "describe-regions", "ram", "ims",
                                     "assume-role-with-saml", "golden"])
    ap.add_argument("action", nargs="?")
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--ak")
    ap.add_argument("--sk")
    ap.add_argument("--token")
    ap.add_argument("--params", default="{}")
    ap.add_argument("--log")
    ap.add_argument("--ignore-header", action="append", default=[])
    args = ap.parse_args(argv)
    try:
        params = json.loads(args.params)
    except ValueError:
        ap.error("--params must be a JSON object")
    needs_keys = args.mode not in ("assume-role-with-saml",)
    if needs_keys and not (args.ak and args.sk):
        ap.error(f"{args.mode} needs --ak and --sk")
    if args.mode in ("ram", "ims") and not args.action:
        ap.error(f"{args.mode} needs an Action")
    if args.mode == "golden" and not args.log:
        ap.error("golden needs --log FILE")
    if args.mode == "caller-identity":
        out = caller_identity(args.endpoint, args.ak, args.sk, args.token)
    elif args.mode == "describe-regions":
        out = describe_regions(args.endpoint, args.ak, args.sk, args.token)
    elif args.mode in ("ram", "ims"):
        out = typed(args.mode, args.endpoint, args.action, params, args.ak, args.sk, args.token)
    elif args.mode == "assume-role-with-saml":
        out = assume_role_with_saml(args.endpoint, params)
    else:
        out = golden(args.endpoint, args.log, args.ak, args.sk, args.token, args.ignore_header)
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
