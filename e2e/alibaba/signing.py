"""ACS3-HMAC-SHA256 verification with the official SDK's own signer.

The signature is recomputed by alibabacloud_tea_openapi 0.4.6's `Utils.get_authorization`
(alibabacloud_tea_openapi/utils.py) — the function the Tea SDKs call to sign — fed with what came
over the wire: the method, the path, the query form-decoded (`+` is a space) into a dict (the signer
re-encodes it RFC 3986 style), exactly the headers named in SignedHeaders with the values received,
and the x-acs-content-sha256 the client sent (checked separately against the body). The canonical
request and string to sign are rebuilt from the same SDK helpers only to explain a mismatch.
"""
import hashlib
import hmac
from types import SimpleNamespace

from alibabacloud_tea_openapi.utils import (Utils, get_canonical_query_string,
                                            get_canonicalized_headers)

from common import ApiError

ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def parse_authorization(value):
    """'ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex' -> dict, or ApiError."""
    algo, _, rest = value.strip().partition(" ")
    if algo != ALGORITHM:
        raise ApiError(400, "IncompleteSignature",
                       f"The Authorization algorithm {algo!r} is not supported here; sign with {ALGORITHM}.")
    parts = {}
    for item in rest.split(","):
        k, sep, v = item.strip().partition("=")
        if not sep:
            raise ApiError(400, "IncompleteSignature", f"Malformed Authorization element {item.strip()!r}.")
        parts[k] = v
    for k in ("Credential", "SignedHeaders", "Signature"):
        if not parts.get(k):
            raise ApiError(400, "IncompleteSignature", f"The Authorization header has no {k}.")
    return {"algorithm": algo, "access_key_id": parts["Credential"],
            "signed_headers": parts["SignedHeaders"].split(";"), "signature": parts["Signature"]}


def required_signed_headers(headers):
    """Alibaba's rule for V3: host, every x-acs-* header sent, and content-type if sent."""
    need = {"host"} | {h for h in headers if h.startswith("x-acs-")}
    if "content-type" in headers:
        need.add("content-type")
    return need


def canonical_request(method, path, query, signed_values, payload_hash):
    """The canonical request as the SDK builds it (same helper functions), for error messages."""
    headers_text, signed_list = get_canonicalized_headers(signed_values)
    return (f"{method}\n{path or '/'}\n{get_canonical_query_string(query)}\n{headers_text}\n"
            f"{signed_list}\n{payload_hash}")


def string_to_sign(canonical):
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def verify(method, path, query, headers, body, auth, secret):
    """Raise ApiError unless auth (from parse_authorization) is the SDK's signature of this request.

    query: dict of decoded query parameters; headers: lower-case name -> value as received."""
    signed = auth["signed_headers"]
    if signed != sorted(signed) or len(set(signed)) != len(signed) or any(h != h.lower() for h in signed):
        raise ApiError(400, "IncompleteSignature",
                       "SignedHeaders must be the lower-case header names, sorted, without repeats.")
    absent = [h for h in signed if h not in headers]
    if absent:
        raise ApiError(400, "IncompleteSignature",
                       f"SignedHeaders names {', '.join(absent)}, which the request does not carry.")
    unsigned = sorted(required_signed_headers(headers) - set(signed))
    if unsigned:
        raise ApiError(400, "IncompleteSignature",
                       f"These headers must be signed (listed in SignedHeaders): {', '.join(unsigned)}.")
    payload_hash = headers.get("x-acs-content-sha256")
    if not payload_hash:
        raise ApiError(400, "IncompleteSignature", "The x-acs-content-sha256 header is missing.")
    if payload_hash != hashlib.sha256(body).hexdigest():
        raise ApiError(400, "SignatureDoesNotMatch",
                       "Specified signature is not matched with our calculation. hint: x-acs-content-sha256 "
                       "is not the lower-case hex SHA-256 of the request body.")
    signed_values = {h: headers[h] for h in signed}
    request = SimpleNamespace(method=method, pathname=path, query=query, headers=signed_values)
    expected = Utils.get_authorization(request, ALGORITHM, payload_hash, auth["access_key_id"], secret)
    expected_signature = expected.rsplit("Signature=", 1)[1]
    if not hmac.compare_digest(expected_signature, auth["signature"]):
        canonical = canonical_request(method, path, query, signed_values, payload_hash)
        err = ApiError(400, "SignatureDoesNotMatch",
                       "Specified signature is not matched with our calculation. server string to sign is:"
                       + string_to_sign(canonical))
        err.canonical_request = canonical
        raise err
