"""The official Alibaba Cloud Python SDKs' request signers, as an independent reference for
backend/tests/fuzz/sts_signature.rs (run with e2e/sdk/.venv/bin/python).

Reads one JSON case per line on stdin and writes one JSON answer per line:
  {"kind": "rpc", "method", "params": {name: value}, "secret"}
      -> {"tea": signature by alibabacloud_tea_openapi's get_rpcsignature,
          "core": signature by aliyunsdkcore's RPC composer}
  {"kind": "v3", "method", "path", "query": {name: value}, "headers": {name: value},
   "body_hex", "secret"}
      -> {"tea": the Authorization header by alibabacloud_tea_openapi's get_authorization}
The SDKs' own functions sign; nothing here re-implements them.
"""

import binascii
import hashlib
import json
import sys

from alibabacloud_tea_openapi.utils import Utils
from aliyunsdkcore.auth.algorithm import sha_hmac1
from aliyunsdkcore.auth.composer import rpc_signature_composer as composer

# The composer's string-to-sign step is module-private; it is called as the SDK calls it.
compose = getattr(composer, "__compose_string_to_sign")
core_signature = getattr(composer, "__get_signature")


class V3Request:
    def __init__(self, case):
        self.method = case["method"]
        self.pathname = case["path"]
        self.query = case["query"]
        self.headers = case["headers"]


def answer(case):
    if case["kind"] == "rpc":
        params = case["params"]
        tea = Utils.get_rpcsignature(params, case["method"], case["secret"])
        core = core_signature(compose(case["method"], params), case["secret"], sha_hmac1)
        return {"tea": tea, "core": core}
    body = binascii.unhexlify(case["body_hex"])
    payload = hashlib.sha256(body).hexdigest()
    auth = Utils.get_authorization(
        V3Request(case), "ACS3-HMAC-SHA256", payload, "STS.fuzz", case["secret"]
    )
    return {"tea": auth}


for line in sys.stdin:
    sys.stdout.write(json.dumps(answer(json.loads(line))) + "\n")
