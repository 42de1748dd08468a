#!/usr/bin/env python3
"""Prepares the SAML ACS load test (scripts/bench-saml.sh): N sign-in requests, each made by
its own browser through GET /auth/saml/{idp}/login (binding cookie + AuthnRequest ID), and N
fresh responses signed by pysaml2 (one process, one IdP Server object), one per request.

Usage: saml-prepare.py BASE_URL IDP_ID KEY_DIR IDP_ENTITY_ID N > pairs.jsonl
Each output line: {"cookie": "gatehouse_fed_saml=...", "body": "SAMLResponse=..."}.
"""
import base64
import http.client
import json
import os
import sys
import urllib.parse
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../e2e/saml"))
import idp  # noqa: E402  (e2e/saml/idp.py)
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, NameID  # noqa: E402

base, idp_id, key_dir, idp_entity, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port)
sp_entity = f"{base}/auth/saml/{idp_id}/metadata"
acs = f"{base}/auth/saml/{idp_id}/acs"

requests = []
for _ in range(n):
    conn.request("GET", f"/auth/saml/{idp_id}/login")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 303, resp.status
    cookie = next(v.split(";")[0] for k, v in resp.getheaders()
                  if k.lower() == "set-cookie" and v.startswith("gatehouse_fed_saml="))
    q = urllib.parse.parse_qs(urllib.parse.urlparse(resp.getheader("Location")).query)
    xml = zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15).decode()
    request_id = xml.split(' ID="', 1)[1].split('"', 1)[0]
    requests.append((cookie, request_id))

srv = idp.server(key_dir, idp_entity, sps=[(sp_entity, acs)])
alg = idp.ALGS["sha256"]
for i, (cookie, request_id) in enumerate(requests):
    user = f"bench{i % 100}"
    xml = srv.create_authn_response(
        identity={"email": [f"{user}@example.com"], "displayName": [user], "groups": ["engineers"]},
        in_response_to=request_id, destination=acs, sp_entity_id=sp_entity,
        name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=f"{user}@example.com"),
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
               "authn_auth": idp_entity},
        sign_response=True, sign_assertion=False, sign_alg=alg[0], digest_alg=alg[1])
    body = urllib.parse.urlencode({"SAMLResponse": idp.b64(str(xml))})
    print(json.dumps({"cookie": cookie, "body": body}))
