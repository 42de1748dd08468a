"""In-memory state of the emulated Alibaba Cloud: accounts and what lives in them.

Names of roles, policies and SAML providers are unique per account case-insensitively (as in RAM)
and keep the case they were created with. A role's ARN carries its name in lower case
(acs:ram::<account>:role/<name lower-cased>), as Alibaba Cloud prints role ARNs.
"""
import json

from common import iso, numeric_id, random_text
import policy as pol

# Built-in system policies: name -> (description, statements). Tests add more with
# POST /_emulator/system-policies.
SYSTEM_POLICIES = {
    "AdministratorAccess": ("Provides full access to Alibaba Cloud services and resources.",
                            [{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
    "ReadOnlyAccess": ("Provides read-only access to Alibaba Cloud services and resources.",
                       [{"Effect": "Allow", "Action": ["*:Describe*", "*:List*", "*:Get*", "*:BatchGet*",
                                                        "*:Query*", "*:Check*"], "Resource": "*"}]),
    "AliyunECSFullAccess": ("Provides full access to ECS.", [{"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}]),
    "AliyunECSReadOnlyAccess": ("Provides read-only access to ECS.",
                                [{"Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List*"], "Resource": "*"}]),
    "AliyunOSSFullAccess": ("Provides full access to OSS.", [{"Effect": "Allow", "Action": "oss:*", "Resource": "*"}]),
    "AliyunOSSReadOnlyAccess": ("Provides read-only access to OSS.",
                                [{"Effect": "Allow", "Action": ["oss:Get*", "oss:List*"], "Resource": "*"}]),
    "AliyunRAMFullAccess": ("Provides full access to RAM.", [{"Effect": "Allow", "Action": "ram:*", "Resource": "*"}]),
    "AliyunRAMReadOnlyAccess": ("Provides read-only access to RAM.",
                                [{"Effect": "Allow", "Action": ["ram:Get*", "ram:List*"], "Resource": "*"}]),
    "AliyunSTSAssumeRoleAccess": ("Permission to call AssumeRole.",
                                  [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]),
    "AliyunLogFullAccess": ("Provides full access to Log Service.",
                            [{"Effect": "Allow", "Action": "log:*", "Resource": "*"}]),
    "AliyunVPCFullAccess": ("Provides full access to VPC.", [{"Effect": "Allow", "Action": "vpc:*", "Resource": "*"}]),
}
SYSTEM_POLICY_DATE = "2015-01-01T00:00:00Z"


def system_policy(name, description, document_text):
    doc = pol.parse(document_text)
    return {"PolicyName": name, "Description": description, "PolicyDocument": document_text,
            "doc": doc, "DefaultVersion": "v1", "CreateDate": SYSTEM_POLICY_DATE,
            "UpdateDate": SYSTEM_POLICY_DATE}


def builtin_system_policies():
    return {name.lower(): system_policy(name, desc, json.dumps({"Version": "1", "Statement": sts}))
            for name, (desc, sts) in SYSTEM_POLICIES.items()}


class Role:
    def __init__(self, account_id, name, trust_text, trust_doc, max_session, description, now):
        self.name, self.id = name, numeric_id(19)
        self.arn = f"acs:ram::{account_id}:role/{name.lower()}"
        self.trust_text, self.trust_doc = trust_text, trust_doc
        self.max_session, self.description = max_session, description
        self.created = self.updated = iso(now)

    def view(self, trust=True):
        out = {"RoleId": self.id, "RoleName": self.name, "Arn": self.arn, "Description": self.description,
               "MaxSessionDuration": self.max_session, "CreateDate": self.created, "UpdateDate": self.updated}
        if trust:
            out["AssumeRolePolicyDocument"] = self.trust_text
        return out


class CustomPolicy:
    def __init__(self, name, description, doc_text, doc, now):
        self.name, self.description = name, description
        self.created = self.updated = iso(now)
        self.versions = {}  # "vN" -> {"VersionId", "PolicyDocument", "doc", "CreateDate"}, insertion order
        self.next = 1
        self.default = self.add_version(doc_text, doc, now)

    def add_version(self, doc_text, doc, now):
        vid = f"v{self.next}"
        self.next += 1
        self.versions[vid] = {"VersionId": vid, "PolicyDocument": doc_text, "doc": doc, "CreateDate": iso(now)}
        self.updated = iso(now)
        return vid

    def version_view(self, vid):
        v = self.versions[vid]
        return {"VersionId": vid, "IsDefaultVersion": vid == self.default,
                "PolicyDocument": v["PolicyDocument"], "CreateDate": v["CreateDate"]}

    def doc(self):
        return self.versions[self.default]["doc"]


class SamlProvider:
    def __init__(self, account_id, name, description, encoded, metadata, now):
        self.name, self.description = name, description
        self.arn = f"acs:ram::{account_id}:saml-provider/{name}"
        self.encoded, self.metadata = encoded, metadata
        self.created = self.updated = iso(now)

    def view(self, with_document=False):
        out = {"SAMLProviderName": self.name, "Arn": self.arn, "Description": self.description,
               "CreateDate": self.created, "UpdateDate": self.updated}
        if with_document:
            out["EncodedSAMLMetadataDocument"] = self.encoded
        return out


class Account:
    def __init__(self, account_id, site):
        self.id, self.site = account_id, site
        self.roles, self.policies, self.providers = {}, {}, {}
        self.attachments = []  # {"RoleName", "PolicyType", "PolicyName", "AttachDate"} (canonical names)

    def attached(self, role_name):
        return [a for a in self.attachments if a["RoleName"].lower() == role_name.lower()]


class Session:
    """Credentials issued by AssumeRoleWithSAML (or a console sign-in through /saml-role/sso)."""

    def __init__(self, account, role, session_name, expiration, session_policy, provider_arn, subject):
        self.account_id, self.role_name, self.role_id = account.id, role.name, role.id
        self.session_name = session_name
        self.arn = f"acs:ram::{account.id}:assumed-role/{role.name.lower()}/{session_name}"
        self.access_key_id = "STS." + random_text(24)
        self.secret = random_text(40)
        self.token = "CAIS" + random_text(200, alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        self.expiration = expiration
        self.session_policy = session_policy
        self.provider_arn, self.subject = provider_arn, subject

    def view(self):
        return {"AccessKeyId": self.access_key_id, "Arn": self.arn, "RoleName": self.role_name,
                "RoleSessionName": self.session_name, "Expiration": iso(self.expiration),
                "SAMLProviderArn": self.provider_arn, "Subject": self.subject,
                "SessionPolicy": self.session_policy}


def dump(account, system_policies, sessions, console_sessions):
    """The /_emulator/state view of one account."""
    roles = []
    for r in account.roles.values():
        v = r.view()
        v["TrustPolicy"] = r.trust_doc
        v["AttachedPolicies"] = [dict(a) for a in account.attached(r.name)]
        roles.append(v)
    policies = []
    for p in account.policies.values():
        policies.append({"PolicyName": p.name, "PolicyType": "Custom", "Description": p.description,
                         "DefaultVersion": p.default, "CreateDate": p.created, "UpdateDate": p.updated,
                         "Versions": [p.version_view(v) for v in p.versions]})
    return {"account_id": account.id, "site": account.site, "roles": roles, "policies": policies,
            "attachments": [dict(a) for a in account.attachments],
            "saml_providers": [dict(p.view(with_document=True), EntityId=p.metadata["entity_id"],
                                    Certificates=p.metadata["certs"]) for p in account.providers.values()],
            "sessions": [s.view() for s in sessions if s.account_id == account.id],
            "console_sessions": [s for s in console_sessions if s["AccountId"] == account.id],
            "system_policies": sorted(p["PolicyName"] for p in system_policies.values())}
