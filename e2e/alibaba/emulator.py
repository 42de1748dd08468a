#!/usr/bin/env python3
"""A strict Alibaba Cloud emulator for Gatehouse's integration tests: STS 2015-04-01, RAM 2015-05-01,
IMS 2019-08-15, ECS 2014-05-26 DescribeRegions, the role-based SSO sign-in endpoint
(POST /saml-role/sso) and test controls under /_emulator/, all on one loopback port.

    e2e/sdk/.venv/bin/python e2e/alibaba/emulator.py --port 0 --ready-file /tmp/x [--saml-skew 60] [--quiet]

Binds 127.0.0.1 (a free port with --port 0) and writes {"port": N} to the ready file once it
listens. The API is picked by the x-acs-version header (or the Version query parameter), the
operation by x-acs-action (or Action). See README.md for what is checked and the error codes.
"""
import argparse
import datetime as dt
import email.utils
import functools
import html
import json
import os
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import HOSTS, ApiError, Clock, iso, random_text, request_id  # noqa: E402
import ims  # noqa: E402
import policy as pol  # noqa: E402
import ram  # noqa: E402
import saml  # noqa: E402
import signing  # noqa: E402
import state  # noqa: E402
import sts  # noqa: E402

VERSIONS = {"2015-04-01": "sts", "2015-05-01": "ram", "2019-08-15": "ims", "2014-05-26": "ecs"}
PERMISSION_PREFIX = {"sts": "sts", "ram": "ram", "ims": "ram", "ecs": "ecs"}
ANONYMOUS_ACTIONS = {("sts", "AssumeRoleWithSAML")}
NO_PERMISSION_NEEDED = {("sts", "GetCallerIdentity"), ("sts", "AssumeRoleWithSAML")}
RPC_COMMON = {"Action", "Version", "Format", "Timestamp", "SignatureNonce", "SignatureMethod",
              "SignatureVersion", "SignatureType", "AccessKeyId", "Signature", "SecurityToken"}
MAX_SKEW = dt.timedelta(minutes=15)
XMLSEC_CLI_NAME = "the xmlsec1 CLI (one process per assertion)"
MAX_REQUEST_LINE = 1 << 20
FAULTS = {
    "throttle": (400, "Throttling.User", "Request was denied due to user flow control."),
    "unavailable": (503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."),
}


class Emulator:
    def __init__(self, saml_skew=60, quiet=False):
        self.lock = threading.RLock()
        self.clock = Clock()
        self.saml_skew = saml_skew
        self.quiet = quiet
        self.accounts = {}        # account id -> state.Account
        self.root_keys = {}       # AccessKeyId -> (account id, secret)
        self.sessions = {}        # STS AccessKeyId -> state.Session
        self.console_sessions = []
        self.nonces = set()
        self.used_assertions = set()
        self.system_policies = state.builtin_system_policies()
        self.requests = []
        self.seq = 0
        self.faults = []          # {"action", "kind", "count"}

    def _record(self, rec):
        # Numbered when recorded (not when started): a request that let go of the lock while its
        # SAML signature was verified finishes after later ones, and ?since=SEQ must not skip it.
        self.seq += 1
        rec["seq"] = self.seq
        self.requests.append(rec)

    def outside_lock(self, fn, *args):
        """fn(*args) with the state lock let go (the caller holds it exactly once, as api() and
        sign_in() do): for SAML signature verification, a pure function of the message and the
        metadata, so that several run at once. Callers re-check the state they rely on after."""
        self.lock.release()
        try:
            return fn(*args)
        finally:
            self.lock.acquire()

    def log(self, text):
        if not self.quiet:
            print(text, flush=True)

    # ------------------------------------------------------------ API requests

    def api(self, method, path, raw_query, headers, body):
        """-> (status, content_type, body bytes). path and raw_query: the request target's, as
        split_target() splits it; headers: lower-case name -> value."""
        # Parsing the request needs no state: done before taking the lock. The record keeps the
        # parameters by reference (one copy of a SAMLAssertion serves query, params and the handler).
        pairs = parse_query(raw_query)
        rec = {"seq": None, "time": None, "method": method, "path": path,
               "raw_query": raw_query, "query": dict(pairs), "headers": headers,
               "signed_headers": [], "anonymous": True, "access_key_id": None, "caller_arn": None,
               "action": None, "version": None, "product": None, "params": {}, "fault": None}
        pre = self._preverify(headers, rec["query"], body)
        with self.lock:
            rec["time"] = iso(self.clock.now())
            product = "sts"
            try:
                status, ctype, out, product = self._api(method, path, pairs, headers, body, rec, pre)
                rec["code"] = None
            except Garbage:
                status, ctype, out = 200, "text/html", b"<html><body>502 Bad Gateway (emulated garbage)</body></html>"
                rec["code"] = None
            except Exception as e:  # noqa: BLE001 - any failure becomes an Alibaba-style error
                if not isinstance(e, ApiError):
                    traceback.print_exc(file=sys.stderr)
                    e = ApiError(500, "InternalError", "The emulator failed internally (traceback on its stderr).")
                status, ctype = e.status, "application/json;charset=utf-8"
                rid = request_id()
                err = {"RequestId": rid, "HostId": HOSTS.get(rec["product"] or product, "sts.aliyuncs.com"),
                       "Code": e.code, "Message": e.message,
                       "Recommend": f"https://api.aliyun.com/troubleshoot?q={e.code}&product="
                                    f"{(rec['product'] or 'sts').capitalize()}&requestId={rid}"}
                err.update(e.extra)
                out = json.dumps(err).encode()
                rec["code"] = e.code
                if getattr(e, "canonical_request", None):
                    rec["canonical_request"] = e.canonical_request
            rec["status"] = status
            self._record(rec)
            if not self.quiet:
                self.log(f"{method} {path} {rec['product']}/{rec['action']} -> {status} {rec['code'] or ''}".rstrip())
            return status, ctype, out

    def _preverify(self, headers, query, body):
        """An AssumeRoleWithSAML's signature verification, done before the state lock is taken (so
        each request takes it once, not twice, and verifications run side by side); see
        sts.preverify. Only for parameters in the query (the SDK's way); a form body falls back to
        verifying under the handler, letting go of the lock meanwhile."""
        if body or (headers.get("x-acs-action") or query.get("Action")) != "AssumeRoleWithSAML" \
                or VERSIONS.get(headers.get("x-acs-version") or query.get("Version")) != "sts":
            return None
        return sts.preverify(self, query)

    def _api(self, method, path, pairs, headers, body, rec, pre=None):
        if len(rec["query"]) != len(pairs):
            raise ApiError(400, "InvalidParameter", "A query parameter is repeated.")
        query = rec["query"]
        form = {}
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded") and body:
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = headers.get("x-acs-action") or query.get("Action")
        version = headers.get("x-acs-version") or query.get("Version")
        rec["action"], rec["version"] = action, version
        rec["params"] = {k: v for k, v in {**query, **form}.items() if k not in RPC_COMMON}
        if not action:
            raise ApiError(400, "MissingParameter", 'The input parameter "Action" (x-acs-action) is not supplied.')
        if not version:
            raise ApiError(400, "MissingParameter", 'The input parameter "Version" (x-acs-version) is not supplied.')
        for k, h in (("Action", "x-acs-action"), ("Version", "x-acs-version")):
            if query.get(k) and headers.get(h) and query[k] != headers[h]:
                raise ApiError(400, "InvalidParameter", f"The {k} query parameter and the {h} header differ.")
        product = VERSIONS.get(version)
        rec["product"] = product
        if product is None:
            raise ApiError(400, "InvalidVersion", f"Specified parameter Version {version!r} is not valid.")
        if method != "POST" and method != "GET":
            raise ApiError(403, "UnsupportedHTTPMethod", "This http method not supported.")
        self._fault(action, rec)
        caller = self._authenticate(method, path, query, headers, body, product, action, rec)
        params = rec["params"]
        if product == "sts":
            if action == "AssumeRoleWithSAML":
                return 200, *self._json(sts.assume_role_with_saml(self, params, pre)), product
            if action == "GetCallerIdentity":
                return 200, *self._json(sts.get_caller_identity(self, caller)), product
            raise self._not_found(action, version)
        table = {"ram": ram.HANDLERS, "ims": ims.HANDLERS,
                 "ecs": {"DescribeRegions": (sts.describe_regions,
                                             lambda a, p: [f"acs:ecs:{p.get('RegionId') or '*'}:{a.id}:*"])}}[product]
        if action not in table:
            raise self._not_found(action, version)
        handler, resources = table[action]
        account = caller["account"]
        if caller["kind"] == "session":
            self._authorize(caller, f"{PERMISSION_PREFIX[product]}:{action}", resources(account, params))
        return 200, *self._json(handler(self, account, params)), product

    @staticmethod
    def _not_found(action, version):
        return ApiError(404, "InvalidAction.NotFound",
                        f"Specified api is not found, please check your url and method: {action} ({version}) "
                        "is not emulated.")

    @staticmethod
    def _json(body):
        out = {"RequestId": request_id()}
        out.update(body)
        return "application/json;charset=utf-8", json.dumps(out).encode()

    def _fault(self, action, rec):
        for f in self.faults:
            if f["count"] > 0 and f["action"] in (action, "*"):
                f["count"] -= 1
                rec["fault"] = f["kind"]
                if f["kind"] == "garbage":
                    raise Garbage()
                status, code, message = FAULTS[f["kind"]]
                raise ApiError(status, code, message)

    def _authenticate(self, method, path, query, headers, body, product, action, rec):
        auth = headers.get("authorization")
        if not auth:
            if (product, action) not in ANONYMOUS_ACTIONS:
                if "Signature" in query:
                    raise ApiError(400, "IncompleteSignature",
                                   "RPC (HMAC-SHA1) signatures are not accepted by this emulator; sign with "
                                   "ACS3-HMAC-SHA256 (Authorization header).")
                raise ApiError(400, "IncompleteSignature",
                               "The request is not signed: an ACS3-HMAC-SHA256 Authorization header is required.")
            self._check_date_and_nonce(headers.get("x-acs-date") or query.get("Timestamp"),
                                       headers.get("x-acs-signature-nonce") or query.get("SignatureNonce"),
                                       required=False)
            return {"kind": "anonymous", "account": None}
        parsed = signing.parse_authorization(auth)
        rec["signed_headers"] = parsed["signed_headers"]
        rec["anonymous"] = False
        ak = parsed["access_key_id"]
        rec["access_key_id"] = ak
        if headers.get("x-acs-accesskey-id") and headers["x-acs-accesskey-id"] != ak:
            raise ApiError(400, "IncompleteSignature", "x-acs-accesskey-id differs from the Authorization Credential.")
        token = headers.get("x-acs-security-token")
        session = self.sessions.get(ak)
        if session is not None:
            secret = session.secret
            if not token:
                raise ApiError(400, "MissingSecurityToken",
                               "This AccessKeyId is an STS key: send its SecurityToken in x-acs-security-token.")
            if token != session.token:
                raise ApiError(400, "InvalidSecurityToken.MismatchWithAccessKey",
                               "Specified SecurityToken mismatch with the AccessKey.")
        elif ak in self.root_keys:
            secret = self.root_keys[ak][1]
            if token:
                raise ApiError(400, "InvalidSecurityToken.MismatchWithAccessKey",
                               "A SecurityToken was sent with an AccessKey that is not an STS key.")
        else:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        signing.verify(method, path or "/", query, headers, body, parsed, secret)
        self._check_date_and_nonce(headers.get("x-acs-date"), headers.get("x-acs-signature-nonce"), required=True)
        if session is not None:
            if self.clock.now() >= session.expiration:
                raise ApiError(400, "InvalidSecurityToken.Expired",
                               f"Specified SecurityToken is expired (at {iso(session.expiration)}).")
            rec["caller_arn"] = session.arn
            return {"kind": "session", "session": session, "account": self.accounts[session.account_id]}
        acct = self.accounts[self.root_keys[ak][0]]
        rec["caller_arn"] = f"acs:ram::{acct.id}:root"
        return {"kind": "root", "account": acct}

    def _check_date_and_nonce(self, date, nonce, required):
        if date is None or nonce is None:
            if required:
                raise ApiError(400, "IncompleteSignature", "x-acs-date and x-acs-signature-nonce are required.")
        if date is not None:
            try:
                when = _parse_acs_date(date)
            except ValueError:
                raise ApiError(400, "InvalidTimeStamp.Format",
                               f"Specified time stamp or date value is not well formatted: {date!r} "
                               "(use YYYY-MM-DDTHH:MM:SSZ, UTC).") from None
            if abs(self.clock.now() - when) > MAX_SKEW:
                raise ApiError(400, "InvalidTimeStamp.Expired",
                               f"Specified time stamp or date value is expired: {date} is more than 15 minutes "
                               f"from the server's time {iso(self.clock.now())}.")
        if nonce is not None:
            if nonce in self.nonces:
                raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self.nonces.add(nonce)

    def _authorize(self, caller, action, resources):
        s = caller["session"]
        acct = caller["account"]
        docs = []
        role = acct.roles.get(s.role_name.lower())
        # A session belongs to the role it was issued for: if that role was deleted (even if one
        # with the same name was created since), no policy applies to it any more.
        for a in acct.attached(s.role_name) if role is not None and role.id == s.role_id else []:
            if a["PolicyType"] == "System":
                sp = self.system_policies.get(a["PolicyName"].lower())
                if sp:
                    docs.append(sp["doc"])
            else:
                p = acct.policies.get(a["PolicyName"].lower())
                if p:
                    docs.append(p.doc())
        context = {"acs:principalarn": s.arn, "acs:currenttime": iso(self.clock.now())}
        decision, why = pol.decide(docs, s.session_policy, action, resources, context)
        if decision != "Allow":
            raise ApiError(403, "NoPermission",
                           f"You are not authorized to do this action. You should be authorized by RAM. "
                           f"({why}: {action} on {', '.join(resources)} for {s.arn})",
                           {"AccessDeniedDetail": {"AuthAction": action, "AuthPrincipalType": "AssumedRoleUser",
                                                   "AuthPrincipalDisplayName": s.arn,
                                                   "AuthPrincipalOwnerId": s.account_id,
                                                   "NoPermissionType": why, "PolicyType": "AccountLevelIdentityBasedPolicy"}})

    # ------------------------------------------------------------ console sign-in

    def sign_in(self, raw_path, headers, body):
        with self.lock:
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            field = lambda k: (form.get(k) or [""])[0]  # noqa: E731
            rec = {"seq": None, "time": iso(self.clock.now()), "method": "POST", "path": "/saml-role/sso",
                   "raw_query": "", "query": {}, "headers": dict(headers), "signed_headers": [],
                   "anonymous": True, "access_key_id": None, "caller_arn": None, "action": "SAMLRoleSSO",
                   "version": None, "product": "signin", "fault": None,
                   "params": {k: v[0] for k, v in form.items()}}
            try:
                if not field("SAMLResponse"):
                    raise ApiError(400, "MissingParameter.SAMLResponse", "The form field SAMLResponse is missing.")
                result, data = sts.sso_sign_in(self, field("SAMLResponse"), field("RelayState"), field("RoleArn") or None)
                status, page = 200, (landing(data) if result == "signed-in"
                                     else chooser(data, field("SAMLResponse"), field("RelayState")))
                rec["code"], rec["caller_arn"] = None, data.get("Arn")
            except Exception as e:  # noqa: BLE001
                if not isinstance(e, ApiError):
                    traceback.print_exc(file=sys.stderr)
                    e = ApiError(500, "InternalError", "The emulator failed internally (traceback on its stderr).")
                status = 403 if e.code.startswith(("AuthenticationFail", "EntityNotExist")) else (
                    500 if e.status == 500 else 400)
                page, rec["code"] = error_page(e), e.code
            rec["status"] = status
            self._record(rec)
            if not self.quiet:
                self.log(f"POST /saml-role/sso -> {status} {rec['code'] or ''}".rstrip())
            return status, "text/html;charset=utf-8", page.encode()

    # ------------------------------------------------------------ test controls

    def control(self, method, path, query, body):
        with self.lock:
            data = {}
            if body:
                try:
                    data = json.loads(body)
                except ValueError:
                    return 400, {"error": "the body must be JSON"}
            route = (method, path)
            if route == ("GET", "/_emulator/health"):
                return 200, {"ok": True}
            if route == ("POST", "/_emulator/accounts"):
                return self._account(data)
            if route == ("GET", "/_emulator/accounts"):
                return 200, {"accounts": [{"account_id": a.id, "site": a.site,
                                           "access_key_ids": [k for k, (i, _) in self.root_keys.items() if i == a.id]}
                                          for a in self.accounts.values()]}
            if route == ("GET", "/_emulator/state"):
                wanted = query.get("account", [None])[0]
                accts = [self.accounts[wanted]] if wanted in self.accounts else (
                    [] if wanted else list(self.accounts.values()))
                if wanted and not accts:
                    return 404, {"error": f"no account {wanted}"}
                dumps = [state.dump(a, self.system_policies, self.sessions.values(), self.console_sessions)
                         for a in accts]
                return 200, (dumps[0] if wanted else {"accounts": dumps, "clock": self.clock.describe()})
            if route == ("GET", "/_emulator/requests"):
                since = int(query.get("since", ["0"])[0])
                return 200, {"requests": [r for r in self.requests if r["seq"] > since]}
            if route == ("DELETE", "/_emulator/requests"):
                n = len(self.requests)
                self.requests.clear()
                return 200, {"cleared": n}
            if route == ("POST", "/_emulator/faults"):
                kind, count = data.get("kind"), data.get("count", 1)
                if kind not in ("throttle", "unavailable", "garbage") or not data.get("action") \
                        or not isinstance(count, int) or count < 1:
                    return 400, {"error": 'need {"action": "<Action>"|"*", "kind": "throttle"|"unavailable"|'
                                          '"garbage", "count": N>=1}'}
                self.faults.append({"action": data["action"], "kind": kind, "count": count})
                return 200, {"faults": self.faults}
            if route == ("GET", "/_emulator/faults"):
                return 200, {"faults": self.faults}
            if route == ("DELETE", "/_emulator/faults"):
                self.faults.clear()
                return 200, {"faults": []}
            if route == ("POST", "/_emulator/system-policies"):
                return self._system_policy(data)
            if route == ("GET", "/_emulator/system-policies"):
                return 200, {"system_policies": [{k: v for k, v in p.items() if k != "doc"}
                                                 for p in self.system_policies.values()]}
            if route == ("POST", "/_emulator/clock"):
                try:
                    self.clock.set(data.get("offset_seconds"), data.get("frozen_at"), data.get("freeze"),
                                   bool(data.get("reset")))
                except (ValueError, TypeError) as e:
                    return 400, {"error": str(e)}
                return 200, self.clock.describe()
            if route == ("GET", "/_emulator/clock"):
                return 200, self.clock.describe()
            if route == ("POST", "/_emulator/expire-session"):
                s = self.sessions.get(data.get("access_key_id"))
                if s is None:
                    return 404, {"error": "no such STS AccessKeyId"}
                s.expiration = self.clock.now() - dt.timedelta(seconds=1)
                return 200, s.view()
            return 404, {"error": f"no control endpoint {method} {path}"}

    def _account(self, data):
        account_id = str(data.get("account_id") or "1" + "".join(random_text(15, "0123456789")))
        site = data.get("site")
        if not account_id.isdigit() or len(account_id) != 16:
            return 400, {"error": "account_id must be 16 digits"}
        if site not in (None, "international", "china"):
            return 400, {"error": 'site must be "international" or "china"'}
        acct = self.accounts.get(account_id)
        if acct is None:
            acct = self.accounts[account_id] = state.Account(account_id, site or "international")
        elif site:
            acct.site = site
        ak, sk = "LTAI" + random_text(20), random_text(30)
        self.root_keys[ak] = (account_id, sk)
        return 200, {"account_id": account_id, "site": acct.site, "access_key_id": ak, "access_key_secret": sk}

    def _system_policy(self, data):
        name, doc = data.get("name"), data.get("document")
        if not name or not ram.POLICY_NAME_RE.match(name) or doc is None:
            return 400, {"error": 'need {"name": "<PolicyName>", "document": <policy JSON or string>, '
                                  '"description"?: "..."}'}
        text = doc if isinstance(doc, str) else json.dumps(doc)
        try:
            self.system_policies[name.lower()] = state.system_policy(name, data.get("description", ""), text)
        except pol.PolicyError as e:
            return 400, {"error": f"document: {e}"}
        return 200, {k: v for k, v in self.system_policies[name.lower()].items() if k != "doc"}


@functools.lru_cache(maxsize=256)
def _parse_acs_date(date):
    """x-acs-date / Timestamp -> aware datetime (ValueError if malformed). Cached: concurrent clients
    send the same second many times, and strptime is one of the dearer steps of an anonymous call."""
    return dt.datetime.strptime(date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


# %XX escapes of ASCII characters (any case of the hex digits, as unquote() takes them) -> the character.
_ASCII_ESCAPES = {a + b: chr(int(a + b, 16)) for a in "0123456789abcdefABCDEF" for b in "0123456789abcdefABCDEF"
                  if int(a + b, 16) < 0x80}


def _unquote(value):
    """urllib.parse.unquote(value) (UTF-8, errors="replace"): the same string, without its per-escape
    byte work when every escape is of an ASCII character (an ASCII byte is its own UTF-8, so each
    escape decodes alone); anything else (a multi-byte character, a stray '%') goes to unquote()."""
    if "%" not in value:
        return value
    parts = value.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        ch = _ASCII_ESCAPES.get(part[:2])
        if ch is None:
            return unquote(value, errors="replace")
        out.append(ch)
        out.append(part[2:])
    return "".join(out)


def split_target(target):
    """urlsplit(target) -> (path, query): what it gives for the usual origin-form target
    ("/path?query", no fragment, not "//"), without its work on a 6 KB SAMLAssertion (an lru_cache
    key hashed and stored, a replace() per character it strips, twice per request); anything else
    goes to urlsplit itself. (A request-line target holds no tab, CR or LF, which urlsplit would strip.)"""
    if target[:1] == "/" and target[:2] != "//" and "#" not in target \
            and "\t" not in target and "\r" not in target and "\n" not in target:
        path, _, query = target.partition("?")
        return path, query
    u = urlsplit(target)
    return u.path, u.query


def parse_query(qs):
    """urllib.parse.parse_qsl(qs, keep_blank_values=True), with _unquote."""
    out = []
    for name_value in qs.split("&") if qs else ():
        if not name_value:
            continue
        name, sep, value = name_value.partition("=")
        out.append((_unquote(name.replace("+", " ")), _unquote(value.replace("+", " "))))
    return out


class Garbage(Exception):
    """The 'garbage' fault: a 200 whose body is not JSON."""


# ------------------------------------------------------------ HTML pages

def _page(title, body):
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")


def landing(rec):
    e = html.escape
    return _page("Alibaba Cloud console (emulated)",
                 f"<p id='signed-in-as'>Signed in to Alibaba Cloud as {e(rec['Arn'])}</p>"
                 f"<dl><dt>Account</dt><dd id='account'>{e(rec['AccountId'])}</dd>"
                 f"<dt>Role</dt><dd id='role'>{e(rec['RoleName'])}</dd>"
                 f"<dt>Session name</dt><dd id='session-name'>{e(rec['RoleSessionName'])}</dd>"
                 f"<dt>Subject</dt><dd id='subject'>{e(rec['Subject'])}</dd>"
                 f"<dt>RelayState</dt><dd id='relay-state'>{e(rec['RelayState'])}</dd>"
                 f"<dt>Session expires</dt><dd id='expiration'>{e(rec['Expiration'])}</dd></dl>")


def chooser(data, saml_response, relay_state):
    e = html.escape
    options = "".join(f"<li><label><input type='radio' name='RoleArn' value='{e(r)}'"
                      f"{' checked' if i == 0 else ''}> {e(r)}</label></li>" for i, (r, _) in enumerate(data["pairs"]))
    return _page("Choose a role",
                 f"<p id='choose-role'>Account {e(data['account'])}: choose the role to sign in with as "
                 f"{e(data['session_name'])}.</p><form id='role-chooser' method='post' action='/saml-role/sso'>"
                 f"<input type='hidden' name='SAMLResponse' value='{e(saml_response)}'>"
                 f"<input type='hidden' name='RelayState' value='{e(relay_state)}'>"
                 f"<ul>{options}</ul><button type='submit'>Sign in</button></form>")


def error_page(err):
    e = html.escape
    return _page("Sign-in to Alibaba Cloud failed",
                 f"<p id='error-code'>{e(err.code)}</p><p id='error'>{e(err.message)}</p>")


# ------------------------------------------------------------ HTTP plumbing

MAX_HEADER_LINE = 65536  # http.client's limits
MAX_HEADERS = 100


def read_headers(rfile):
    """The header block of a request, up to its empty line -> (headers, None), headers a dict of
    lower-case name -> value (as http.client.parse_headers + the email package read a value: leading
    blanks and the line end removed; the last of a repeated header wins), or (None, (status, message,
    explanation)) for send_error. Refused: a line too long or too many (431, as http.server), a line
    that is not `name: value` (400; the email package had let it silently end the headers, the rest
    going unread) or that continues the previous one (obs-fold: 400, as RFC 9112 5.2 allows), a
    Content-Length that is not digits (400; it had been an uncaught ValueError and a dropped
    connection) or is repeated with another value (400), and Transfer-Encoding (501: bodies come with
    a Content-Length; a chunked body had been left to be read as the next request)."""
    headers = {}
    for _ in range(MAX_HEADERS + 1):
        line = rfile.readline(MAX_HEADER_LINE + 1)
        if len(line) > MAX_HEADER_LINE:
            return None, (431, "Line too long", "header line")
        if line == b"\r\n" or line == b"\n" or not line:
            break
        name, sep, value = line.decode("iso-8859-1").partition(":")
        # A name is visible ASCII (what the email package took for one), no blank before the colon.
        if not sep or not name or not name.isascii() or not name.isprintable() or " " in name:
            return None, (400, "Bad header line", repr(line[:100]))
        name = name.lower()
        value = value.lstrip(" \t").rstrip("\r\n")
        if name == "content-length":
            if not value.strip(" \t").isdigit() or not value.isascii() \
                    or headers.get(name, value).strip(" \t") != value.strip(" \t"):
                return None, (400, "Bad Content-Length", repr(value[:100]))
        headers[name] = value
    else:
        return None, (431, "Too many headers", f"got more than {MAX_HEADERS} headers")
    if "transfer-encoding" in headers:
        return None, (501, "Transfer-Encoding is not supported", "send the body with a Content-Length")
    return headers, None


# What str.split() splits a Latin-1 string on, besides the space.
_OTHER_WHITESPACE = ("\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0")


def split_request_line(line):
    """line.split(), the same words. When the space is the only whitespace in the line (a request
    line as clients send it), the words are cut at spaces found with str.find (memchr) instead of
    a whitespace test of each character of a 6 KB SAMLAssertion."""
    for c in _OTHER_WHITESPACE:
        if c in line:
            return line.split()
    words = []
    start = 0
    while True:
        space = line.find(" ", start)
        if space < 0:
            if start < len(line):
                words.append(line[start:])
            return words
        if space > start:
            words.append(line[start:space])
        start = space + 1


_date = (0, "")


def http_date():
    """The Date header's value (BaseHTTPRequestHandler.date_time_string()), formatted once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, email.utils.formatdate(now, usegmt=True))
    return _date[1]


def make_handler(emu):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "AlibabaCloudEmulator/1"
        # Keep-alive clients: without TCP_NODELAY the body, written after the headers, waits for the
        # client's delayed ACK (~40 ms per request on loopback), which capped it at ~25 requests/s
        # per connection.
        disable_nagle_algorithm = True

        def handle_one_request(self):
            # http.server's own, but with room for a 100 000-character SAMLAssertion in the URL.
            try:
                self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
                if len(self.raw_requestline) > MAX_REQUEST_LINE:
                    self.requestline, self.request_version, self.command = "", "", ""
                    self.send_error(414)
                    return
                if not self.raw_requestline:
                    self.close_connection = True
                    return
                if not self.parse_request():
                    return
                self.dispatch()
                self.wfile.flush()
            except TimeoutError:
                self.close_connection = True

        def parse_request(self):
            """http.server's parse_request — the same checks of the request line and the same
            answers to a bad one, Connection and Expect: 100-continue as it handles them — with the
            header block read by read_headers() into a dict (lower-case name -> value) instead of
            by the email package (a FeedParser per request: ~30 us, a tenth of a request's Python)."""
            self.command = None
            self.request_version = version = self.default_request_version
            self.close_connection = True
            requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
            self.requestline = requestline
            words = split_request_line(requestline)
            if not words:
                return False
            if len(words) >= 3:
                version = words[-1]
                try:
                    if not version.startswith("HTTP/"):
                        raise ValueError
                    numbers = version.split("/", 1)[1].split(".")
                    if len(numbers) != 2 or not all(n.isdigit() and len(n) <= 10 for n in numbers):
                        raise ValueError
                    number = int(numbers[0]), int(numbers[1])
                except (ValueError, IndexError):
                    self.send_error(400, f"Bad request version ({version!r})")
                    return False
                if number >= (1, 1):
                    self.close_connection = False
                if number >= (2, 0):
                    self.send_error(505, f"Invalid HTTP version ({version.split('/', 1)[1]})")
                    return False
                self.request_version = version
            if not 2 <= len(words) <= 3:
                self.send_error(400, f"Bad request syntax ({requestline!r})")
                return False
            command, path = words[:2]
            if len(words) == 2:
                self.close_connection = True
                if command != "GET":
                    self.send_error(400, f"Bad HTTP/0.9 request type ({command!r})")
                    return False
            self.command, self.path = command, path
            if path.startswith("//"):  # as http.server does (gh-87389)
                self.path = "/" + path.lstrip("/")
            headers, error = read_headers(self.rfile)
            if error is not None:
                self.send_error(*error)
                return False
            self.headers = headers
            connection = headers.get("connection", "").lower()
            if connection == "close":
                self.close_connection = True
            elif connection == "keep-alive":
                self.close_connection = False
            if headers.get("expect", "").lower() == "100-continue" and self.request_version >= "HTTP/1.1":
                if not self.handle_expect_100():
                    return False
            return True

        def dispatch(self):
            headers = self.headers
            n = int(headers.get("content-length") or 0)  # digits only: read_headers checked it
            body = self.rfile.read(n) if n else b""
            path, query = split_target(self.path)
            if path.startswith("/_emulator/"):
                status, out = emu.control(self.command, path, parse_qs(query), body)
                return self.reply(status, "application/json", json.dumps(out, indent=1).encode())
            if path == "/saml-role/sso":
                if self.command != "POST":
                    return self.reply(405, "text/html;charset=utf-8",
                                      _page("Method not allowed", "<p>POST the SAMLResponse form here.</p>").encode())
                return self.reply(*emu.sign_in(self.path, headers, body))
            self.reply(*emu.api(self.command, path, query, headers, body))

        def reply(self, status, ctype, data):
            if self.request_version == "HTTP/0.9":  # no status line nor headers at all
                self.wfile.write(data)
                return
            # What send_response() + send_header()s + end_headers() write (status line, Server, Date,
            # then ours), formatted at once; headers and body in one write (one send, one wake-up of
            # the client), not two.
            self.wfile.write(f"{self.protocol_version} {status} {self.responses.get(status, ('',))[0]}\r\n"
                             f"Server: {self.version_string()}\r\nDate: {http_date()}\r\n"
                             f"Content-Type: {ctype}\r\nContent-Length: {len(data)}\r\n\r\n".encode("latin-1")
                             + data)

        do_GET = do_POST = do_PUT = do_DELETE = dispatch

        def log_message(self, *args):
            pass

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-file")
    ap.add_argument("--saml-skew", type=int, default=60, help="seconds of clock skew allowed on SAML times")
    ap.add_argument("--quiet", action="store_true", help="no per-request lines on stdout")
    ap.add_argument("--xmlsec", choices=["auto", "lib", "cli"], default=None,
                    help="SAML signature verifier: lib = libxmlsec1 in-process (python-xmlsec), cli = the "
                         "xmlsec1 CLI per assertion (slow), auto = lib if importable (default; "
                         "ALIBABA_EMU_XMLSEC sets it too)")
    args = ap.parse_args()
    if args.xmlsec:
        os.environ["ALIBABA_EMU_XMLSEC"] = args.xmlsec
        saml.BACKEND = saml._backend()
    emu = Emulator(saml_skew=args.saml_skew, quiet=args.quiet)
    emu.log("alibaba emulator: SAML signatures verified by "
            + ("libxmlsec1 in-process (python-xmlsec)" if saml.BACKEND == "lib" else XMLSEC_CLI_NAME))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(emu))
    server.daemon_threads = True
    port = server.server_address[1]
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"port": port}, f)
        os.replace(tmp, args.ready_file)
    emu.log(f"alibaba emulator listening on 127.0.0.1:{port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
