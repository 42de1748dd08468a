"""STS 2015-04-01 (AssumeRoleWithSAML, GetCallerIdentity), the SAML federation checks shared with
the sign-in page, and ECS 2014-05-26 DescribeRegions (the read-only call role sessions are
checked with)."""
import datetime as dt
import re

from common import ApiError, invalid, iso
import policy as pol
import saml
from state import Session

ROLE_ARN_RE = re.compile(r"^acs:ram::(\d+):role/([A-Za-z0-9.\-_]{1,64})$")
PROVIDER_ARN_RE = re.compile(r"^acs:ram::(\d+):saml-provider/([A-Za-z0-9._-]{1,128})$")
SESSION_NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
SESSION_POLICY_MAX = 2048
REGIONS = [("cn-hangzhou", "China (Hangzhou)"), ("cn-shanghai", "China (Shanghai)"),
           ("cn-beijing", "China (Beijing)"), ("ap-southeast-1", "Singapore"),
           ("eu-central-1", "Germany (Frankfurt)"), ("us-west-1", "US (Silicon Valley)")]


def find_provider(emu, arn):
    m = PROVIDER_ARN_RE.match(arn)
    if not m:
        raise invalid("InvalidParameter.SAMLProviderArn",
                      "The parameter SAMLProviderArn is wrongly formed (acs:ram::<account>:saml-provider/<name>).")
    acct = emu.accounts.get(m.group(1))
    prov = acct.providers.get(m.group(2).lower()) if acct else None
    if prov is None:
        raise ApiError(404, "EntityNotExist.SAMLProvider", f"Can not find SAML provider: {arn}.")
    return acct, prov


def find_role(acct, arn):
    m = ROLE_ARN_RE.match(arn)
    if not m:
        raise invalid("InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed (acs:ram::<account>:role/<name>).")
    role = acct.roles.get(m.group(2).lower()) if m.group(1) == acct.id else None
    if role is None:
        raise ApiError(404, "EntityNotExist.RoleArn", f"The specified Role does not exists: {arn}.")
    return role


def verified_pairs(info):
    """The (role_arn, provider_arn) pairs of the verified Role attribute."""
    values = info["attributes"].get(saml.ROLE_ATTR, [])
    if not values:
        raise saml.invalid(f"the attribute {saml.ROLE_ATTR} is missing")
    try:
        return [saml.split_role_value(v) for v in values]
    except ValueError as e:
        raise saml.invalid(str(e)) from None


def session_fields(info):
    """(RoleSessionName, SessionDuration or None) from the verified attributes."""
    names = info["attributes"].get(saml.SESSION_ATTR, [])
    if len(names) != 1:
        raise invalid("InvalidParameter.RoleSessionName",
                      f"The RoleSessionName is invalid: the assertion must carry exactly one {saml.SESSION_ATTR} value.")
    if not SESSION_NAME_RE.match(names[0]):
        raise invalid("InvalidParameter.RoleSessionName",
                      f"The RoleSessionName {names[0]!r} is invalid: 2 to 64 of A-Z a-z 0-9 _ . @ -.")
    durations = info["attributes"].get(saml.DURATION_ATTR)
    duration = None
    if durations is not None:
        if len(durations) != 1 or not durations[0].isdigit() or not 900 <= int(durations[0]) <= 43200:
            raise saml.invalid(f"{saml.DURATION_ATTR} must be one integer from 900 to 43200")
        duration = int(durations[0])
    return names[0], duration


def admit(emu, acct, prov, role, info, recipient):
    """Trust policy and replay checks for a verified assertion naming this role and provider."""
    if not pol.trust_allows_federated(role.trust_doc, prov.arn, {"saml:recipient": recipient}):
        raise ApiError(401, "AuthenticationFail.NoPermission",
                       f"There is no permission: the trust policy of {role.arn} does not allow sts:AssumeRole "
                       f"for the SAML provider {prov.arn} (Principal.Federated, saml:recipient).")
    key = (info["issuer"], info["id"])
    if key in emu.used_assertions:
        raise saml.invalid(f"the assertion {info['id']} has already been used (replay)")


def need_sts(p, name):
    """STS names the missing parameter in the code (MissingParameter.SAMLAssertion, as documented)."""
    if not p.get(name):
        raise invalid(f"MissingParameter.{name}", f"Parameter {name} is required.")
    return p[name]


def _assume_prechecks(emu, p):
    """The checks before the Response, in their order -> (acct, prov, role, session_policy, duration)."""
    provider_arn = need_sts(p, "SAMLProviderArn")
    role_arn = need_sts(p, "RoleArn")
    assertion = need_sts(p, "SAMLAssertion")
    if not 4 <= len(assertion) <= 100000:
        raise saml.invalid("SAMLAssertion must be 4 to 100000 characters of base64")
    acct, prov = find_provider(emu, provider_arn)
    role = find_role(acct, role_arn)
    session_policy = None
    if p.get("Policy"):
        if len(p["Policy"].encode()) > SESSION_POLICY_MAX:
            raise invalid("InvalidParameter.PolicySize", f"The size of Policy must be smaller than {SESSION_POLICY_MAX} bytes.")
        try:
            session_policy = pol.parse(p["Policy"], max_len=SESSION_POLICY_MAX)
        except pol.PolicyError as e:
            raise invalid("InvalidParameter.PolicyGrammar", f"The parameter Policy has not passed grammar check: {e}.") from None
    duration = 3600
    if p.get("DurationSeconds") not in (None, ""):
        try:
            duration = int(p["DurationSeconds"])
        except ValueError:
            duration = -1
    if not 900 <= duration <= role.max_session:
        raise invalid("InvalidParameter.DurationSeconds",
                      f"The Min/Max value of DurationSeconds is 900/{role.max_session} seconds "
                      f"(the max is the role's MaxSessionDuration); got {p.get('DurationSeconds')!r}.")
    return acct, prov, role, session_policy, duration


def _decode_and_verify(b64, metadata):
    """Decode the Response and verify its Assertion: pure (message + metadata), run outside the lock."""
    root, _ = saml.decode_response(b64)
    return root, saml.verify_response(root, metadata)


def preverify(emu, p):
    """Decode and verify the assertion before the request takes the state lock (emulator.api()):
    the provider's metadata is looked up without the lock (plain dict reads) and the outcome kept —
    the result or the ApiError — for assume_role_with_saml() to use, at its place in the order of
    checks, if the provider still has that metadata then. None if there is nothing to verify yet
    (a parameter missing or malformed, no such provider): the checks under the lock report it."""
    assertion = p.get("SAMLAssertion")
    m = PROVIDER_ARN_RE.match(p.get("SAMLProviderArn") or "")
    if not m or not assertion or not 4 <= len(assertion) <= 100000:
        return None
    acct = emu.accounts.get(m.group(1))
    prov = acct.providers.get(m.group(2).lower()) if acct else None
    if prov is None:
        return None
    metadata = prov.metadata
    try:
        return {"assertion": assertion, "metadata": metadata, "result": _decode_and_verify(assertion, metadata),
                "error": None}
    except ApiError as e:
        return {"assertion": assertion, "metadata": metadata, "result": None, "error": e}


def assume_role_with_saml(emu, p, pre=None):
    acct, prov, role, session_policy, duration = _assume_prechecks(emu, p)
    metadata = prov.metadata
    if pre is not None and pre["assertion"] is p["SAMLAssertion"] and pre["metadata"] is metadata:
        # Verified before the lock was taken, with the metadata the provider still has.
        if pre["error"] is not None:
            raise pre["error"]
        root, info = pre["result"]
    else:
        root, info = emu.outside_lock(_decode_and_verify, p["SAMLAssertion"], metadata)
        # The lock was let go while verifying: take every decision again on the state as it is now,
        # atomically with issuing (a provider, role or policy changed meanwhile counts as it is now).
        acct, prov, role, session_policy, duration = _assume_prechecks(emu, p)
        if prov.metadata is not metadata:  # the provider's metadata was replaced: verify again, with it
            info = saml.verify_response(root, prov.metadata)
    provider_arn, role_arn = p["SAMLProviderArn"], p["RoleArn"]
    now = emu.clock.now()
    recipient = saml.check_assertion(info, acct.site, now, emu.saml_skew)
    pairs = verified_pairs(info)
    if not any(r.lower() == role_arn.lower() and pv.lower() == provider_arn.lower() for r, pv in pairs):
        raise saml.invalid(f"no {saml.ROLE_ATTR} value names both {role_arn} and {provider_arn} "
                           f"(it has: {'; '.join(r + ',' + pv for r, pv in pairs)})")
    session_name, _ = session_fields(info)
    admit(emu, acct, prov, role, info, recipient)
    emu.used_assertions.add((info["issuer"], info["id"]))
    s = Session(acct, role, session_name, now + dt.timedelta(seconds=duration), session_policy, prov.arn,
                info["subject"])
    emu.sessions[s.access_key_id] = s
    return {"Credentials": {"AccessKeyId": s.access_key_id, "AccessKeySecret": s.secret,
                            "SecurityToken": s.token, "Expiration": iso(s.expiration)},
            "AssumedRoleUser": {"AssumedRoleId": f"{role.id}:{session_name}", "Arn": s.arn},
            "SAMLAssertionInfo": {"SubjectType": info["subject_type"], "Subject": info["subject"],
                                  "Recipient": recipient, "Issuer": info["issuer"]}}


def get_caller_identity(emu, caller):
    if caller["kind"] == "root":
        a = caller["account"].id
        return {"AccountId": a, "Arn": f"acs:ram::{a}:root", "IdentityType": "Account", "PrincipalId": a}
    s = caller["session"]
    return {"AccountId": s.account_id, "Arn": s.arn, "IdentityType": "AssumedRoleUser",
            "PrincipalId": f"{s.role_id}:{s.session_name}", "RoleId": s.role_id, "UserId": ""}


def describe_regions(emu, acct, p):
    regions = [{"RegionId": r, "LocalName": n, "RegionEndpoint": f"ecs.{r}.aliyuncs.com", "Status": "available"}
               for r, n in REGIONS]
    return {"Regions": {"Region": regions}}


# ------------------------------------------------------------------ console sign-in

def sso_sign_in(emu, b64, relay_state, chosen_role=None):
    """POST /saml-role/sso. Returns ("signed-in", record) or ("choose", pairs, ...) or raises ApiError."""
    root, _ = emu.outside_lock(saml.decode_response, b64)
    candidates = []
    for _, prov_arn in saml.unverified_role_pairs(root):
        if prov_arn.lower() not in [c.lower() for c in candidates]:
            candidates.append(prov_arn)
    if not candidates:
        raise saml.invalid(f"the attribute {saml.ROLE_ATTR} names no SAML provider")
    last_error = None
    for prov_arn in candidates:
        try:
            acct, prov = find_provider(emu, prov_arn)
            metadata = prov.metadata
            info = emu.outside_lock(saml.verify_response, root, metadata)
            acct, prov = find_provider(emu, prov_arn)  # again: the lock was let go while verifying
            if prov.metadata is not metadata:
                info = saml.verify_response(root, prov.metadata)
            break
        except ApiError as e:
            last_error = e
    else:
        raise last_error
    now = emu.clock.now()
    recipient = saml.check_assertion(info, acct.site, now, emu.saml_skew)
    pairs = [(r, pv) for r, pv in verified_pairs(info) if pv.lower() == prov.arn.lower()]
    session_name, duration = session_fields(info)
    if chosen_role:
        pairs = [(r, pv) for r, pv in pairs if r.lower() == chosen_role.lower()]
        if not pairs:
            raise saml.invalid(f"the chosen role {chosen_role} is not one the assertion offers")
    if len(pairs) > 1:
        return "choose", {"pairs": pairs, "account": acct.id, "session_name": session_name}
    role_arn = pairs[0][0]
    role = find_role(acct, role_arn)
    admit(emu, acct, prov, role, info, recipient)
    duration = duration or 3600
    if duration > role.max_session:
        raise saml.invalid(f"SessionDuration {duration} exceeds the role's MaxSessionDuration {role.max_session}")
    emu.used_assertions.add((info["issuer"], info["id"]))
    record = {"AccountId": acct.id, "Arn": f"acs:ram::{acct.id}:assumed-role/{role.name.lower()}/{session_name}",
              "RoleName": role.name, "RoleSessionName": session_name, "Subject": info["subject"],
              "SAMLProviderArn": prov.arn, "RelayState": relay_state, "SignedInAt": iso(now),
              "Expiration": iso(now + dt.timedelta(seconds=duration))}
    emu.console_sessions.append(record)
    return "signed-in", record
