"""SAML for role-based SSO: IdP metadata, and verifying a SAML Response whose Assertion is signed.

The signature is checked by Debian's xmlsec1 against the certificate(s) from the SAML provider's
uploaded metadata (never a key carried in the message). Against signature wrapping, the document
must hold exactly one <saml:Assertion>, a direct child of the <samlp:Response>, holding exactly one
<ds:Signature> whose single Reference points at that Assertion's own ID, and every value the
emulator uses is read from exactly what was verified: that Assertion's subtree.

Two verifiers, equally strict: libxmlsec1 in-process through the PyPI `xmlsec` binding (python-xmlsec,
the default: no process per assertion, and it releases the GIL while it verifies), and the `xmlsec1`
CLI as a subprocess (the fallback when the binding cannot be imported, or chosen with
ALIBABA_EMU_XMLSEC=cli / emulator.py --xmlsec cli). Both are given only the metadata's certificates.
The CLI gets the Assertion cut out with lxml (prefixes and in-scope namespaces intact — exclusive
c14n makes the digest independent of the surroundings) into its own file, and the values are read
from those bytes parsed again. The in-process one verifies the Assertion element where it is in the
Response's tree (the same exclusive c14n of the same subtree, with the Assertion's ID the only ID
the document may hold, so the Reference can mean nothing else) and the values are read from that
element: one parse per Response instead of a parse, a serialisation and a second parse. It also has
xmlsec itself refuse any transform or algorithm outside the allow-lists below, and never reads
KeyInfo (the key is set on the context, so no key is ever taken from the message).
"""
import base64
import binascii
import os
import re
import subprocess
import sys
import tempfile
import threading

from lxml import etree

from common import ApiError, parse_time

XMLSEC1 = os.environ.get("XMLSEC1", "/usr/bin/xmlsec1")
try:
    import xmlsec as _xmlsec_lib  # python-xmlsec: libxmlsec1 in-process
except ImportError as e:  # pragma: no cover - the fallback
    _xmlsec_lib, _XMLSEC_IMPORT_ERROR = None, e
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
      "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "md": "urn:oasis:names:tc:SAML:2.0:metadata",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SIGNATURE_METHODS = {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                     "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
                     "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"}
DIGEST_METHODS = {"http://www.w3.org/2001/04/xmlenc#sha256",
                  "http://www.w3.org/2001/04/xmldsig-more#sha384",
                  "http://www.w3.org/2001/04/xmlenc#sha512"}
NCNAME = re.compile(r"^[^\W\d][\w.\-]*\Z")  # letters/_ first, then letters, digits, _ . - (no ':')
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
ROLE_ATTR = "https://www.aliyun.com/SAML-Role/Attributes/Role"
SESSION_ATTR = "https://www.aliyun.com/SAML-Role/Attributes/RoleSessionName"
DURATION_ATTR = "https://www.aliyun.com/SAML-Role/Attributes/SessionDuration"
SITES = {
    "international": {"recipient": "https://signin.alibabacloud.com/saml-role/sso",
                      "audience": "urn:alibaba:cloudcomputing:international"},
    "china": {"recipient": "https://signin.aliyun.com/saml-role/sso",
              "audience": "urn:alibaba:cloudcomputing"},
}


_parsers = threading.local()


def _parser():
    # Comments go at parse time: exclusive c14n (without comments) ignores them for the digest, and
    # a comment must not cut a signed text short when read (<NameID>a@x.com<!---->.evil</NameID>).
    # One parser per thread, reused (lxml resets it after each document, well-formed or not): a new
    # one is a new libxml2 parser context per document; a shared one would serialise the threads.
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
            remove_blank_text=False, remove_comments=True)
    return parser


def _parse(data, what):
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        raise ValueError(f"{what} is not well-formed XML ({e})") from None
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise ValueError(f"{what} must not carry a DOCTYPE")
    return root


def _b64decode(text):
    """base64.b64decode("".join(text.split()), validate=True), its answer and its errors: binascii's
    strict mode takes the usual, well-formed case in one C pass (b64decode's validating regex and the
    split/join copy are a third of the time of a 5 KiB assertion); anything it refuses — whitespace,
    non-ASCII, padding it finds excessive — is decided by b64decode exactly as before."""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return base64.b64decode("".join(text.split()), validate=True)


def q(prefix, name):
    return f"{{{NS[prefix]}}}{name}"


_TAGS = {f"{p}:{n}": q(p, n) for p, names in (
    ("samlp", ("Status", "StatusCode")),
    ("saml", ("Issuer", "Subject", "NameID", "SubjectConfirmation", "SubjectConfirmationData", "Conditions",
              "AudienceRestriction", "Audience", "AttributeStatement", "Attribute", "AttributeValue")),
    ("ds", ("Signature", "SignedInfo", "CanonicalizationMethod", "SignatureMethod", "Reference", "Transforms",
            "Transform", "DigestMethod"))) for n in names}


def _all(el, *steps):
    """el.findall("p:A/p:B/...", NS) — the same elements in the same order — walked with lxml's
    iterchildren (C) instead of ElementPath (Python, a few microseconds per call, ~20 per assertion)."""
    return _all_in([el], *steps)


def _all_in(level, *steps):
    """_all() from each element of a list in turn (the list being an _all() result, the same as the
    longer path from their parent: _all_in(_all(e, "A"), "B") == _all(e, "A", "B"))."""
    for step in steps:
        tag = _TAGS[step]
        level = [c for e in level for c in e.iterchildren(tag)]
    return level


def _first(el, *steps):
    """el.find("p:A/p:B/...", NS): the first of _all(), or None."""
    if len(steps) == 1:
        return next(el.iterchildren(_TAGS[steps[0]]), None)
    found = _all(el, *steps)
    return found[0] if found else None


def _first_in(level, step):
    """The first of _all_in(level, step), or None."""
    tag = _TAGS[step]
    for e in level:
        for c in e.iterchildren(tag):
            return c
    return None


_DS_SIGNATURE = q("ds", "Signature")
_SAML_ASSERTION = q("saml", "Assertion")
_SAML_ENCRYPTED_ASSERTION = q("saml", "EncryptedAssertion")
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"


# ------------------------------------------------------------------ metadata

def parse_metadata(encoded):
    """EncodedSAMLMetadataDocument (base64 of an md:EntityDescriptor with an IDPSSODescriptor)
    -> {"entity_id", "certs": [PEM, ...]}; ValueError with the reason if unusable."""
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("it is not valid base64") from None
    root = _parse(data, "the metadata")
    if root.tag != q("md", "EntityDescriptor"):
        raise ValueError("the root element is not md:EntityDescriptor")
    entity_id = (root.get("entityID") or "").strip()
    if not entity_id:
        raise ValueError("md:EntityDescriptor has no entityID")
    idp = root.find("md:IDPSSODescriptor", NS)
    if idp is None:
        raise ValueError("there is no md:IDPSSODescriptor")
    certs = []
    for kd in idp.findall("md:KeyDescriptor", NS):
        if kd.get("use") not in (None, "signing"):
            continue
        for c in kd.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS):
            body = "".join((c.text or "").split())
            try:
                base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("an X509Certificate is not valid base64") from None
            lines = [body[i:i + 64] for i in range(0, len(body), 64)]
            certs.append("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n")
    if not certs:
        raise ValueError("the IDPSSODescriptor has no signing X509Certificate")
    pubkeys = []
    for pem in certs:
        # Its public key, once per upload: the in-process verifier sets it on each signature context
        # (a key loaded from the certificate PEM copies the certificate with it on every set, ~40 us).
        p = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=pem.encode(), capture_output=True)
        if p.returncode != 0 or b"-----BEGIN PUBLIC KEY-----" not in p.stdout:
            raise ValueError("an X509Certificate is not a certificate openssl can read")
        pubkeys.append(p.stdout)
    return {"entity_id": entity_id, "certs": certs, "pubkeys": pubkeys}


# ------------------------------------------------------------------ responses

def invalid(message):
    return ApiError(401, "AuthenticationFail.SAMLAssertion.Invalid", f"The SAML Assertion is invalid: {message}")


def expired(message):
    return ApiError(401, "AuthenticationFail.SAMLAssertion.Expired", f"The SAML Assertion is expired: {message}")


def decode_response(b64):
    """base64 SAMLResponse -> (lxml root of the samlp:Response, raw bytes). ApiError if unusable."""
    try:
        data = _b64decode(b64)
    except (binascii.Error, ValueError):
        raise invalid("it is not valid base64 (send the whole SAML Response, base64-encoded)") from None
    try:
        root = _parse(data, "the SAML Response")
    except ValueError as e:
        raise invalid(str(e)) from None
    if root.tag != q("samlp", "Response"):
        raise invalid("the root element is not samlp:Response (send the whole Response, not the Assertion)")
    return root, data


def unverified_role_pairs(root):
    """Role attribute values of a not-yet-verified Response: only to find which SAML provider's
    certificate to verify it with (/saml-role/sso). Nothing else may be read before verification."""
    out = []
    for v in root.iterfind(f".//saml:Attribute[@Name='{ROLE_ATTR}']/saml:AttributeValue", NS):
        try:
            out.append(split_role_value(v.text or ""))
        except ValueError:
            pass
    return out


def split_role_value(value):
    """'<RoleArn>,<SAMLProviderArn>' in either order -> (role_arn, provider_arn); ValueError if not."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2:
        raise ValueError(f"Role attribute value {value.strip()!r} is not '<RoleArn>,<SAMLProviderArn>'")
    roles = [p for p in parts if ":role/" in p]
    providers = [p for p in parts if ":saml-provider/" in p]
    if len(roles) != 1 or len(providers) != 1:
        raise ValueError(f"Role attribute value {value.strip()!r} must name one role ARN and one "
                         "saml-provider ARN")
    return roles[0], providers[0]


def _check_signature_shape(root):
    """The anti-wrapping rules; returns the Assertion element and its ds:Signature."""
    # One walk of the tree for both (the root, a samlp:Response, is neither).
    found = list(root.iter(_SAML_ENCRYPTED_ASSERTION, _SAML_ASSERTION))
    assertions = [e for e in found if e.tag == _SAML_ASSERTION]
    if len(assertions) != len(found):
        raise invalid("encrypted assertions are not supported; sign the Assertion instead")
    if len(assertions) != 1:
        raise invalid(f"the Response must contain exactly one saml:Assertion (it has {len(assertions)})")
    assertion = assertions[0]
    if assertion.getparent() is not root:
        raise invalid("the saml:Assertion must be a direct child of samlp:Response")
    aid = assertion.get("ID")
    if not aid:
        raise invalid("the saml:Assertion has no ID")
    if not NCNAME.match(aid):
        # xs:ID is an NCName; anything else (e.g. "xpointer(/)") could make "#<ID>" mean more than one element
        raise invalid(f"the saml:Assertion's ID {aid!r} is not an xs:ID (an NCName)")
    sigs = list(assertion.iter(_DS_SIGNATURE))
    if len(sigs) != 1 or sigs[0].getparent() is not assertion:
        raise invalid("the saml:Assertion must carry exactly one ds:Signature, as its direct child "
                      "(an unsigned Assertion is refused even if the Response is signed)")
    signed_info = _all(sigs[0], "ds:SignedInfo")
    c14n = _first_in(signed_info, "ds:CanonicalizationMethod")
    if c14n is None or c14n.get("Algorithm") != EXC_C14N:
        raise invalid(f"SignedInfo must use exclusive canonicalization ({EXC_C14N})")
    method = _first_in(signed_info, "ds:SignatureMethod")
    alg = method.get("Algorithm") if method is not None else None
    if alg not in SIGNATURE_METHODS:
        raise invalid(f"signature algorithm {alg} is refused (SHA-1 and others are not accepted); use rsa-sha256")
    refs = _all_in(signed_info, "ds:Reference")
    if len(refs) != 1:
        raise invalid("the Signature must have exactly one Reference")
    if refs[0].get("URI") != "#" + aid:
        raise invalid(f"the Signature's Reference URI {refs[0].get('URI')!r} is not the Assertion's own "
                      f"ID '#{aid}'")
    transforms = [t.get("Algorithm") for t in _all(refs[0], "ds:Transforms", "ds:Transform")]
    if any(t not in (ENVELOPED, EXC_C14N) for t in transforms) or ENVELOPED not in transforms:
        raise invalid("the Reference may only use the enveloped-signature and exclusive c14n transforms")
    digest = _first(refs[0], "ds:DigestMethod")
    dalg = digest.get("Algorithm") if digest is not None else None
    if dalg not in DIGEST_METHODS:
        raise invalid(f"digest algorithm {dalg} is refused (SHA-1 is not accepted); use sha256")
    return assertion, sigs[0]


def _cli_verify(assertion_bytes, cert_pems):
    """The xmlsec1 CLI, one process per certificate (slow: a few dozen assertions/s)."""
    with tempfile.TemporaryDirectory(prefix="alibaba-emu-saml-") as d:
        path = os.path.join(d, "assertion.xml")
        with open(path, "wb") as f:
            f.write(assertion_bytes)
        for i, pem in enumerate(cert_pems):
            cert = os.path.join(d, f"cert{i}.pem")
            with open(cert, "w") as f:
                f.write(pem)
            p = subprocess.run([XMLSEC1, "--verify", "--enabled-reference-uris", "same-doc",
                                "--pubkey-cert-pem", cert,
                                "--id-attr:ID", f"{NS['saml']}:Assertion", path],
                               capture_output=True, timeout=20)
            if p.returncode == 0:
                return True
    return False


_keys = {}                    # public key PEM (bytes) -> xmlsec.Key; read without a lock (a dict get is atomic)
_keys_lock = threading.Lock()


def _lib_key(pubkey_pem):
    key = _keys.get(pubkey_pem)
    if key is None:
        with _keys_lock:
            key = _keys.get(pubkey_pem)
            if key is None:
                key = _keys[pubkey_pem] = _xmlsec_lib.Key.from_memory(pubkey_pem, _xmlsec_lib.KeyFormat.PEM)
    return key


def _lib_verify(assertion, sig, pubkeys):
    """libxmlsec1 in-process on the Assertion where it is, in the Response's own tree (parsed once:
    the signature covers exactly the Assertion's subtree, which is what is read afterwards; exclusive
    c14n of it is the same in the Response as cut out on its own, and the reference resolves to it
    alone, below). The key (the public key of one of the metadata's certificates) is set on the
    context (so KeyInfo is never used to find one), the ID registered only on the Assertion element,
    and xmlsec itself limited to the allowed c14n, signature, transform and digest algorithms. The
    verification runs without the GIL."""
    T = _xmlsec_lib.Transform
    # The Assertion's ID is the only ID registered, so "#<ID>" can only mean the Assertion: if the
    # document already holds that ID (an xml:id, the only kind libxml2 registers by itself, anywhere
    # in the Response), xmlsec refuses to register it again ("duplicated id") and so is the Response.
    try:
        _xmlsec_lib.SignatureContext().register_id(assertion, "ID")
    except _xmlsec_lib.Error:
        raise invalid(f"the saml:Assertion's ID {assertion.get('ID')!r} is not unique in the Response") from None
    for pem in pubkeys:
        ctx = _xmlsec_lib.SignatureContext()
        for t in (T.EXCL_C14N, T.RSA_SHA256, T.RSA_SHA384, T.RSA_SHA512):
            ctx.enable_signature_transform(t)
        for t in (T.ENVELOPED, T.EXCL_C14N, T.SHA256, T.SHA384, T.SHA512):
            ctx.enable_reference_transform(t)
        # A key set on the context makes xmlsec skip <ds:KeyInfo> altogether (no keys manager either):
        # the metadata's certificate's key is the only key. The setter duplicates the cached key.
        ctx.key = _lib_key(pem)
        try:
            ctx.verify(sig)
            return True
        except _xmlsec_lib.Error:  # VerificationError is a subclass: a bad signature or a refused algorithm
            continue
    return False


def _backend():
    want = os.environ.get("ALIBABA_EMU_XMLSEC", "auto")
    if want not in ("auto", "lib", "cli"):
        raise SystemExit(f"ALIBABA_EMU_XMLSEC={want!r}: use auto, lib or cli")
    if want == "cli" or (want == "auto" and _xmlsec_lib is None):
        if want == "auto":
            print(f"alibaba emulator: python-xmlsec not importable ({_XMLSEC_IMPORT_ERROR}); verifying SAML "
                  "with the xmlsec1 CLI (slow)", file=sys.stderr, flush=True)
        return "cli"
    if _xmlsec_lib is None:
        raise SystemExit(f"ALIBABA_EMU_XMLSEC=lib but python-xmlsec is not importable: {_XMLSEC_IMPORT_ERROR}")
    return "lib"


BACKEND = _backend()  # "lib" (python-xmlsec) or "cli" (xmlsec1 subprocess); emulator.py --xmlsec sets the variable


def verify_response(root, metadata):
    """Check the signature of the Response's Assertion with the provider's certificates and read
    the verified Assertion. Returns a dict of what it says; time, audience and recipient are
    checked by check_assertion()."""
    status = _first(root, "samlp:Status", "samlp:StatusCode")
    if status is None or status.get("Value") != SUCCESS:
        raise invalid("the Response's StatusCode is not Success")
    assertion, sig = _check_signature_shape(root)
    if BACKEND == "lib":
        a = assertion  # verified in place: from here on only the verified subtree is read
        ok = _lib_verify(a, sig, metadata["pubkeys"])
    else:
        # What libxmlsec1 in-process refuses by itself (the ID would be registered twice), refused
        # here too, though the cut-out Assertion would not show it: its ID as an xml:id anywhere.
        aid = assertion.get("ID")
        if any(" ".join((e.get(_XML_ID) or "").split()) == aid for e in root.iter(etree.Element)):
            raise invalid(f"the saml:Assertion's ID {aid!r} is not unique in the Response")
        data = etree.tostring(assertion)
        a = _parse(data, "the verified Assertion")  # from here on only the verified bytes are read
        ok = _cli_verify(data, metadata["certs"])
    if not ok:
        raise invalid("the signature does not verify with the certificate(s) in the SAML provider's metadata")
    if a.get("Version") != "2.0":
        raise invalid("the Assertion's Version is not 2.0")
    issuer_el = _first(a, "saml:Issuer")
    issuer = ((issuer_el.text if issuer_el is not None else None) or "").strip()
    if issuer != metadata["entity_id"]:
        raise invalid(f"Issuer {issuer!r} is not the entityID of the SAML provider's metadata "
                      f"({metadata['entity_id']!r})")
    response_issuer = _first(root, "saml:Issuer")
    if response_issuer is not None and (response_issuer.text or "").strip() != issuer:
        raise invalid("the Response's Issuer differs from the Assertion's")
    subjects = _all(a, "saml:Subject")
    name_id = _first_in(subjects, "saml:NameID")
    if name_id is None or not (name_id.text or "").strip():
        raise invalid("the Assertion has no Subject/NameID")
    confirmations = []
    for sc in _all_in(subjects, "saml:SubjectConfirmation"):
        if sc.get("Method") != BEARER:
            continue
        scd = _first(sc, "saml:SubjectConfirmationData")
        if scd is not None:
            confirmations.append({k: scd.get(k) for k in ("Recipient", "NotBefore", "NotOnOrAfter")})
    if not confirmations:
        raise invalid("the Subject has no bearer SubjectConfirmation with SubjectConfirmationData")
    conditions = _all(a, "saml:Conditions")
    cond = conditions[0] if conditions else None
    audiences = [(x.text or "").strip() for x in
                 _all_in(conditions, "saml:AudienceRestriction", "saml:Audience")]
    attributes = {}
    for attr in _all(a, "saml:AttributeStatement", "saml:Attribute"):
        attributes.setdefault(attr.get("Name"), []).extend(
            (v.text or "").strip() for v in attr.iterchildren(_TAGS["saml:AttributeValue"]))
    fmt = name_id.get("Format") or ""
    for prefix in ("urn:oasis:names:tc:SAML:2.0:nameid-format:", "urn:oasis:names:tc:SAML:1.1:nameid-format:"):
        if fmt.startswith(prefix):
            fmt = fmt[len(prefix):]
    return {"id": a.get("ID"), "issuer": issuer, "subject": name_id.text.strip(), "subject_type": fmt,
            "confirmations": confirmations, "audiences": audiences,
            "not_before": cond.get("NotBefore") if cond is not None else None,
            "not_on_or_after": cond.get("NotOnOrAfter") if cond is not None else None,
            "attributes": attributes, "destination": root.get("Destination")}


def _time(value, what):
    try:
        return parse_time(value)
    except ValueError:
        raise invalid(f"{what} {value!r} is not an ISO 8601 UTC time") from None


def check_assertion(info, site, now, skew_seconds):
    """Recipient, Audience, Destination and validity times for the account's site.
    Returns the Recipient that matched."""
    import datetime as dt
    expect = SITES[site]
    skew = dt.timedelta(seconds=skew_seconds)
    if info["destination"] is not None and info["destination"] != expect["recipient"]:
        raise invalid(f"the Response's Destination {info['destination']!r} is not {expect['recipient']!r} "
                      f"(the {site} site's sign-in URL)")
    matching = [c for c in info["confirmations"] if c["Recipient"] == expect["recipient"]]
    if not matching:
        got = ", ".join(repr(c["Recipient"]) for c in info["confirmations"])
        raise invalid(f"SubjectConfirmationData Recipient {got} is not {expect['recipient']!r} "
                      f"(the {site} site's sign-in URL)")
    if expect["audience"] not in info["audiences"]:
        raise invalid(f"AudienceRestriction/Audience {info['audiences']!r} does not include "
                      f"{expect['audience']!r} (the {site} site)")
    if info["not_before"] and now + skew < _time(info["not_before"], "Conditions NotBefore"):
        raise invalid(f"the Assertion is not valid yet (Conditions NotBefore {info['not_before']})")
    if info["not_on_or_after"] and now - skew >= _time(info["not_on_or_after"], "Conditions NotOnOrAfter"):
        raise expired(f"Conditions NotOnOrAfter {info['not_on_or_after']} has passed")
    c = matching[0]
    if not c["NotOnOrAfter"]:
        raise invalid("SubjectConfirmationData has no NotOnOrAfter")
    if now - skew >= _time(c["NotOnOrAfter"], "SubjectConfirmationData NotOnOrAfter"):
        raise expired(f"SubjectConfirmationData NotOnOrAfter {c['NotOnOrAfter']} has passed")
    if c["NotBefore"] and now + skew < _time(c["NotBefore"], "SubjectConfirmationData NotBefore"):
        raise invalid(f"the Assertion is not valid yet (SubjectConfirmationData NotBefore {c['NotBefore']})")
    return c["Recipient"]
