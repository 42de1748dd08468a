#!/usr/bin/env python3
"""Pre-signs GetCallerIdentity requests (RPC, HMAC-SHA1, GET /) for the load test, one
request path per line, each with its own nonce, so the load tool only has to send them.
Usage: sts-sign.py AK SECRET TOKEN COUNT > paths.txt"""
import base64
import hashlib
import hmac
import sys
import time
from urllib.parse import quote

ak, secret, token, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pe = lambda s: quote(s, safe="-_.~")
stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
base = {"Action": "GetCallerIdentity", "Version": "2015-04-01", "Format": "JSON",
        "AccessKeyId": ak, "SecurityToken": token, "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0", "Timestamp": stamp}
key = (secret + "&").encode()
out = sys.stdout
for i in range(count):
    params = dict(base, SignatureNonce=f"bench-{i}")
    canonical = "&".join(f"{pe(k)}={pe(v)}" for k, v in sorted(params.items()))
    sts = "GET&%2F&" + pe(canonical)
    sig = base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha1).digest()).decode()
    out.write("/?" + canonical + "&Signature=" + pe(sig) + "\n")
