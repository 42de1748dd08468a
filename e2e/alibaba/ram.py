"""RAM 2015-05-01: roles, custom policies and their versions, role <-> policy attachments.

Every handler takes (emu, account, params) and returns the response body without RequestId, or
raises ApiError. RESOURCES maps each action to the resource ARN(s) a role session needs it allowed
on (permission `ram:<Action>`).
"""
import base64
import re

from common import ApiError, invalid, iso, missing
import policy as pol
from state import CustomPolicy, Role

ROLE_NAME_RE = re.compile(r"^[A-Za-z0-9.\-_]+$")
POLICY_NAME_RE = re.compile(r"^[A-Za-z0-9\-]+$")
VERSION_RE = re.compile(r"^v[1-9][0-9]*$")
MAX_VERSIONS = 5
TRUST_MAX = 2048
POLICY_MAX = 6144
ROTATE = ("None", "DeleteOldestNonDefaultVersionWhenLimitExceeded")


def need(p, name):
    v = p.get(name)
    if v is None or v == "":
        raise missing(name)
    return v


def role_name(p, key="RoleName"):
    name = need(p, key)
    if len(name) > 64:
        raise invalid(f"InvalidParameter.{key}.Length", f'The parameter - "{key}" beyond the length limit (64).')
    if not ROLE_NAME_RE.match(name):
        raise invalid(f"InvalidParameter.{key}.InvalidChars",
                      f'The parameter - "{key}" contains invalid chars (letters, digits, ".", "-", "_").')
    return name


def policy_name(p):
    name = need(p, "PolicyName")
    if len(name) > 128:
        raise invalid("InvalidParameter.PolicyName.Length", 'The parameter - "PolicyName" beyond the length limit (128).')
    if not POLICY_NAME_RE.match(name):
        raise invalid("InvalidParameter.PolicyName.InvalidChars",
                      'The parameter - "PolicyName" contains invalid chars (letters, digits, "-").')
    return name


def policy_type(p):
    t = need(p, "PolicyType")
    if t not in ("System", "Custom"):
        raise invalid("InvalidParameter.PolicyType", 'The parameter - "PolicyType" must be "System" or "Custom".')
    return t


def description(p, key, limit=1024):
    d = p.get(key)
    if d is not None and len(d) > limit:
        raise invalid(f"InvalidParameter.{key}.Length", f'The parameter - "{key}" beyond the length limit ({limit}).')
    return d


def max_session(p, key):
    v = p.get(key)
    if v is None:
        return None
    try:
        n = int(v)
    except ValueError:
        n = None
    if n is None or not 3600 <= n <= 43200:
        raise invalid("InvalidParameter.MaxSessionDuration",
                      f'The parameter - "{key}" must be an integer from 3600 to 43200 (seconds); got {v!r}.')
    return n


def document(p, key, kind, limit):
    text = need(p, key)
    if len(text.encode()) > limit:
        raise invalid(f"InvalidParameter.{key}.Length", f'The parameter - "{key}" beyond the length limit ({limit} bytes).')
    try:
        return text, pol.parse(text, kind=kind, max_len=limit)
    except pol.PolicyError as e:
        raise ApiError(400, "MalformedPolicyDocument", f"{key}: {e}") from None


def get_role(acct, name):
    r = acct.roles.get(name.lower())
    if r is None:
        raise ApiError(404, "EntityNotExist.Role", f"The role does not exist: {name}.")
    return r


def get_custom(acct, name):
    p = acct.policies.get(name.lower())
    if p is None:
        raise ApiError(404, "EntityNotExist.Policy", f"The policy does not exist: {name}.")
    return p


def get_policy_any(emu, acct, ptype, name):
    """(canonical name, view dict) of a System or Custom policy."""
    if ptype == "System":
        sp = emu.system_policies.get(name.lower())
        if sp is None:
            raise ApiError(404, "EntityNotExist.Policy", f"The policy does not exist: {name} (System).")
        return sp["PolicyName"], sp
    return get_custom(acct, name).name, None


def _page(items, p, key_outer, key_inner):
    try:
        max_items = int(p.get("MaxItems") or 100)
    except ValueError:
        raise invalid("InvalidParameter.MaxItems", 'The parameter - "MaxItems" must be an integer.') from None
    if not 1 <= max_items <= 1000:
        raise invalid("InvalidParameter.MaxItems", 'The parameter - "MaxItems" must be from 1 to 1000.')
    start = 0
    if p.get("Marker"):
        try:
            start = int(base64.b64decode(p["Marker"]).decode())
        except Exception:
            raise invalid("InvalidParameter.Marker", 'The parameter - "Marker" is not one this service returned.') from None
    chunk = items[start:start + max_items]
    out = {key_outer: {key_inner: chunk}, "IsTruncated": start + max_items < len(items)}
    if out["IsTruncated"]:
        out["Marker"] = base64.b64encode(str(start + max_items).encode()).decode()
    return out


# ------------------------------------------------------------------ roles

def create_role(emu, acct, p):
    name = role_name(p)
    text, doc = document(p, "AssumeRolePolicyDocument", "trust", TRUST_MAX)
    desc = description(p, "Description") or ""
    mx = max_session(p, "MaxSessionDuration") or 3600
    if name.lower() in acct.roles:
        raise ApiError(409, "EntityAlreadyExists.Role", f"The role does already EXIST: {name}.")
    r = Role(acct.id, name, text, doc, mx, desc, emu.clock.now())
    acct.roles[name.lower()] = r
    v = r.view()
    v.pop("UpdateDate")
    return {"Role": v}


def get_role_action(emu, acct, p):
    return {"Role": get_role(acct, role_name(p)).view()}


def update_role(emu, acct, p):
    r = get_role(acct, role_name(p))
    new_trust = None
    if p.get("NewAssumeRolePolicyDocument") is not None:
        new_trust = document(p, "NewAssumeRolePolicyDocument", "trust", TRUST_MAX)
    mx = max_session(p, "NewMaxSessionDuration")
    desc = description(p, "NewDescription")
    if new_trust:
        r.trust_text, r.trust_doc = new_trust
    if mx is not None:
        r.max_session = mx
    if desc is not None:
        r.description = desc
    r.updated = iso(emu.clock.now())
    return {"Role": r.view()}


def delete_role(emu, acct, p):
    r = get_role(acct, role_name(p))
    if acct.attached(r.name):
        raise ApiError(409, "DeleteConflict.Role.Policy",
                       "The role CAN NOT has any attached policy while deleting the role.")
    del acct.roles[r.name.lower()]
    return {}


def list_roles(emu, acct, p):
    roles = [r.view(trust=False) for r in sorted(acct.roles.values(), key=lambda r: r.name.lower())]
    return _page(roles, p, "Roles", "Role")


# ------------------------------------------------------------------ policies

def policy_view(emu, acct, pol_obj):
    count = sum(1 for a in acct.attachments if a["PolicyType"] == "Custom" and a["PolicyName"] == pol_obj.name)
    return {"PolicyName": pol_obj.name, "PolicyType": "Custom", "Description": pol_obj.description,
            "DefaultVersion": pol_obj.default, "CreateDate": pol_obj.created, "UpdateDate": pol_obj.updated,
            "AttachmentCount": count}


def system_view(sp):
    return {"PolicyName": sp["PolicyName"], "PolicyType": "System", "Description": sp["Description"],
            "DefaultVersion": "v1", "CreateDate": sp["CreateDate"], "UpdateDate": sp["UpdateDate"]}


def create_policy(emu, acct, p):
    name = policy_name(p)
    text, doc = document(p, "PolicyDocument", "permission", POLICY_MAX)
    desc = description(p, "Description") or ""
    if name.lower() in acct.policies:
        raise ApiError(409, "EntityAlreadyExists.Policy", f"The policy does already EXIST: {name}.")
    obj = CustomPolicy(name, desc, text, doc, emu.clock.now())
    acct.policies[name.lower()] = obj
    v = policy_view(emu, acct, obj)
    for k in ("UpdateDate", "AttachmentCount"):
        v.pop(k)
    return {"Policy": v}


def get_policy(emu, acct, p):
    ptype, name = policy_type(p), policy_name(p)
    if ptype == "System":
        _, sp = get_policy_any(emu, acct, ptype, name)
        return {"Policy": system_view(sp),
                "DefaultPolicyVersion": {"VersionId": "v1", "IsDefaultVersion": True,
                                         "PolicyDocument": sp["PolicyDocument"], "CreateDate": sp["CreateDate"]}}
    obj = get_custom(acct, name)
    return {"Policy": policy_view(emu, acct, obj), "DefaultPolicyVersion": obj.version_view(obj.default)}


def delete_policy(emu, acct, p):
    obj = get_custom(acct, policy_name(p))
    roles = [a["RoleName"] for a in acct.attachments if a["PolicyType"] == "Custom" and a["PolicyName"] == obj.name]
    if roles:
        raise ApiError(409, "DeleteConflict.Policy.Role",
                       f"The policy CAN NOT been attached to any role while deleting the policy: {', '.join(roles)}.")
    if len(obj.versions) > 1:
        raise ApiError(409, "DeleteConflict.Policy.Version",
                       "The policy CAN NOT has any version except the default version.")
    del acct.policies[obj.name.lower()]
    return {}


def list_policies(emu, acct, p):
    ptype = p.get("PolicyType")
    if ptype not in (None, "", "System", "Custom"):
        raise invalid("InvalidParameter.PolicyType", 'The parameter - "PolicyType" must be "System" or "Custom".')
    items = []
    if ptype in (None, "", "System"):
        items += [system_view(sp) for sp in sorted(emu.system_policies.values(), key=lambda s: s["PolicyName"])]
    if ptype in (None, "", "Custom"):
        items += [policy_view(emu, acct, o) for o in sorted(acct.policies.values(), key=lambda o: o.name.lower())]
    return _page(items, p, "Policies", "Policy")


def version_id(p):
    v = need(p, "VersionId")
    if not VERSION_RE.match(v):
        raise invalid("InvalidParameter.VersionId.Format", 'The format of the parameter - "VersionId" is incorrect (v1, v2, ...).')
    return v


def truthy(p, key):
    v = p.get(key)
    if v is None or v == "":
        return False
    if v.lower() not in ("true", "false"):
        raise invalid(f"InvalidParameter.{key}", f'The parameter - "{key}" must be true or false.')
    return v.lower() == "true"


def create_policy_version(emu, acct, p):
    obj = get_custom(acct, policy_name(p))
    text, doc = document(p, "PolicyDocument", "permission", POLICY_MAX)
    set_default = truthy(p, "SetAsDefault")
    rotate = p.get("RotateStrategy") or "None"
    if rotate not in ROTATE:
        raise invalid("InvalidParameter.RotateStrategy",
                      'The parameter - "RotateStrategy" must be None or DeleteOldestNonDefaultVersionWhenLimitExceeded.')
    if len(obj.versions) >= MAX_VERSIONS:
        if rotate == "None":
            raise ApiError(409, "LimitExceeded.Policy.Version",
                           f"The count of policy version beyond the current limits ({MAX_VERSIONS}).")
        oldest = next(v for v in obj.versions if v != obj.default)
        del obj.versions[oldest]
    vid = obj.add_version(text, doc, emu.clock.now())
    if set_default:
        obj.default = vid
    return {"PolicyVersion": obj.version_view(vid)}


def _version(obj, vid):
    if vid not in obj.versions:
        raise ApiError(404, "EntityNotExist.Policy.Version", f"The policy version does not exist: {vid}.")
    return vid


def list_policy_versions(emu, acct, p):
    ptype, name = policy_type(p), policy_name(p)
    if ptype == "System":
        _, sp = get_policy_any(emu, acct, ptype, name)
        items = [{"VersionId": "v1", "IsDefaultVersion": True, "PolicyDocument": sp["PolicyDocument"],
                  "CreateDate": sp["CreateDate"]}]
    else:
        obj = get_custom(acct, name)
        items = [obj.version_view(v) for v in obj.versions]
    return {"PolicyVersions": {"PolicyVersion": items}}


def get_policy_version(emu, acct, p):
    ptype, name, vid = policy_type(p), policy_name(p), version_id(p)
    if ptype == "System":
        _, sp = get_policy_any(emu, acct, ptype, name)
        if vid != "v1":
            raise ApiError(404, "EntityNotExist.Policy.Version", f"The policy version does not exist: {vid}.")
        return {"PolicyVersion": {"VersionId": "v1", "IsDefaultVersion": True,
                                  "PolicyDocument": sp["PolicyDocument"], "CreateDate": sp["CreateDate"]}}
    obj = get_custom(acct, name)
    return {"PolicyVersion": obj.version_view(_version(obj, vid))}


def delete_policy_version(emu, acct, p):
    obj = get_custom(acct, policy_name(p))
    vid = _version(obj, version_id(p))
    if vid == obj.default:
        raise ApiError(409, "DeleteConflict.Policy.Version.Default",
                       "The default policy version CAN NOT been deleted directly.")
    del obj.versions[vid]
    obj.updated = iso(emu.clock.now())
    return {}


def set_default_policy_version(emu, acct, p):
    obj = get_custom(acct, policy_name(p))
    obj.default = _version(obj, version_id(p))
    obj.updated = iso(emu.clock.now())
    return {}


# ------------------------------------------------------------------ attachments

def attach_policy_to_role(emu, acct, p):
    ptype, pname, rname = policy_type(p), policy_name(p), role_name(p)
    r = get_role(acct, rname)
    canonical, _ = get_policy_any(emu, acct, ptype, pname)
    if any(a["PolicyType"] == ptype and a["PolicyName"] == canonical for a in acct.attached(r.name)):
        raise ApiError(409, "EntityAlreadyExists.Role.Policy",
                       f"The role has already been attached this policy: {canonical} ({ptype}).")
    acct.attachments.append({"RoleName": r.name, "PolicyType": ptype, "PolicyName": canonical,
                             "AttachDate": iso(emu.clock.now())})
    return {}


def detach_policy_from_role(emu, acct, p):
    ptype, pname, rname = policy_type(p), policy_name(p), role_name(p)
    r = get_role(acct, rname)
    canonical, _ = get_policy_any(emu, acct, ptype, pname)
    for a in acct.attached(r.name):
        if a["PolicyType"] == ptype and a["PolicyName"] == canonical:
            acct.attachments.remove(a)
            return {}
    raise ApiError(404, "EntityNotExist.Role.Policy",
                   f"The policy is not attached to the role: {canonical} ({ptype}) on {r.name}.")


def list_policies_for_role(emu, acct, p):
    r = get_role(acct, role_name(p))
    out = []
    for a in acct.attached(r.name):
        if a["PolicyType"] == "System":
            sp = emu.system_policies.get(a["PolicyName"].lower())
            desc, default = (sp["Description"] if sp else ""), "v1"
        else:
            obj = acct.policies.get(a["PolicyName"].lower())
            desc, default = (obj.description, obj.default) if obj else ("", "v1")
        out.append({"PolicyName": a["PolicyName"], "PolicyType": a["PolicyType"], "Description": desc,
                    "DefaultVersion": default, "AttachDate": a["AttachDate"]})
    return {"Policies": {"Policy": out}}


# ------------------------------------------------------------------ table

def _role_res(acct, p):
    return [f"acs:ram:*:{acct.id}:role/{p.get('RoleName', '')}"]


def _policy_res(acct, p):
    if p.get("PolicyType") == "System":
        return [f"acs:ram:*:system:policy/{p.get('PolicyName', '')}"]
    return [f"acs:ram:*:{acct.id}:policy/{p.get('PolicyName', '')}"]


HANDLERS = {
    "CreateRole": (create_role, _role_res),
    "GetRole": (get_role_action, _role_res),
    "UpdateRole": (update_role, _role_res),
    "DeleteRole": (delete_role, _role_res),
    "ListRoles": (list_roles, lambda a, p: [f"acs:ram:*:{a.id}:role/*"]),
    "CreatePolicy": (create_policy, _policy_res),
    "GetPolicy": (get_policy, _policy_res),
    "DeletePolicy": (delete_policy, _policy_res),
    "ListPolicies": (list_policies, lambda a, p: [f"acs:ram:*:{a.id}:policy/*"]),
    "CreatePolicyVersion": (create_policy_version, _policy_res),
    "ListPolicyVersions": (list_policy_versions, _policy_res),
    "GetPolicyVersion": (get_policy_version, _policy_res),
    "DeletePolicyVersion": (delete_policy_version, _policy_res),
    "SetDefaultPolicyVersion": (set_default_policy_version, _policy_res),
    "AttachPolicyToRole": (attach_policy_to_role, lambda a, p: _policy_res(a, p) + _role_res(a, p)),
    "DetachPolicyFromRole": (detach_policy_from_role, lambda a, p: _policy_res(a, p) + _role_res(a, p)),
    "ListPoliciesForRole": (list_policies_for_role, _role_res),
}
