#!/usr/bin/env python3
"""The Alibaba Cloud emulator, checked with the official SDKs (through sdk_client.py's functions).

    e2e/sdk/.venv/bin/python e2e/alibaba/test_emulator.py [-v] [TestEmulator.test_name ...]

Starts emulator.py on a free port, makes a test IdP (openssl key, xmlsec1-signed assertions),
and drives every API call through alibabacloud_sts20150401 / _ram20150501 / _ims20190815 or
tea-openapi's generic call_api. Test controls (/_emulator/*) and the sign-in form are plain HTTP.
"""
import base64
import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sdk_client as sdk  # noqa: E402
from testidp import TestIdP  # noqa: E402

ACCOUNT = "1234567890123456"
CN_ACCOUNT = "2234567890123456"
PROVIDER = "gatehouse-idp"
PROVIDER_ARN = f"acs:ram::{ACCOUNT}:saml-provider/{PROVIDER}"
ROLE = "GatehouseSSO-admin"
ROLE_ARN = f"acs:ram::{ACCOUNT}:role/{ROLE.lower()}"
OTHER_ROLE = "GatehouseSSO-other-idp"
OTHER_ROLE_ARN = f"acs:ram::{ACCOUNT}:role/{OTHER_ROLE.lower()}"
RAM, IMS, STS, ECS = "2015-05-01", "2019-08-15", "2015-04-01", "2014-05-26"


def trust(provider_arn, recipient="https://signin.alibabacloud.com/saml-role/sso"):
    return json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Federated": [provider_arn]},
        "Condition": {"StringEquals": {"saml:recipient": recipient}}}]})


def doc(*statements):
    return json.dumps({"Version": "1", "Statement": list(statements)})


ROLE_POLICY = doc(
    {"Effect": "Allow", "Action": ["ram:GetRole", "ram:ListPoliciesForRole"],
     "Resource": [f"acs:ram:*:{ACCOUNT}:role/GatehouseSSO-*"]},
    {"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"})


class TestEmulator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="alibaba-emu-test-")
        ready = os.path.join(cls.tmp.name, "ready.json")
        cls.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "emulator.py"), "--port", "0",
                                     "--ready-file", ready, "--quiet"])
        for _ in range(200):
            if os.path.exists(ready) or cls.proc.poll() is not None:
                break
            time.sleep(0.05)
        assert os.path.exists(ready), "the emulator did not start"
        with open(ready) as f:
            cls.endpoint = f"127.0.0.1:{json.load(f)['port']}"
        acct = cls.control("POST", "/_emulator/accounts", {"account_id": ACCOUNT})
        cls.ak, cls.sk = acct["access_key_id"], acct["access_key_secret"]
        cls.idp = TestIdP(cls.tmp.name)
        cls.other_idp = TestIdP(cls.tmp.name, entity_id="https://other-idp.test/saml", name="other")
        # Everything below through the official SDKs, with the account's root AccessKey.
        cls.ok(cls.ims("CreateSAMLProvider", SAMLProviderName=PROVIDER, Description="Gatehouse",
                       EncodedSAMLMetadataDocument=cls.idp.metadata_b64()))
        cls.ok(cls.ims("CreateSAMLProvider", SAMLProviderName="other-idp",
                       EncodedSAMLMetadataDocument=cls.other_idp.metadata_b64()))
        cls.ok(cls.ram("CreateRole", RoleName=ROLE, AssumeRolePolicyDocument=trust(PROVIDER_ARN),
                       MaxSessionDuration=7200, Description="admins"))
        cls.ok(cls.ram("CreateRole", RoleName=OTHER_ROLE,
                       AssumeRolePolicyDocument=trust(f"acs:ram::{ACCOUNT}:saml-provider/other-idp")))
        cls.ok(cls.ram("CreatePolicy", PolicyName="GatehouseSSO-admin-policy", PolicyDocument=ROLE_POLICY))
        cls.ok(cls.ram("AttachPolicyToRole", PolicyType="Custom", PolicyName="GatehouseSSO-admin-policy",
                       RoleName=ROLE))

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(5)
        cls.tmp.cleanup()

    # ------------------------------------------------------------ helpers

    @classmethod
    def control(cls, method, path, body=None):
        req = urllib.request.Request(f"http://{cls.endpoint}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            return json.load(e)

    @classmethod
    def ram(cls, action, ak=None, sk=None, token=None, **params):
        return sdk.typed("ram", cls.endpoint, action, params, ak or cls.ak, sk or cls.sk, token)

    @classmethod
    def ims(cls, action, ak=None, sk=None, token=None, **params):
        return sdk.typed("ims", cls.endpoint, action, params, ak or cls.ak, sk or cls.sk, token)

    @staticmethod
    def ok(result):
        assert result.get("ok"), result
        return result

    def refused(self, result, code, *fragments):
        self.assertFalse(result.get("ok"), result)
        self.assertEqual(result.get("code"), code, result)
        for f in fragments:
            self.assertIn(f, result.get("message") or "", result)
        return result

    def assertion(self, roles=((ROLE_ARN, PROVIDER_ARN),), session="alice", idp=None, **kw):
        return (idp or self.idp).response(list(roles), session, **kw)

    def assume(self, saml_response, role_arn=ROLE_ARN, provider_arn=PROVIDER_ARN, **params):
        params = dict(params, SAMLProviderArn=provider_arn, RoleArn=role_arn, SAMLAssertion=saml_response)
        return sdk.assume_role_with_saml(self.endpoint, params)

    def session(self, name="alice", **params):
        out = self.ok(self.assume(self.assertion(session=name), **params))["body"]["Credentials"]
        return out["AccessKeyId"], out["AccessKeySecret"], out["SecurityToken"]

    def sign_in(self, saml_response, relay_state="https://portal.test/after", **extra):
        data = urllib.parse.urlencode(dict(extra, SAMLResponse=saml_response, RelayState=relay_state)).encode()
        req = urllib.request.Request(f"http://{self.endpoint}/saml-role/sso", data=data, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    # ------------------------------------------------------------ SAML federation

    def test_assume_role_with_saml_and_caller_identity(self):
        out = self.ok(self.assume(self.assertion(session="alice"), DurationSeconds=7200))["body"]
        creds = out["Credentials"]
        self.assertTrue(creds["AccessKeyId"].startswith("STS."))
        self.assertEqual(out["AssumedRoleUser"]["Arn"], f"acs:ram::{ACCOUNT}:assumed-role/{ROLE.lower()}/alice")
        self.assertEqual(out["SAMLAssertionInfo"], {
            "SubjectType": "persistent", "Subject": "alice@example.com",
            "Recipient": "https://signin.alibabacloud.com/saml-role/sso", "Issuer": self.idp.entity_id})
        who = self.ok(sdk.caller_identity(self.endpoint, creds["AccessKeyId"], creds["AccessKeySecret"],
                                          creds["SecurityToken"]))
        self.assertEqual(who["arn"], f"acs:ram::{ACCOUNT}:assumed-role/{ROLE.lower()}/alice")
        self.assertEqual((who["account_id"], who["identity_type"]), (ACCOUNT, "AssumedRoleUser"))
        record = self.control("GET", "/_emulator/requests")["requests"]
        saml_call = [r for r in record if r["action"] == "AssumeRoleWithSAML"][-1]
        self.assertTrue(saml_call["anonymous"])
        self.assertEqual(saml_call["signed_headers"], [])

    def test_a_comment_does_not_cut_the_subject_short(self):
        response = self.assertion(subject_xml="alice@example.com<!-- -->.evil.test")
        out = self.ok(self.assume(response))["body"]
        self.assertEqual(out["SAMLAssertionInfo"]["Subject"], "alice@example.com.evil.test")

    def test_bad_assertions_are_refused(self):
        invalid, expired = "AuthenticationFail.SAMLAssertion.Invalid", "AuthenticationFail.SAMLAssertion.Expired"
        cases = [
            ("tampered", self.assertion(tamper="mallory@example.com"), invalid, "does not verify"),
            ("another signer", self.assertion(sign_with=(self.other_idp.key, self.other_idp.cert)), invalid,
             "does not verify"),
            ("unsigned", self.assertion(sign=False), invalid, "exactly one ds:Signature"),
            ("wrapped", self.assertion(wrap=True), invalid, "exactly one saml:Assertion"),
            ("SHA-1", self.assertion(alg="sha1"), invalid, "SHA-1"),
            ("wrong Recipient", self.assertion(recipient="https://signin.aliyun.com/saml-role/sso",
                                               destination="https://signin.alibabacloud.com/saml-role/sso"),
             invalid, "Recipient"),
            ("wrong Destination", self.assertion(destination="https://evil.test/saml-role/sso"), invalid,
             "Destination"),
            ("wrong Audience", self.assertion(audience="urn:alibaba:cloudcomputing"), invalid, "Audience"),
            ("wrong Issuer", self.assertion(issuer="https://evil.test/saml"), invalid, "Issuer"),
            ("expired", self.assertion(lifetime=-120, not_before_delta=-600), expired, "NotOnOrAfter"),
            ("not yet valid", self.assertion(not_before_delta=600, lifetime=900), invalid, "not valid yet"),
            ("Role pair not for this call", self.assertion(roles=[(OTHER_ROLE_ARN, PROVIDER_ARN)]), invalid,
             "names both"),
            ("bad session name", self.assertion(session="a b"), "InvalidParameter.RoleSessionName"),
            ("not base64", "%%%not-base64%%%", invalid, "base64"),
        ]
        for name, response, code, *frag in cases:
            with self.subTest(name):
                self.refused(self.assume(response), code, *frag)

    def test_values_changed_after_signing_are_refused(self):
        # Each value the emulator reads from the Assertion, changed after signing: the signature
        # must catch it (the values are read from what was verified, in the same parsed tree).
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        late = stamp(now + dt.timedelta(hours=1))
        cases = [
            ("session name", {}, (">alice</saml:AttributeValue>", ">mallory</saml:AttributeValue>")),
            ("Role attribute", {"roles": [(ROLE_ARN + "x", PROVIDER_ARN)]}, (f">{ROLE_ARN}x,", f">{ROLE_ARN},")),
            ("Audience", {"audience": "urn:alibaba:cloudcomputing:internationaX"},
             ("internationaX<", "international<")),
            ("Recipient", {"recipient": "https://signin.alibabacloud.com/saml-role/ssX",
                           "destination": "https://signin.alibabacloud.com/saml-role/sso"},
             ("/saml-role/ssX", "/saml-role/sso")),
            ("expiry extended", {"now": now - dt.timedelta(hours=2), "lifetime": 60},
             (stamp(now - dt.timedelta(hours=2) + dt.timedelta(seconds=60)), late)),
            ("Issuer", {"issuer": self.idp.entity_id + "X"}, (self.idp.entity_id + "X<", self.idp.entity_id + "<")),
        ]
        for name, kw, change in cases:
            with self.subTest(name):
                self.refused(self.assume(self.assertion(tamper_replace=change, **kw)),
                             "AuthenticationFail.SAMLAssertion.Invalid", "does not verify")
        signed = self.idp.response_xml([(ROLE_ARN, PROVIDER_ARN)], "alice")
        value = signed.split("<ds:SignatureValue>")[1].split("<")[0].strip()
        flipped = signed.replace(value, ("B" if value[0] == "A" else "A") + value[1:])
        self.refused(self.assume(base64.b64encode(flipped.encode()).decode()),
                     "AuthenticationFail.SAMLAssertion.Invalid", "does not verify")
        self.ok(self.assume(base64.b64encode(signed.encode()).decode()))  # as signed, it is good

    def test_assertion_id_must_be_unique_in_the_response(self):
        aid = "_a" + os.urandom(8).hex()
        extra = f'<samlp:Extensions><saml:Issuer xml:id="{aid}">x</saml:Issuer></samlp:Extensions>'
        self.refused(self.assume(self.assertion(assertion_id=aid, response_extra=extra)),
                     "AuthenticationFail.SAMLAssertion.Invalid", "not unique")
        other = extra.replace(aid, aid + "b")
        self.ok(self.assume(self.assertion(assertion_id=aid, response_extra=other)))

    def test_trust_policy_must_name_the_provider(self):
        # OTHER_ROLE trusts other-idp only; the assertion (rightly signed by our IdP) names it with our provider.
        response = self.assertion(roles=[(OTHER_ROLE_ARN, PROVIDER_ARN)])
        self.refused(self.assume(response, role_arn=OTHER_ROLE_ARN), "AuthenticationFail.NoPermission",
                     "trust policy")

    def test_replayed_assertion_is_refused(self):
        response = self.assertion()
        self.ok(self.assume(response))
        self.refused(self.assume(response), "AuthenticationFail.SAMLAssertion.Invalid", "already been used")

    def test_duration_limits(self):
        self.refused(self.assume(self.assertion(), DurationSeconds=7201), "InvalidParameter.DurationSeconds", "7200")
        self.refused(self.assume(self.assertion(), DurationSeconds=899), "InvalidParameter.DurationSeconds")
        out = self.ok(self.assume(self.assertion(), DurationSeconds=900))["body"]
        self.assertIn("Expiration", out["Credentials"])

    def test_unknown_provider_and_role(self):
        self.refused(self.assume(self.assertion(), provider_arn=f"acs:ram::{ACCOUNT}:saml-provider/nope"),
                     "EntityNotExist.SAMLProvider")
        self.refused(self.assume(self.assertion(), role_arn=f"acs:ram::{ACCOUNT}:role/nope"), "EntityNotExist.RoleArn")
        self.refused(self.assume(self.assertion(), role_arn="arn:aws:iam::1:role/x"), "InvalidParameter.RoleArn")
        self.refused(sdk.assume_role_with_saml(self.endpoint, {"SAMLProviderArn": PROVIDER_ARN, "RoleArn": ROLE_ARN}),
                     "MissingParameter.SAMLAssertion")

    def test_china_site(self):
        acct = self.control("POST", "/_emulator/accounts", {"account_id": CN_ACCOUNT, "site": "china"})
        ak, sk = acct["access_key_id"], acct["access_key_secret"]
        prov_arn = f"acs:ram::{CN_ACCOUNT}:saml-provider/cn-idp"
        role_arn = f"acs:ram::{CN_ACCOUNT}:role/cn-role"
        self.ok(self.ims("CreateSAMLProvider", ak, sk, SAMLProviderName="cn-idp",
                         EncodedSAMLMetadataDocument=self.idp.metadata_b64()))
        self.ok(self.ram("CreateRole", ak, sk, RoleName="cn-role",
                         AssumeRolePolicyDocument=trust(prov_arn, "https://signin.aliyun.com/saml-role/sso")))
        china = dict(recipient="https://signin.aliyun.com/saml-role/sso", audience="urn:alibaba:cloudcomputing")
        self.ok(self.assume(self.assertion(roles=[(role_arn, prov_arn)], **china), role_arn, prov_arn))
        self.refused(self.assume(self.assertion(roles=[(role_arn, prov_arn)]), role_arn, prov_arn),
                     "AuthenticationFail.SAMLAssertion.Invalid", "china")

    # ------------------------------------------------------------ request authentication

    def test_signature_checks(self):
        self.refused(sdk.caller_identity(self.endpoint, self.ak, "wrong-secret"), "SignatureDoesNotMatch",
                     "string to sign is:")
        self.refused(sdk.caller_identity(self.endpoint, "LTAInope", "x"), "InvalidAccessKeyId.NotFound")
        nonce = {"x-acs-signature-nonce": "0123456789abcdef0123456789abcdef"}
        self.ok(sdk.generic(self.endpoint, "GetCallerIdentity", STS, {}, self.ak, self.sk, headers=nonce))
        self.refused(sdk.generic(self.endpoint, "GetCallerIdentity", STS, {}, self.ak, self.sk, headers=nonce),
                     "SignatureNonceUsed")
        old = {"x-acs-date": "2020-01-01T00:00:00Z"}
        self.refused(sdk.generic(self.endpoint, "GetCallerIdentity", STS, {}, self.ak, self.sk, headers=old),
                     "InvalidTimeStamp.Expired")
        ak, sk, token = self.session("tokencheck")
        self.refused(sdk.caller_identity(self.endpoint, ak, sk), "MissingSecurityToken")
        self.refused(sdk.caller_identity(self.endpoint, ak, sk, token + "x"),
                     "InvalidSecurityToken.MismatchWithAccessKey")
        self.ok(sdk.caller_identity(self.endpoint, ak, sk, token))
        self.control("POST", "/_emulator/expire-session", {"access_key_id": ak})
        self.refused(sdk.caller_identity(self.endpoint, ak, sk, token), "InvalidSecurityToken.Expired")

    def test_signed_parameters_with_awkward_characters(self):
        desc = "spaces, * + / ~ = & ü and 中文"
        self.ok(self.ram("CreateRole", RoleName="awkward.chars_1", Description=desc,
                         AssumeRolePolicyDocument=trust(PROVIDER_ARN)))
        self.assertEqual(self.ok(self.ram("GetRole", RoleName="awkward.chars_1"))["body"]["Role"]["Description"], desc)

    # ------------------------------------------------------------ authorisation of role sessions

    def test_role_session_can_only_do_what_its_policies_allow(self):
        ak, sk, token = self.session("carol")
        self.ok(self.ram("GetRole", ak, sk, token, RoleName=ROLE))
        self.ok(sdk.describe_regions(self.endpoint, ak, sk, token))
        denied = self.refused(self.ram("GetRole", ak, sk, token, RoleName="SomethingElse"), "NoPermission")
        self.assertEqual(denied["data"]["AccessDeniedDetail"]["NoPermissionType"], "ImplicitDeny")
        self.refused(self.ram("CreateRole", ak, sk, token, RoleName="GatehouseSSO-new",
                              AssumeRolePolicyDocument=trust(PROVIDER_ARN)), "NoPermission")
        self.refused(self.ims("ListSAMLProviders", ak, sk, token), "NoPermission")

    def test_session_policy_narrows(self):
        only_ecs = doc({"Effect": "Allow", "Action": "ecs:DescribeRegions", "Resource": "*"})
        out = self.ok(self.assume(self.assertion(session="dave"), Policy=only_ecs))["body"]["Credentials"]
        ak, sk, token = out["AccessKeyId"], out["AccessKeySecret"], out["SecurityToken"]
        self.ok(sdk.describe_regions(self.endpoint, ak, sk, token))
        self.refused(self.ram("GetRole", ak, sk, token, RoleName=ROLE), "NoPermission")
        self.refused(self.assume(self.assertion(), Policy="{not json"), "InvalidParameter.PolicyGrammar")

    def test_revocation_by_principal_arn_deny(self):
        self.ok(self.ram("CreateRole", RoleName="GatehouseSSO-revoke", AssumeRolePolicyDocument=trust(PROVIDER_ARN)))
        self.ok(self.ram("CreatePolicy", PolicyName="GatehouseSSO-revoke", PolicyDocument=ROLE_POLICY))
        self.ok(self.ram("AttachPolicyToRole", PolicyType="Custom", PolicyName="GatehouseSSO-revoke",
                         RoleName="GatehouseSSO-revoke"))
        arn = f"acs:ram::{ACCOUNT}:role/gatehousesso-revoke"
        sessions = {}
        for name in ("erin", "frank"):
            out = self.ok(self.assume(self.assertion(roles=[(arn, PROVIDER_ARN)], session=name),
                                      role_arn=arn))["body"]["Credentials"]
            sessions[name] = (out["AccessKeyId"], out["AccessKeySecret"], out["SecurityToken"])
            self.ok(sdk.describe_regions(self.endpoint, *sessions[name]))
        deny = {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {
            "acs:PrincipalARN": [f"acs:ram::{ACCOUNT}:assumed-role/gatehousesso-revoke/erin"]}}}
        revoked = json.dumps({"Version": "1", "Statement": json.loads(ROLE_POLICY)["Statement"] + [deny]})
        self.ok(self.ram("CreatePolicyVersion", PolicyName="GatehouseSSO-revoke", PolicyDocument=revoked,
                         SetAsDefault=True))
        denied = self.refused(sdk.describe_regions(self.endpoint, *sessions["erin"]), "NoPermission")
        self.assertEqual(denied["data"]["AccessDeniedDetail"]["NoPermissionType"], "ExplicitDeny")
        self.ok(sdk.describe_regions(self.endpoint, *sessions["frank"]))
        self.ok(sdk.caller_identity(self.endpoint, *sessions["erin"]))  # needs no permission
        # A time-boxed deny: DateLessThan on acs:CurrentTime in the future applies, in the past does not.
        for when, blocked in (("2999-01-01T00:00:00Z", True), ("2000-01-01T00:00:00Z", False)):
            timed = doc(*json.loads(ROLE_POLICY)["Statement"], {"Effect": "Deny", "Action": "ecs:*", "Resource": "*",
                        "Condition": {"DateLessThan": {"acs:CurrentTime": when}}})
            self.ok(self.ram("CreatePolicyVersion", PolicyName="GatehouseSSO-revoke", PolicyDocument=timed,
                             SetAsDefault=True, RotateStrategy="DeleteOldestNonDefaultVersionWhenLimitExceeded"))
            out = sdk.describe_regions(self.endpoint, *sessions["frank"])
            self.assertEqual(out["ok"], not blocked, out)
        # An unknown condition key makes a Deny not apply.
        unknown = doc(*json.loads(ROLE_POLICY)["Statement"], {"Effect": "Deny", "Action": "*", "Resource": "*",
                      "Condition": {"StringEquals": {"acs:SomethingUnknown": "x"}}})
        self.ok(self.ram("CreatePolicyVersion", PolicyName="GatehouseSSO-revoke", PolicyDocument=unknown,
                         SetAsDefault=True, RotateStrategy="DeleteOldestNonDefaultVersionWhenLimitExceeded"))
        self.ok(sdk.describe_regions(self.endpoint, *sessions["frank"]))

    # ------------------------------------------------------------ RAM behaviour

    def test_policy_versions_rotate_at_five(self):
        name = "GatehouseSSO-versions"
        self.ok(self.ram("CreatePolicy", PolicyName=name, PolicyDocument=ROLE_POLICY))
        for _ in range(4):
            self.ok(self.ram("CreatePolicyVersion", PolicyName=name, PolicyDocument=ROLE_POLICY))
        self.refused(self.ram("CreatePolicyVersion", PolicyName=name, PolicyDocument=ROLE_POLICY),
                     "LimitExceeded.Policy.Version")
        self.refused(self.ram("CreatePolicyVersion", PolicyName=name, PolicyDocument=ROLE_POLICY,
                              RotateStrategy="None"), "LimitExceeded.Policy.Version")
        out = self.ok(self.ram("CreatePolicyVersion", PolicyName=name, PolicyDocument=ROLE_POLICY, SetAsDefault=True,
                               RotateStrategy="DeleteOldestNonDefaultVersionWhenLimitExceeded"))["body"]
        self.assertEqual(out["PolicyVersion"]["VersionId"], "v6")
        versions = self.ok(self.ram("ListPolicyVersions", PolicyType="Custom", PolicyName=name))["body"]
        ids = [v["VersionId"] for v in versions["PolicyVersions"]["PolicyVersion"]]
        self.assertEqual(ids, ["v1", "v3", "v4", "v5", "v6"])  # v1 was the default, so v2 went
        got = self.ok(self.ram("GetPolicy", PolicyType="Custom", PolicyName=name))["body"]
        self.assertEqual(got["DefaultPolicyVersion"]["VersionId"], "v6")
        self.assertEqual(json.loads(got["DefaultPolicyVersion"]["PolicyDocument"]), json.loads(ROLE_POLICY))
        self.refused(self.ram("DeletePolicyVersion", PolicyName=name, VersionId="v6"),
                     "DeleteConflict.Policy.Version.Default")
        self.refused(self.ram("DeletePolicy", PolicyName=name), "DeleteConflict.Policy.Version")
        self.ok(self.ram("SetDefaultPolicyVersion", PolicyName=name, VersionId="v3"))
        self.assertTrue(self.ok(self.ram("GetPolicyVersion", PolicyType="Custom", PolicyName=name,
                                         VersionId="v3"))["body"]["PolicyVersion"]["IsDefaultVersion"])
        for v in ("v1", "v4", "v5", "v6"):
            self.ok(self.ram("DeletePolicyVersion", PolicyName=name, VersionId=v))
        self.ok(self.ram("DeletePolicy", PolicyName=name))
        self.refused(self.ram("GetPolicy", PolicyType="Custom", PolicyName=name), "EntityNotExist.Policy")

    def test_role_and_attachment_errors(self):
        t = trust(PROVIDER_ARN)
        self.refused(self.ram("CreateRole", RoleName=ROLE, AssumeRolePolicyDocument=t), "EntityAlreadyExists.Role")
        self.refused(self.ram("CreateRole", RoleName=ROLE.upper(), AssumeRolePolicyDocument=t),
                     "EntityAlreadyExists.Role")
        self.refused(self.ram("CreateRole", RoleName="bad name", AssumeRolePolicyDocument=t),
                     "InvalidParameter.RoleName.InvalidChars")
        self.refused(self.ram("CreateRole", RoleName="x" * 65, AssumeRolePolicyDocument=t),
                     "InvalidParameter.RoleName.Length")
        self.refused(self.ram("CreateRole", RoleName="GatehouseSSO-long", AssumeRolePolicyDocument=t,
                              MaxSessionDuration=43201), "InvalidParameter.MaxSessionDuration")
        self.refused(self.ram("CreateRole", RoleName="GatehouseSSO-bad", AssumeRolePolicyDocument='{"Version":"2"}'),
                     "MalformedPolicyDocument")
        self.refused(self.ram("CreatePolicy", PolicyName="GatehouseSSO-bad",
                              PolicyDocument=doc({"Effect": "Allow", "Action": "ram:GetRole"})),
                     "MalformedPolicyDocument", "Resource")
        self.refused(self.ram("GetRole", RoleName="nope"), "EntityNotExist.Role")
        self.refused(self.ram("DeleteRole", RoleName=ROLE), "DeleteConflict.Role.Policy")
        self.refused(self.ram("DeletePolicy", PolicyName="GatehouseSSO-admin-policy"), "DeleteConflict.Policy.Role")
        self.refused(self.ram("AttachPolicyToRole", PolicyType="Custom", PolicyName="GatehouseSSO-admin-policy",
                              RoleName=ROLE), "EntityAlreadyExists.Role.Policy")
        self.refused(self.ram("AttachPolicyToRole", PolicyType="System", PolicyName="NoSuchPolicy", RoleName=ROLE),
                     "EntityNotExist.Policy")
        self.refused(self.ram("DetachPolicyFromRole", PolicyType="System", PolicyName="ReadOnlyAccess",
                              RoleName=ROLE), "EntityNotExist.Role.Policy")
        self.ok(self.ram("CreateRole", RoleName="GatehouseSSO-tmp", AssumeRolePolicyDocument=t))
        self.ok(self.ram("AttachPolicyToRole", PolicyType="System", PolicyName="ReadOnlyAccess",
                         RoleName="GatehouseSSO-tmp"))
        listed = self.ok(self.ram("ListPoliciesForRole", RoleName="GatehouseSSO-tmp"))["body"]
        self.assertEqual([p["PolicyName"] for p in listed["Policies"]["Policy"]], ["ReadOnlyAccess"])
        updated = self.ok(self.ram("UpdateRole", RoleName="GatehouseSSO-tmp", NewMaxSessionDuration=43200,
                                   NewDescription="tmp"))["body"]["Role"]
        self.assertEqual((updated["MaxSessionDuration"], updated["Description"]), (43200, "tmp"))
        self.ok(self.ram("DetachPolicyFromRole", PolicyType="System", PolicyName="ReadOnlyAccess",
                         RoleName="GatehouseSSO-tmp"))
        self.ok(self.ram("DeleteRole", RoleName="GatehouseSSO-tmp"))
        names = [r["RoleName"] for r in self.ok(self.ram("ListRoles"))["body"]["Roles"]["Role"]]
        self.assertIn(ROLE, names)
        self.assertNotIn("GatehouseSSO-tmp", names)
        # a system policy added by the test controls
        self.control("POST", "/_emulator/system-policies", {"name": "AliyunKMSFullAccess",
                     "document": {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}})
        self.ok(self.ram("GetPolicy", PolicyType="System", PolicyName="AliyunKMSFullAccess"))

    def test_saml_provider_lifecycle(self):
        self.refused(self.ims("CreateSAMLProvider", SAMLProviderName=PROVIDER,
                              EncodedSAMLMetadataDocument=self.idp.metadata_b64()), "EntityAlreadyExists.SAMLProvider")
        self.refused(self.ims("CreateSAMLProvider", SAMLProviderName="broken",
                              EncodedSAMLMetadataDocument=base64.b64encode(b"<nope/>").decode()),
                     "InvalidParameter.EncodedSAMLMetadataDocument")
        self.ok(self.ims("CreateSAMLProvider", SAMLProviderName="tmp-idp", EncodedSAMLMetadataDocument=self.idp.metadata_b64()))
        got = self.ok(self.ims("GetSAMLProvider", SAMLProviderName="tmp-idp"))["body"]["SAMLProvider"]
        self.assertEqual(got["Arn"], f"acs:ram::{ACCOUNT}:saml-provider/tmp-idp")
        self.assertEqual(got["EncodedSAMLMetadataDocument"], self.idp.metadata_b64())
        self.ok(self.ims("UpdateSAMLProvider", SAMLProviderName="tmp-idp",
                         NewEncodedSAMLMetadataDocument=self.other_idp.metadata_b64()))
        names = [p["SAMLProviderName"] for p in
                 self.ok(self.ims("ListSAMLProviders"))["body"]["SAMLProviders"]["SAMLProvider"]]
        self.assertIn("tmp-idp", names)
        self.ok(self.ims("DeleteSAMLProvider", SAMLProviderName="tmp-idp"))
        self.refused(self.ims("GetSAMLProvider", SAMLProviderName="tmp-idp"), "EntityNotExist.SAMLProvider")

    # ------------------------------------------------------------ HTTP

    def raw(self, *requests, read=None, probe=False):
        """Send raw request bytes on one connection and read `read` (default: one per request)
        answers back -> ([(status, headers, body)], closed), closed (if probe) whether the server
        then closed the connection rather than wait for another request."""
        host, port = self.endpoint.split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"".join(requests))
            f = sock.makefile("rb")
            out = []
            for _ in range(read or len(requests)):
                status = int(f.readline().split()[1])
                headers = {}
                while True:
                    h = f.readline()
                    if h in (b"\r\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                out.append((status, headers, f.read(int(headers.get("content-length", 0)))))
            closed = None
            if probe:
                sock.settimeout(1)
                try:
                    closed = f.read(1) == b""
                except TimeoutError:  # still open, waiting for the next request
                    closed = False
            return out, closed

    def test_http_keep_alive_and_framing(self):
        health = b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n"
        (a, b), _ = self.raw(health, health)
        for status, headers, body in (a, b):
            self.assertEqual((status, json.loads(body)), (200, {"ok": True}))
            self.assertEqual(headers["content-length"], str(len(body)))
            self.assertTrue(headers["server"].startswith("AlibabaCloudEmulator/1"))
            self.assertIn("GMT", headers["date"])
        # Expect: 100-continue gets its interim answer, then the final one; a body is read by its length.
        body = json.dumps({"offset_seconds": 0}).encode()
        (cont, final), _ = self.raw(b"POST /_emulator/clock HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                  b"Content-Length: %d\r\n\r\n" % len(body) + body, read=2)
        self.assertEqual(cont[0], 100)
        self.assertEqual(final[0], 200, final)
        # A tab between the words of the request line, and blanks before a header value, as http.server takes them.
        [(status, _, body)], _ = self.raw(b"GET\t/_emulator/health\tHTTP/1.1\r\nHost:   x\r\n\r\n")
        self.assertEqual(status, 200, body)
        self.control("DELETE", "/_emulator/requests")
        self.raw(b"POST /?Format=JSON HTTP/1.1\r\nHost: x\r\nx-acs-action: \t GetCallerIdentity\r\n"
                 b"x-acs-version:2015-04-01\r\nContent-Length: 0\r\n\r\n")
        rec = self.control("GET", "/_emulator/requests")["requests"][-1]
        self.assertEqual((rec["action"], rec["version"], rec["code"]),
                         ("GetCallerIdentity", "2015-04-01", "IncompleteSignature"))

    def test_http_errors(self):
        cases = [
            (b"GET /_emulator/health HTTP/1.1\r\nHost x\r\n\r\n", 400),                    # no colon
            (b"GET /_emulator/health HTTP/1.1\r\nHost : x\r\n\r\n", 400),                  # blank before it
            (b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),        # obs-fold
            (b"POST /_emulator/health HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400),
            (b"POST /_emulator/health HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
            (b"POST /_emulator/health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
            (b"GET /_emulator/health HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\n", 431),
            (b"GET /_emulator/health HTTP/1.1\r\nX: " + b"y" * 70000 + b"\r\n\r\n", 431),
        ]
        for request, want in cases:
            with self.subTest(request[:60]):
                [(status, headers, body)], closed = self.raw(request, read=1, probe=True)
                self.assertEqual(status, want, body)
                self.assertEqual(headers.get("connection"), "close")
                self.assertTrue(closed)
        # A bad version: http.server's answer, an error page without a status line (the version
        # not being known, the request is taken for HTTP/0.9), then the connection is closed.
        host, port = self.endpoint.split(":")
        for request, code in ((b"GET /_emulator/health HTTP/2.0\r\n\r\n", b"505"),
                              (b"GET /_emulator/health HTTP/1.x\r\n\r\n", b"400")):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(request)
                data = sock.makefile("rb").read()
            self.assertIn(b"Error code: " + code, data)
        # The same Content-Length twice is one Content-Length; the connection goes on.
        same = b"POST /_emulator/clock HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
        (a, b), closed = self.raw(same, b"GET /_emulator/health HTTP/1.1\r\n\r\n", probe=True)
        self.assertEqual((a[0], b[0], closed), (200, 200, False))

    # ------------------------------------------------------------ faults

    def test_faults_fire_count_times_then_stop(self):
        self.control("POST", "/_emulator/faults", {"action": "GetRole", "kind": "throttle", "count": 2})
        for _ in range(2):
            r = self.refused(self.ram("GetRole", RoleName=ROLE), "Throttling.User")
            self.assertEqual(r["status"], 400)
        self.ok(self.ram("GetRole", RoleName=ROLE))
        self.control("POST", "/_emulator/faults", {"action": "*", "kind": "unavailable", "count": 1})
        r = self.refused(self.ram("ListRoles"), "ServiceUnavailable")
        self.assertEqual(r["status"], 503)
        self.ok(self.ram("ListRoles"))
        self.control("POST", "/_emulator/faults", {"action": "ListRoles", "kind": "garbage", "count": 1})
        r = self.ram("ListRoles")
        self.assertFalse(r["ok"], r)
        self.assertNotIn(r.get("code"), ("Throttling.User", "ServiceUnavailable"))
        kinds = [x["fault"] for x in self.control("GET", "/_emulator/requests")["requests"][-5:]]
        self.assertEqual(kinds[-1], "garbage")
        self.ok(self.ram("ListRoles"))

    # ------------------------------------------------------------ console sign-in

    def test_sign_in_page(self):
        status, page = self.sign_in(self.assertion(session="grace"))
        self.assertEqual(status, 200, page)
        self.assertIn(f"id='signed-in-as'>Signed in to Alibaba Cloud as "
                      f"acs:ram::{ACCOUNT}:assumed-role/{ROLE.lower()}/grace</p>", page)
        self.assertIn("https://portal.test/after", page)
        status, page = self.sign_in(self.assertion(session="grace", tamper="mallory"))
        self.assertEqual(status, 403, page)
        self.assertIn("does not verify", page)
        status, page = self.sign_in(self.assertion(session="grace", audience="urn:wrong"))
        self.assertEqual(status, 403, page)
        self.assertIn("Audience", page)
        two = self.assertion(roles=[(ROLE_ARN, PROVIDER_ARN), (OTHER_ROLE_ARN, PROVIDER_ARN)], session="heidi")
        status, page = self.sign_in(two)
        self.assertEqual(status, 200, page)
        self.assertIn("id='role-chooser'", page)
        status, page = self.sign_in(two, RoleArn=ROLE_ARN)
        self.assertIn(f"assumed-role/{ROLE.lower()}/heidi", page)
        state = self.control("GET", f"/_emulator/state?account={ACCOUNT}")
        self.assertIn(f"acs:ram::{ACCOUNT}:assumed-role/{ROLE.lower()}/grace",
                      [s["Arn"] for s in state["console_sessions"]])

    # ------------------------------------------------------------ controls

    def test_state_dump(self):
        state = self.control("GET", f"/_emulator/state?account={ACCOUNT}")
        role = next(r for r in state["roles"] if r["RoleName"] == ROLE)
        self.assertEqual(role["MaxSessionDuration"], 7200)
        self.assertEqual(role["TrustPolicy"]["Statement"][0]["Principal"]["Federated"], [PROVIDER_ARN])
        self.assertIn({"RoleName": ROLE, "PolicyType": "Custom", "PolicyName": "GatehouseSSO-admin-policy"},
                      [{k: a[k] for k in ("RoleName", "PolicyType", "PolicyName")} for a in state["attachments"]])
        pol = next(p for p in state["policies"] if p["PolicyName"] == "GatehouseSSO-admin-policy")
        self.assertEqual(pol["DefaultVersion"], "v1")
        prov = next(p for p in state["saml_providers"] if p["SAMLProviderName"] == PROVIDER)
        self.assertEqual(prov["EntityId"], self.idp.entity_id)

    def test_golden_comparison(self):
        self.control("DELETE", "/_emulator/requests")
        self.ok(self.ram("GetRole", RoleName=ROLE))
        self.ok(sdk.generic(self.endpoint, "ListPoliciesForRole", RAM, {"RoleName": ROLE}, self.ak, self.sk))
        log = self.control("GET", "/_emulator/requests")["requests"]
        path = os.path.join(self.tmp.name, "golden.json")
        with open(path, "w") as f:
            json.dump(log, f)
        out = sdk.golden(self.endpoint, path, self.ak, self.sk)
        self.assertEqual(out, {"ok": True, "compared": 2}, out)
        log[0]["headers"]["accept"] = "*/*"
        log[1]["signed_headers"].remove("accept")
        with open(path, "w") as f:
            json.dump(log, f)
        out = sdk.golden(self.endpoint, path, self.ak, self.sk)
        self.assertFalse(out["ok"])
        self.assertEqual(sorted(d["field"] for d in out["diffs"]), ["header accept", "signed_headers"], out)


class TestHelpers(unittest.TestCase):
    """The emulator's faster stand-ins for standard-library functions give the same answers."""

    @classmethod
    def setUpClass(cls):
        import common
        import emulator
        cls.common, cls.emu = common, emulator

    def test_split_request_line_is_str_split(self):
        rnd = random.Random(1)
        alphabet = [" ", "\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1f", "\x85", "\xa0", "a", "/", "%", "\xff"]
        lines = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 10))) for _ in range(20000)]
        lines += ["GET" + chr(c) + "/x" + chr(c) * 2 + "HTTP/1.1" for c in range(256)]
        for line in lines:
            self.assertEqual(self.emu.split_request_line(line), line.split(), repr(line))

    def test_split_target_is_urlsplit(self):
        rnd = random.Random(2)
        alphabet = ["/", "//", "?", "#", "a", ":", "@", "%", "&", "=", "\t", "\r", "\n", "\x01", "h", "x:"]
        for _ in range(20000):
            t = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8)))
            try:
                u = urllib.parse.urlsplit(t)
                want = (u.path, u.query)
            except ValueError:
                with self.assertRaises(ValueError):
                    self.emu.split_target(t)
                continue
            self.assertEqual(self.emu.split_target(t), want, repr(t))

    def test_b64decode_is_b64decode_validate(self):
        import binascii
        import saml
        rnd = random.Random(4)
        alphabet = list("ABCDEFabcdef0123456789+/=") + [" ", "\n", "\r", "\t", "-", "_", "\xe9", "\x00"]

        def outcome(fn, text):
            try:
                return fn(text)
            except (binascii.Error, ValueError):
                return "refused"
        for _ in range(20000):
            text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 14)))
            self.assertEqual(outcome(saml._b64decode, text),
                             outcome(lambda t: base64.b64decode("".join(t.split()), validate=True), text), repr(text))

    def test_iso_and_request_id(self):
        rnd = random.Random(3)
        for _ in range(5000):
            t = dt.datetime.fromtimestamp(rnd.uniform(-5e10, 2.5e11),
                                          dt.timezone(dt.timedelta(minutes=rnd.randint(-900, 900))))
            self.assertEqual(self.common.iso(t), t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        import uuid
        ids = [self.common.request_id() for _ in range(5000)]
        self.assertEqual(len(set(ids)), len(ids))
        for r in ids:
            u = uuid.UUID(r)
            self.assertEqual((u.version, u.variant, str(u).upper()), (4, uuid.RFC_4122, r))


if __name__ == "__main__":
    unittest.main()
