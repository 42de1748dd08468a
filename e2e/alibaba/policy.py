"""RAM policy documents: grammar checks and evaluation.

Permission policies:  {"Version":"1","Statement":[{"Effect","Action","Resource","Condition"?}]}
Trust policies:       {"Version":"1","Statement":[{"Effect","Action":"sts:AssumeRole","Principal",...}]}

Evaluation (permission): a request is (action, [resources], condition context). A statement
matches when its Action (or NotAction) and Resource (or NotResource) match — `*` and `?` are
wildcards, case-insensitively — and all its Conditions hold. An explicit Deny in any policy wins;
otherwise an Allow is needed in the identity policies AND, when the session has one, in the
session policy (the intersection). A condition on a key this emulator does not know, or with an
operator it does not know, makes its statement not apply (for Allow and for Deny alike).
Known keys: acs:PrincipalARN, acs:CurrentTime; in trust policies also saml:recipient.
"""
import functools
import json
import re

from common import parse_time

STRING_OPS = {"stringequals", "stringnotequals", "stringequalsignorecase", "stringnotequalsignorecase",
              "stringlike", "stringnotlike"}
DATE_OPS = {"dateequals", "datenotequals", "datelessthan", "datelessthanequals", "dategreaterthan",
            "dategreaterthanequals"}
NUMERIC_OPS = {"numericequals", "numericnotequals", "numericlessthan", "numericlessthanequals",
               "numericgreaterthan", "numericgreaterthanequals"}
OTHER_OPS = {"bool", "ipaddress", "notipaddress"}
ALL_OPS = STRING_OPS | DATE_OPS | NUMERIC_OPS | OTHER_OPS
ACTION_RE = re.compile(r"^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?]+)$")
PRINCIPAL_KINDS = {"RAM", "Service", "Federated"}


class PolicyError(ValueError):
    pass


def _strings(value, what):
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise PolicyError(f"{what} must be a non-empty string or a non-empty list of strings")
    return items


def parse(text, kind="permission", max_len=6144):
    """Parse and grammar-check a policy document; returns the dict or raises PolicyError.
    kind: "permission" (identity and session policies) or "trust" (AssumeRolePolicyDocument)."""
    if len(text.encode()) > max_len:
        raise PolicyError(f"the document is longer than {max_len} bytes")
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise PolicyError(f"not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise PolicyError("the document must be a JSON object")
    unknown = set(doc) - {"Version", "Statement"}
    if unknown:
        raise PolicyError(f"unknown top-level element(s): {', '.join(sorted(unknown))}")
    if doc.get("Version") != "1":
        raise PolicyError('"Version" must be the string "1"')
    statements = doc.get("Statement")
    if not isinstance(statements, list) or not statements:
        raise PolicyError('"Statement" must be a non-empty list')
    for i, st in enumerate(statements):
        where = f"Statement[{i}]"
        if not isinstance(st, dict):
            raise PolicyError(f"{where} must be an object")
        allowed = {"Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Sid"}
        if kind == "trust":
            allowed = {"Effect", "Action", "Principal", "Condition", "Sid"}
        unknown = set(st) - allowed
        if unknown:
            raise PolicyError(f"{where} has unknown element(s): {', '.join(sorted(unknown))}")
        if st.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f'{where}.Effect must be "Allow" or "Deny"')
        if ("Action" in st) == ("NotAction" in st):
            raise PolicyError(f"{where} needs exactly one of Action, NotAction")
        for a in _strings(st.get("Action", st.get("NotAction")), f"{where}.Action"):
            if not ACTION_RE.match(a):
                raise PolicyError(f"{where}.Action {a!r} is not of the form service:Action")
        if kind == "permission":
            if ("Resource" in st) == ("NotResource" in st):
                raise PolicyError(f"{where} needs exactly one of Resource, NotResource")
            for r in _strings(st.get("Resource", st.get("NotResource")), f"{where}.Resource"):
                if r != "*" and not r.startswith("acs:"):
                    raise PolicyError(f"{where}.Resource {r!r} must be * or an acs: ARN")
        else:
            principal = st.get("Principal")
            if not isinstance(principal, dict) or not principal:
                raise PolicyError(f"{where}.Principal must be an object naming RAM, Service or Federated")
            for k, v in principal.items():
                if k not in PRINCIPAL_KINDS:
                    raise PolicyError(f"{where}.Principal.{k} is not one of RAM, Service, Federated")
                _strings(v, f"{where}.Principal.{k}")
        cond = st.get("Condition")
        if cond is not None:
            if not isinstance(cond, dict):
                raise PolicyError(f"{where}.Condition must be an object")
            for op, block in cond.items():
                if op.lower() not in ALL_OPS:
                    raise PolicyError(f"{where}.Condition operator {op!r} is not supported by RAM")
                if not isinstance(block, dict) or not block:
                    raise PolicyError(f"{where}.Condition.{op} must be an object of key: value(s)")
                for key, val in block.items():
                    vals = val if isinstance(val, list) else [val]
                    if not vals or not all(isinstance(v, (str, int, float, bool)) for v in vals):
                        raise PolicyError(f"{where}.Condition.{op}.{key} must be a value or list of values")
    return doc


@functools.lru_cache(maxsize=4096)
def _wildcard_regex(pattern, ignore_case):
    """The compiled regex of a RAM wildcard pattern (built per character, so cached: policies are
    evaluated on every call and hold the same few patterns)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def wildcard(pattern, value, ignore_case=True):
    """RAM wildcard match: `*` any run, `?` one character; nothing else is special."""
    return _wildcard_regex(pattern, ignore_case).fullmatch(value) is not None


def _as_list(v):
    return v if isinstance(v, list) else [v]


def _str(v):
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _condition_holds(op, context_value, wanted):
    """One operator on one key. None = the statement does not apply (unknown operator)."""
    o = op.lower()
    wanted = [_str(w) for w in wanted]
    if o in STRING_OPS:
        v = context_value
        if o == "stringequals":
            return v in wanted
        if o == "stringnotequals":
            return v not in wanted
        if o == "stringequalsignorecase":
            return v.lower() in [w.lower() for w in wanted]
        if o == "stringnotequalsignorecase":
            return v.lower() not in [w.lower() for w in wanted]
        if o == "stringlike":
            return any(wildcard(w, v, ignore_case=False) for w in wanted)
        if o == "stringnotlike":
            return not any(wildcard(w, v, ignore_case=False) for w in wanted)
    if o in DATE_OPS:
        try:
            v = parse_time(context_value)
            ws = [parse_time(w) for w in wanted]
        except ValueError:
            return False
        test = {"dateequals": lambda w: v == w, "datenotequals": lambda w: v != w,
                "datelessthan": lambda w: v < w, "datelessthanequals": lambda w: v <= w,
                "dategreaterthan": lambda w: v > w, "dategreaterthanequals": lambda w: v >= w}[o]
        return all(test(w) for w in ws) if o == "datenotequals" else any(test(w) for w in ws)
    if o in NUMERIC_OPS:
        try:
            v = float(context_value)
            ws = [float(w) for w in wanted]
        except ValueError:
            return False
        test = {"numericequals": lambda w: v == w, "numericnotequals": lambda w: v != w,
                "numericlessthan": lambda w: v < w, "numericlessthanequals": lambda w: v <= w,
                "numericgreaterthan": lambda w: v > w, "numericgreaterthanequals": lambda w: v >= w}[o]
        return all(test(w) for w in ws) if o == "numericnotequals" else any(test(w) for w in ws)
    if o == "bool":
        return context_value.lower() in [w.lower() for w in wanted]
    return None  # IpAddress/NotIpAddress: no key they apply to is known here


def conditions_hold(condition, context):
    """All operators and keys must hold. Unknown key/operator -> False (statement does not apply).
    context: lower-case key -> string value."""
    for op, block in (condition or {}).items():
        for key, wanted in block.items():
            if key.lower() not in context:
                return False
            held = _condition_holds(op, context[key.lower()], _as_list(wanted))
            if not held:
                return False
    return True


def _statement_matches(st, action, resource, context):
    if "Action" in st:
        if not any(wildcard(p, action) for p in _as_list(st["Action"])):
            return False
    elif any(wildcard(p, action) for p in _as_list(st["NotAction"])):
        return False
    if "Resource" in st:
        if not any(wildcard(p, resource) for p in _as_list(st["Resource"])):
            return False
    elif any(wildcard(p, resource) for p in _as_list(st["NotResource"])):
        return False
    return conditions_hold(st.get("Condition"), context)


def decide(identity_docs, session_doc, action, resources, context):
    """-> ("Allow", None) or ("Deny", "ExplicitDeny"|"ImplicitDeny"). All resources must be allowed."""
    docs = list(identity_docs) + ([session_doc] if session_doc else [])
    for resource in resources:
        for doc in docs:
            for st in doc["Statement"]:
                if st["Effect"] == "Deny" and _statement_matches(st, action, resource, context):
                    return "Deny", "ExplicitDeny"
        def allows(ds):
            return any(st["Effect"] == "Allow" and _statement_matches(st, action, resource, context)
                       for d in ds for st in d["Statement"])
        if not allows(identity_docs) or (session_doc and not allows([session_doc])):
            return "Deny", "ImplicitDeny"
    return "Allow", None


def trust_allows_federated(doc, provider_arn, context):
    """Does this trust policy let the SAML provider assume the role? Deny wins; Allow needed."""
    allowed = False
    for st in doc["Statement"]:
        if not any(wildcard(a, "sts:AssumeRole") for a in _as_list(st["Action"])):
            continue
        federated = _as_list(st.get("Principal", {}).get("Federated", []))
        if not any(wildcard(f, provider_arn) for f in federated):
            continue
        if not conditions_hold(st.get("Condition"), context):
            continue
        if st["Effect"] == "Deny":
            return False
        allowed = True
    return allowed
