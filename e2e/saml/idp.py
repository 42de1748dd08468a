#!/usr/bin/env python3
"""A real SAML 2.0 IdP for Gatehouse's tests: pysaml2 signing with Debian's xmlsec1.

Commands (JSON on stdin where noted, JSON or XML on stdout):

  idp.py keys DIR                 throwaway IdP key/cert (idp.key, idp.crt) and a second,
                                  unconfigured pair (other.key, other.crt) for the corpus
  idp.py metadata DIR ENTITY SSO  the IdP's metadata XML
  idp.py mint      < request      one fresh response: {"b64", "xml", "assertion_id"}
  idp.py corpus    < request      the negative corpus: [{"name", "b64", "code"}]
  idp.py serve DIR PORT ENTITY    HTTP mode: GET /sso?SAMLRequest=... (HTTP-Redirect) answers
                                  a page that auto-posts a signed response to the ACS URL;
                                  the user is taken from ?user= (default "alice"), groups
                                  from ?group=, the signing shape from ?sign=, the
                                  AuthnContextClassRef from ?authn_context=

A mint/corpus request: {"dir", "idp_entity_id", "sp_entity_id", "acs_url",
"in_response_to" (or null), "name_id", "attributes": {name: [values]},
"authn_context": class ref, "sign": "response" | "assertion" | "both",
"sign_alg": "sha256" (default) | "sha1"}.

The corpus is built from valid signed responses: wrapping shapes (XSW1-8) moved around
without the key, as an attacker would; content changes (audience, issuer, ...) re-signed with
the IdP's own key, so that each case is refused for its own reason and not merely because a
digest broke.
"""

import base64
import copy
import html
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import zlib
from datetime import datetime, timedelta, timezone

from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.server import Server

XMLSEC = "/usr/bin/xmlsec1"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
SAMLP = "{%s}" % NS["samlp"]
SAML = "{%s}" % NS["saml"]
DS = "{%s}" % NS["ds"]
ALGS = {
    "sha256": (
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmlenc#sha256",
    ),
    "sha1": (
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#sha1",
    ),
}


def keys(directory):
    os.makedirs(directory, exist_ok=True)
    for name in ("idp", "other"):
        key, crt = (os.path.join(directory, f"{name}.{ext}") for ext in ("key", "crt"))
        if os.path.exists(key) and os.path.exists(crt):
            continue
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", f"/CN=gatehouse-test-{name}", "-keyout", key, "-out", crt],
            check=True, capture_output=True,
        )
    print(json.dumps({"cert": cert_b64(os.path.join(directory, "idp.crt")),
                      "other_cert": cert_b64(os.path.join(directory, "other.crt"))}))


def cert_b64(path):
    with open(path) as f:
        return "".join(l.strip() for l in f if l.strip() and not l.startswith("-----"))


def sp_metadata(sp_entity_id, acs_url):
    return f"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{html.escape(sp_entity_id)}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAssertionsSigned="true">
    <md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" Location="{html.escape(acs_url)}" index="0"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"""


def server(directory, idp_entity_id, sso_url="http://127.0.0.1/sso", sps=()):
    conf = IdPConfig()
    conf.load({
        "entityid": idp_entity_id,
        "xmlsec_binary": XMLSEC,
        "key_file": os.path.join(directory, "idp.key"),
        "cert_file": os.path.join(directory, "idp.crt"),
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(sso_url, BINDING_HTTP_REDIRECT)]},
            "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
            # Release every attribute as given: the SP maps names itself.
            "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None,
                                   "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}},
        }},
        # No attribute converters: names go out exactly as given (email, displayName, groups).
        "attribute_map_dir": os.path.join(os.path.dirname(os.path.abspath(__file__)), "attribute-maps"),
        "metadata": {"inline": [sp_metadata(e, a) for e, a in sps]},
    })
    return Server(config=conf)


def metadata(directory, entity_id, sso_url):
    cert = cert_b64(os.path.join(directory, "idp.crt"))
    print(f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{html.escape(entity_id)}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>{NAMEID_FORMAT_UNSPECIFIED}</md:NameIDFormat>
    <md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="{html.escape(sso_url)}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>""")


def create(req, sign=None, sign_alg=None):
    """A response from pysaml2's own Server.create_authn_response."""
    sign = sign or req.get("sign", "response")
    alg = ALGS[sign_alg or req.get("sign_alg", "sha256")]
    srv = server(req["dir"], req["idp_entity_id"], sps=[(req["sp_entity_id"], req["acs_url"])])
    authn = {"class_ref": req.get("authn_context",
                                  "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"),
             "authn_auth": req["idp_entity_id"]}
    xml = srv.create_authn_response(
        identity=req.get("attributes", {}),
        in_response_to=req.get("in_response_to"),
        destination=req["acs_url"],
        sp_entity_id=req["sp_entity_id"],
        name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=req["name_id"]),
        authn=authn,
        sign_response=sign in ("response", "both"),
        sign_assertion=sign in ("assertion", "both"),
        sign_alg=alg[0],
        digest_alg=alg[1],
    )
    return str(xml)


def b64(xml):
    if isinstance(xml, str):
        xml = xml.encode()
    return base64.b64encode(xml).decode()


def mint(req):
    xml = create(req)
    root = etree.fromstring(xml.encode())
    assertion = root.find(SAML + "Assertion")
    print(json.dumps({"b64": b64(xml), "xml": xml,
                      "assertion_id": assertion.get("ID") if assertion is not None else None}))


# ---- signing arbitrary (mutated) documents with xmlsec1, as the IdP would ----

def strip_signatures(root):
    for sig in root.iter(DS + "Signature"):
        sig.getparent().remove(sig)


def signature_template(ref_id, cert, alg):
    sig = etree.Element(DS + "Signature", nsmap={"ds": NS["ds"]})
    si = etree.SubElement(sig, DS + "SignedInfo")
    etree.SubElement(si, DS + "CanonicalizationMethod",
                     Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    etree.SubElement(si, DS + "SignatureMethod", Algorithm=alg[0])
    ref = etree.SubElement(si, DS + "Reference", URI="#" + ref_id)
    tr = etree.SubElement(ref, DS + "Transforms")
    etree.SubElement(tr, DS + "Transform",
                     Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature")
    etree.SubElement(tr, DS + "Transform", Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    etree.SubElement(ref, DS + "DigestMethod", Algorithm=alg[1])
    etree.SubElement(ref, DS + "DigestValue")
    etree.SubElement(sig, DS + "SignatureValue")
    ki = etree.SubElement(sig, DS + "KeyInfo")
    etree.SubElement(etree.SubElement(ki, DS + "X509Data"), DS + "X509Certificate").text = cert
    return sig


def xmlsec_sign(xml_bytes, key, crt):
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        f.write(xml_bytes)
        path = f.name
    try:
        out = subprocess.run(
            [XMLSEC, "--sign", "--privkey-pem", f"{key},{crt}",
             "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
             "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
             "--output", "/dev/stdout", path],
            check=True, capture_output=True,
        )
        return out.stdout
    finally:
        os.unlink(path)


def sign(root, target, directory, key_name="idp", alg="sha256"):
    """Signs `target` ("response", "assertion" or "both") of a signature-free tree."""
    key = os.path.join(directory, f"{key_name}.key")
    crt = os.path.join(directory, f"{key_name}.crt")
    cert = cert_b64(crt)
    algs = ALGS[alg]
    if target in ("assertion", "both"):
        assertion = root.find(SAML + "Assertion")
        issuer = assertion.find(SAML + "Issuer")
        issuer.addnext(signature_template(assertion.get("ID"), cert, algs))
        root = etree.fromstring(xmlsec_sign(etree.tostring(root), key, crt))
    if target in ("response", "both"):
        root.find(SAML + "Issuer").addnext(signature_template(root.get("ID"), cert, algs))
        root = etree.fromstring(xmlsec_sign(etree.tostring(root), key, crt))
    return root


def corpus(req):
    d = req["dir"]
    shape = req.get("sign", "response")
    unsigned = etree.fromstring(create(req, sign="none").encode())
    strip_signatures(unsigned)
    signed_resp = etree.fromstring(create(req, sign="response").encode())
    signed_assert = etree.fromstring(create(req, sign="assertion").encode())
    cases = []

    def add(name, root_or_bytes, code):
        data = root_or_bytes if isinstance(root_or_bytes, (bytes, str)) else etree.tostring(root_or_bytes)
        cases.append({"name": name, "b64": b64(data), "code": code})

    def resigned(mutate, target=shape, **kw):
        root = copy.deepcopy(unsigned)
        mutate(root)
        return sign(root, target, d, **kw)

    def evil(assertion):
        """The attacker's edit: another person's NameID, a fresh ID."""
        assertion.set("ID", "_evil" + assertion.get("ID"))
        assertion.find(f"{SAML}Subject/{SAML}NameID").text = "admin@victim.example"
        return assertion

    # -- the eight wrapping shapes (Somorovsky et al., "On Breaking SAML", as SAML Raider builds them)
    # XSW1: evil Response at the root; the original signed Response inside the evil one's Signature.
    r = copy.deepcopy(signed_resp)
    original = copy.deepcopy(r)
    r.set("ID", "_evil" + r.get("ID"))
    evil(r.find(SAML + "Assertion"))
    sig = r.find(DS + "Signature")
    strip_signatures(original.find(SAML + "Assertion"))
    sig.append(original)
    add("xsw1", r, "saml_signature_wrapping")
    # XSW2: as XSW1, the original Response as a sibling before the Signature (detached).
    r = copy.deepcopy(signed_resp)
    original = copy.deepcopy(r)
    r.set("ID", "_evil" + r.get("ID"))
    evil(r.find(SAML + "Assertion"))
    sig = r.find(DS + "Signature")
    sig.addprevious(original)
    add("xsw2", r, "saml_signature_wrapping")
    # XSW3: evil Assertion inserted before the original signed Assertion.
    r = copy.deepcopy(signed_assert)
    a = r.find(SAML + "Assertion")
    e = evil(copy.deepcopy(a))
    strip_signatures(e)
    a.addprevious(e)
    add("xsw3", r, "saml_signature_wrapping")
    # XSW4: the original signed Assertion nested inside the evil one.
    r = copy.deepcopy(signed_assert)
    a = r.find(SAML + "Assertion")
    e = evil(copy.deepcopy(a))
    strip_signatures(e)
    r.replace(a, e)
    e.append(a)
    add("xsw4", r, "saml_signature_wrapping")
    # XSW5: the evil Assertion keeps the copied Signature; the original (unsigned) goes last.
    r = copy.deepcopy(signed_assert)
    a = r.find(SAML + "Assertion")
    e = evil(copy.deepcopy(a))
    strip_signatures(a)
    r.replace(a, e)
    r.append(a)
    add("xsw5", r, "saml_signature_wrapping")
    # XSW6: the evil Assertion keeps the Signature; the original inside that Signature.
    r = copy.deepcopy(signed_assert)
    a = r.find(SAML + "Assertion")
    e = evil(copy.deepcopy(a))
    strip_signatures(a)
    r.replace(a, e)
    e.find(DS + "Signature").append(a)
    add("xsw6", r, "saml_signature_wrapping")
    # XSW7: the original signed Assertion hidden in an Extensions element; the evil one beside.
    r = copy.deepcopy(signed_assert)
    a = r.find(SAML + "Assertion")
    e = evil(copy.deepcopy(a))
    strip_signatures(e)
    ext = etree.Element(SAMLP + "Extensions")
    r.find(SAML + "Issuer").addnext(ext)
    r.replace(a, e)
    ext.append(a)
    add("xsw7", r, "saml_signature_wrapping")
    # XSW8: the evil Assertion keeps the Signature; the original, unsigned, in a ds:Object of it.
    r = copy.deepcopy(signed_assert)
    a = r.find(SAML + "Assertion")
    e = evil(copy.deepcopy(a))
    strip_signatures(a)
    r.replace(a, e)
    obj = etree.SubElement(e.find(DS + "Signature"), DS + "Object")
    obj.append(a)
    add("xsw8", r, "saml_signature_wrapping")

    base = signed_resp if shape != "assertion" else signed_assert

    # -- signatures
    r = copy.deepcopy(base)
    strip_signatures(r)
    add("signature_removed", r, "saml_unsigned")
    # Signed by another key, no KeyInfo: only the configured certificate is tried, and fails.
    r = resigned(lambda r: None, key_name="other")
    for ki in list(r.iter(DS + "KeyInfo")):
        ki.getparent().remove(ki)
    add("signed_by_other_key", r, "saml_signature_invalid")
    # Key only in KeyInfo: signed by another key whose certificate rides along in KeyInfo. The
    # signature is valid under that key; the key is simply not one the administrator configured.
    add("key_only_in_key_info", resigned(lambda r: None, key_name="other"), "saml_untrusted_key")
    r = copy.deepcopy(base)
    dv = r.find(f".//{DS}DigestValue")
    raw = bytearray(base64.b64decode(dv.text))
    raw[0] ^= 1
    dv.text = base64.b64encode(bytes(raw)).decode()
    add("digest_tampered", r, "saml_signature_invalid")
    r = copy.deepcopy(base)
    r.find(f".//{SAML}NameID").text = "admin@victim.example"
    add("content_tampered", r, "saml_signature_invalid")
    add("sha1_signature", resigned(lambda r: None, alg="sha1"), "saml_algorithm_forbidden")

    # -- comment in NameID: signed by the IdP (a user registered "admin@x<!---->.evil.com"-style);
    # it verifies, and must read as the full text, never as "admin@x".
    def comment(root):
        nid = root.find(f"{SAML}Assertion/{SAML}Subject/{SAML}NameID")
        nid.text = "admin@victim.example"
        nid.append(etree.Comment(""))
        nid[-1].tail = ".evil.com"
    add("comment_in_name_id", resigned(comment), "ok:admin@victim.example.evil.com")

    # -- assertions
    def two(root):
        a = root.find(SAML + "Assertion")
        b = copy.deepcopy(a)
        b.set("ID", "_second" + a.get("ID"))
        a.addnext(b)
    add("two_assertions", resigned(two, target="response"), "saml_assertion_count")

    def advice(root):
        a = root.find(SAML + "Assertion")
        inner = evil(copy.deepcopy(a))
        adv = etree.Element(SAML + "Advice")
        adv.append(inner)
        a.find(SAML + "Conditions").addnext(adv)
    add("assertion_in_advice", resigned(advice), "saml_nested_assertion")

    def no_assertion(root):
        root.remove(root.find(SAML + "Assertion"))
    add("no_assertion", resigned(no_assertion, target="response"), "saml_assertion_count")

    # -- content checks, each re-signed so only that check can refuse it
    def set_text(path, value):
        def f(root):
            for el in root.findall(path):
                el.text = value
        return f

    def set_attr(path, attr, value):
        def f(root):
            els = [root] if path == "." else root.findall(path)
            for el in els:
                el.set(attr, value)
        return f

    add("wrong_audience", resigned(set_text(f".//{SAML}Audience", "https://other-sp.example/")),
        "saml_audience")

    def extra_restriction(root):
        cond = root.find(f".//{SAML}Conditions")
        ar = etree.SubElement(cond, SAML + "AudienceRestriction")
        etree.SubElement(ar, SAML + "Audience").text = "https://other-sp.example/"
    add("second_audience_restriction_not_us", resigned(extra_restriction), "saml_audience")

    def no_audience(root):
        cond = root.find(f".//{SAML}Conditions")
        for ar in cond.findall(SAML + "AudienceRestriction"):
            cond.remove(ar)
    add("no_audience_restriction", resigned(no_audience), "saml_audience")
    add("wrong_destination", resigned(set_attr(".", "Destination", "https://evil.example/acs"),
                                      target="response"), "saml_destination")
    add("wrong_recipient", resigned(set_attr(f".//{SAML}SubjectConfirmationData", "Recipient",
                                             "https://evil.example/acs")), "saml_recipient")
    add("wrong_issuer_response", resigned(set_text(SAML + "Issuer", "https://evil-idp.example/")),
        "saml_issuer")
    add("wrong_issuer_assertion",
        resigned(set_text(f"{SAML}Assertion/{SAML}Issuer", "https://evil-idp.example/")), "saml_issuer")

    now = datetime.now(timezone.utc)
    fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")

    def shift(delta):
        def f(root):
            for el in root.iter():
                for attr in ("IssueInstant", "NotBefore", "NotOnOrAfter", "AuthnInstant"):
                    if el.get(attr):
                        old = datetime.strptime(el.get(attr)[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
                        el.set(attr, fmt(old + delta))
        return f
    add("expired", resigned(shift(timedelta(hours=-2))), "saml_expired")
    add("not_yet_valid", resigned(shift(timedelta(hours=2))), "saml_not_yet_valid")

    def status(root):
        code = root.find(f"{SAMLP}Status/{SAMLP}StatusCode")
        code.set("Value", "urn:oasis:names:tc:SAML:2.0:status:Responder")
    add("status_not_success", resigned(status, target="response"), "saml_status")

    def unsolicited(root):
        root.attrib.pop("InResponseTo", None)
        for el in root.iter(SAML + "SubjectConfirmationData"):
            el.attrib.pop("InResponseTo", None)
    add("unsolicited", resigned(unsolicited), "saml_unsolicited")

    def other_browser(root):
        root.set("InResponseTo", "_request_of_another_browser")
        for el in root.iter(SAML + "SubjectConfirmationData"):
            el.set("InResponseTo", "_request_of_another_browser")
    add("in_response_to_other_browser", resigned(other_browser), "saml_in_response_to")

    # -- parsing
    text = etree.tostring(base).decode()
    add("doctype", '<?xml version="1.0"?>\n<!DOCTYPE Response [<!ELEMENT Response ANY>]>\n' + text,
        "saml_doctype")
    add("external_entity",
        '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        + text.replace("</saml:Issuer>", "&xxe;</saml:Issuer>", 1).replace("</ns1:Issuer>", "&xxe;</ns1:Issuer>", 1),
        "saml_doctype")
    lol = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10 if i else "lol"}">' for i in range(10))
    add("billion_laughs", f'<?xml version="1.0"?>\n<!DOCTYPE r [{lol}]>\n<r>&l9;</r>', "saml_doctype")
    padded = etree.fromstring(etree.tostring(base))
    padded.append(etree.Comment("x" * (300 * 1024)))
    add("oversized", padded, "saml_too_large")
    add("not_base64", b"", "saml_not_base64")
    cases[-1]["b64"] = "this is not base64!"
    cases[-1]["code"] = "saml_not_base64"
    add("not_xml", b"<samlp:Response", "saml_malformed")
    add("not_a_response", b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x"/>',
        "saml_not_response")
    print(json.dumps(cases))


# ---- HTTP mode: SP-initiated sign-in through a real redirect and auto-posted form ----

def serve(directory, port, idp_entity_id):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            q = urllib.parse.parse_qs(url.query)
            if url.path == "/metadata":
                return self.reply(200, "application/samlmetadata+xml", metadata_text())
            if url.path != "/sso" or "SAMLRequest" not in q:
                return self.reply(404, "text/plain", "not found")
            try:
                request = zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15)
                root = etree.fromstring(request, etree.XMLParser(resolve_entities=False, no_network=True))
                acs = root.get("AssertionConsumerServiceURL")
                sp = root.find(SAML + "Issuer").text
                user = q.get("user", ["alice"])[0]
                req = {"dir": directory, "idp_entity_id": idp_entity_id, "sp_entity_id": sp,
                       "acs_url": acs, "in_response_to": root.get("ID"),
                       "name_id": f"{user}@example.com",
                       "attributes": {"email": [f"{user}@example.com"], "displayName": [user.title()],
                                      "groups": q.get("group", ["engineers"])},
                       "sign": q.get("sign", ["response"])[0]}
                if "authn_context" in q:
                    req["authn_context"] = q["authn_context"][0]
                xml = create(req)
            except Exception as exc:  # a test IdP: say what was wrong with the request
                return self.reply(400, "text/plain", f"bad AuthnRequest: {exc}")
            relay = q.get("RelayState", [None])[0]
            relay_input = (f'<input type="hidden" name="RelayState" value="{html.escape(relay)}">'
                           if relay is not None else "")
            page = f"""<!doctype html><html><body onload="document.forms[0].submit()">
<form method="post" action="{html.escape(acs)}">
<input type="hidden" name="SAMLResponse" value="{b64(xml)}">{relay_input}
<noscript><button type="submit">Continue</button></noscript></form></body></html>"""
            self.reply(200, "text/html", page)

        def reply(self, status, ctype, body):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def metadata_text():
        import io
        from contextlib import redirect_stdout
        buf = io.StringIO()
        with redirect_stdout(buf):
            metadata(directory, idp_entity_id, f"http://127.0.0.1:{port}/sso")
        return buf.getvalue()

    httpd = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    port = httpd.server_address[1]
    print(json.dumps({"listening": f"http://127.0.0.1:{port}"}), flush=True)
    httpd.serve_forever()


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "keys":
        keys(sys.argv[2])
    elif cmd == "metadata":
        metadata(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "mint":
        mint(json.load(sys.stdin))
    elif cmd == "corpus":
        corpus(json.load(sys.stdin))
    elif cmd == "serve":
        serve(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
