"""A throw-away SAML IdP for the emulator's own tests: a key pair made with openssl, its
metadata, and SAML Responses whose <saml:Assertion> is signed by xmlsec1 from a template —
the same shape the emulator expects from Gatehouse (see README.md, "The assertion").

    idp = TestIdP(workdir, entity_id="https://idp.test/saml")
    idp.metadata_b64()                       # EncodedSAMLMetadataDocument
    idp.response(roles=[(role_arn, provider_arn)], session_name="alice")   # base64 SAMLResponse

Keyword arguments of response() change one thing at a time, so the tests can build each kind
of bad assertion (wrong Recipient, expired, SHA-1, ...). Not used by the emulator itself.
"""
import base64
import datetime as dt
import os
import subprocess
import uuid
from xml.sax.saxutils import escape, quoteattr

XMLSEC1 = os.environ.get("XMLSEC1", "/usr/bin/xmlsec1")
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
INTL_RECIPIENT = "https://signin.alibabacloud.com/saml-role/sso"
INTL_AUDIENCE = "urn:alibaba:cloudcomputing:international"
ROLE_ATTR = "https://www.aliyun.com/SAML-Role/Attributes/Role"
SESSION_ATTR = "https://www.aliyun.com/SAML-Role/Attributes/RoleSessionName"
DURATION_ATTR = "https://www.aliyun.com/SAML-Role/Attributes/SessionDuration"

ALGS = {
    "sha256": ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
               "http://www.w3.org/2001/04/xmlenc#sha256"),
    "sha1": ("http://www.w3.org/2000/09/xmldsig#rsa-sha1",
             "http://www.w3.org/2000/09/xmldsig#sha1"),
}


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_keypair(directory, name):
    """openssl: a 2048-bit RSA key and a self-signed certificate; returns (key_path, cert_path)."""
    key, cert = os.path.join(directory, f"{name}.key.pem"), os.path.join(directory, f"{name}.cert.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "3650", "-subj", f"/CN={name}"],
                       check=True, capture_output=True)
    return key, cert


def cert_body(cert_path):
    with open(cert_path) as f:
        lines = f.read().strip().splitlines()
    return "".join(l for l in lines if "-----" not in l)


class TestIdP:
    __test__ = False  # not a test case, whatever a test runner thinks of the name

    def __init__(self, directory, entity_id="https://idp.gatehouse.test/saml", name="idp"):
        self.directory = directory
        self.entity_id = entity_id
        self.key, self.cert = make_keypair(directory, name)

    def metadata(self, certs=None):
        certs = certs or [self.cert]
        keys = "".join(
            f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_body(c)}'
            f'</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>' for c in certs)
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
                f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID={quoteattr(self.entity_id)}>'
                '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
                f'{keys}'
                '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
                f'Location={quoteattr(self.entity_id + "/sso")}/>'
                '</md:IDPSSODescriptor></md:EntityDescriptor>')

    def metadata_b64(self, certs=None):
        return base64.b64encode(self.metadata(certs).encode()).decode()

    def response_xml(self, roles, session_name="alice", *, subject="alice@example.com",
                     recipient=INTL_RECIPIENT, destination=None, audience=INTL_AUDIENCE, issuer=None,
                     now=None, not_before_delta=-60, lifetime=300, session_duration=None,
                     extra_attributes="", assertion_id=None, alg="sha256", sign_with=None,
                     tamper=None, tamper_replace=None, response_extra=None, wrap=False, sign=True,
                     subject_xml=None):
        """The SAML Response as XML text, its Assertion signed (unless sign=False).

        destination: the Response's Destination (default: the same as recipient).
        tamper: change the signed Assertion's NameID after signing (breaks the digest).
        tamper_replace: (old, new): replace every `old` in the signed document by `new`.
        response_extra: XML put into the Response after signing, after samlp:Status (outside the
            Assertion, so outside what is signed).
        wrap: add a second, unsigned Assertion before the signed one (signature wrapping).
        sign_with: (key, cert) of another signer.
        subject_xml: the NameID content as raw XML (e.g. with a comment in it), instead of subject.
        """
        now = now or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        issuer = issuer or self.entity_id
        aid = assertion_id or "_a" + uuid.uuid4().hex
        rid = "_r" + uuid.uuid4().hex
        nb, noa = iso(now + dt.timedelta(seconds=not_before_delta)), iso(now + dt.timedelta(seconds=lifetime))
        sig_alg, dig_alg = ALGS[alg]
        role_values = "".join(f"<saml:AttributeValue>{escape(r)},{escape(p)}</saml:AttributeValue>"
                              for r, p in roles)
        attrs = (f'<saml:Attribute Name="{ROLE_ATTR}">{role_values}</saml:Attribute>'
                 f'<saml:Attribute Name="{SESSION_ATTR}"><saml:AttributeValue>{escape(session_name)}'
                 '</saml:AttributeValue></saml:Attribute>')
        if session_duration is not None:
            attrs += (f'<saml:Attribute Name="{DURATION_ATTR}"><saml:AttributeValue>{session_duration}'
                      '</saml:AttributeValue></saml:Attribute>')
        attrs += extra_attributes
        signature = (
            '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
            '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
            f'<ds:SignatureMethod Algorithm="{sig_alg}"/>'
            f'<ds:Reference URI="#{aid}"><ds:Transforms>'
            '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
            '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
            f'<ds:DigestMethod Algorithm="{dig_alg}"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>'
            '<ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>') if sign else ""
        assertion = (
            f'<saml:Assertion xmlns:saml="{SAML_NS}" ID="{aid}" Version="2.0" IssueInstant="{iso(now)}">'
            f'<saml:Issuer>{escape(issuer)}</saml:Issuer>{signature}'
            '<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">'
            f'{subject_xml or escape(subject)}</saml:NameID>'
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{noa}" Recipient={quoteattr(recipient)}/>'
            '</saml:SubjectConfirmation></saml:Subject>'
            f'<saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}"><saml:AudienceRestriction>'
            f'<saml:Audience>{escape(audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>'
            f'<saml:AuthnStatement AuthnInstant="{iso(now)}" SessionIndex="{aid}"><saml:AuthnContext>'
            '<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport'
            '</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>'
            f'<saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>')
        evil = ""
        if wrap:
            evil = (assertion.replace(f'ID="{aid}"', 'ID="_evil"').replace(signature, "")
                    .replace(escape(subject), "mallory@example.com"))
        doc = ('<?xml version="1.0" encoding="UTF-8"?>'
               '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
               f'xmlns:saml="{SAML_NS}" ID="{rid}" Version="2.0" IssueInstant="{iso(now)}" '
               f'Destination={quoteattr(destination or recipient)}><saml:Issuer>{escape(issuer)}</saml:Issuer>'
               '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
               f'</samlp:Status>{evil}{assertion}</samlp:Response>')
        if sign:
            key, cert = sign_with or (self.key, self.cert)
            doc = self._sign(doc, key, cert)
        if tamper:
            doc = doc.replace(f">{escape(subject)}</saml:NameID>", f">{escape(tamper)}</saml:NameID>", 1)
        if tamper_replace:
            assert tamper_replace[0] in doc, tamper_replace
            doc = doc.replace(tamper_replace[0], tamper_replace[1])
        if response_extra:
            doc = doc.replace("</samlp:Status>", "</samlp:Status>" + response_extra, 1)
        return doc

    def response(self, roles, session_name="alice", **kw):
        """The SAML Response, base64-encoded as AssumeRoleWithSAML and /saml-role/sso take it."""
        return base64.b64encode(self.response_xml(roles, session_name, **kw).encode()).decode()

    def _sign(self, doc, key, cert):
        tmpl = os.path.join(self.directory, f"tmpl-{uuid.uuid4().hex}.xml")
        with open(tmpl, "w") as f:
            f.write(doc)
        try:
            out = subprocess.run(
                [XMLSEC1, "--sign", "--privkey-pem", f"{key},{cert}",
                 "--id-attr:ID", f"{SAML_NS}:Assertion", tmpl],
                check=True, capture_output=True)
            return out.stdout.decode()
        finally:
            os.unlink(tmpl)
