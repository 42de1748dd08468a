#!/usr/bin/env python3
"""The Alibaba Cloud emulator, checked with the official SDKs (through sdk_client.py's functions).

    e2e/sdk/.venv/bin/python e2e/alibaba/test_emulator.py [-v] [TestEmulator.test_name ...]

Starts emulator.py on a free port, makes a test IdP (openssl key, xmlsec1-signed assertions),
and drives every API call through alibabacloud_sts20150401 / _ram20150501 / _ims20190815 or
tea-openapi's generic call_api. Test controls (/_emulator/*) and the sign-in form are plain HTTP.
"""
import base64
import json
import os
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


if __name__ == "__main__":
    unittest.main()
