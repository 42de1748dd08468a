#!/usr/bin/env python3
"""AssumeRoleWithSAML throughput through the emulator: how many signed assertions per second it
verifies and turns into credentials (issue 14 wants >= 1,000/s on the 2-core machine).

    e2e/sdk/.venv/bin/python e2e/alibaba/bench_saml.py [--rounds 2] [--modes old,lib] [-n 4000]
        [--concurrency 16] [--max-seconds 15] [--old-tree DIR]

Each round starts one emulator per mode (in alternation: old, lib, old, lib, ...), creates an
account, the test IdP's SAML provider and a role trusting it (through the official SDKs), then
fires N pre-signed assertions (testidp.py's Responses, each with its own Assertion ID, so none is
a replay) at it from --concurrency threads, each on its own keep-alive connection, as the STS SDK
sends them (anonymous RPC: Action/Version/Format/Timestamp/SignatureNonce and the parameters in the
query). A round stops at --max-seconds even if assertions are left. Every answer must be a 200
with credentials; the rate counts only those.

Modes: lib = this tree's emulator with libxmlsec1 in-process (python-xmlsec); cli = this tree's
emulator with the xmlsec1 CLI; old = the emulator from --old-tree (e.g. `git archive HEAD~1
e2e/alibaba | tar -x -C /tmp/old`, then --old-tree /tmp/old/e2e/alibaba), run as it is.
Signing happens before the clock starts (in-process with python-xmlsec when importable: the xmlsec1
CLI would take minutes for thousands), so only the emulator's work is measured — plus this
client's, on the same two cores.
"""
import argparse
import concurrent.futures as cf
import datetime as dt
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sdk_client as sdk  # noqa: E402
from testidp import TestIdP  # noqa: E402

ACCOUNT = "1234567890123456"
PROVIDER = "bench-idp"
PROVIDER_ARN = f"acs:ram::{ACCOUNT}:saml-provider/{PROVIDER}"
ROLE = "GatehouseSSO-bench"
ROLE_ARN = f"acs:ram::{ACCOUNT}:role/{ROLE.lower()}"
TRUST = json.dumps({"Version": "1", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Federated": [PROVIDER_ARN]},
    "Condition": {"StringEquals": {"saml:recipient": "https://signin.alibabacloud.com/saml-role/sso"}}}]})


class FastIdP(TestIdP):
    """testidp's Responses, signed in-process (python-xmlsec) instead of one xmlsec1 run each."""

    def _sign(self, doc, key, cert):
        try:
            import xmlsec
            from lxml import etree
        except ImportError:
            return super()._sign(doc, key, cert)
        root = etree.fromstring(doc.encode())
        assertion = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
        ctx = xmlsec.SignatureContext()
        ctx.key = self._key(key, cert)
        ctx.register_id(assertion, "ID")
        ctx.sign(assertion.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()

    def _key(self, key, cert):
        import xmlsec
        k = xmlsec.Key.from_file(key, xmlsec.KeyFormat.PEM)
        k.load_cert_from_file(cert, xmlsec.KeyFormat.PEM)
        return k


def cpu_seconds(pid):
    """user + system CPU time of a process (its own and its finished children's: the xmlsec1 runs)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def start(emulator_py, mode, tmp):
    ready = os.path.join(tmp, f"ready-{uuid.uuid4().hex}.json")
    cmd = [sys.executable, emulator_py, "--port", "0", "--ready-file", ready, "--quiet"]
    if mode in ("lib", "cli"):
        cmd += ["--xmlsec", mode]
    proc = subprocess.Popen(cmd)
    for _ in range(200):
        if os.path.exists(ready) or proc.poll() is not None:
            break
        time.sleep(0.05)
    if not os.path.exists(ready):
        proc.kill()
        raise SystemExit(f"{mode}: the emulator did not start")
    with open(ready) as f:
        return proc, f"127.0.0.1:{json.load(f)['port']}"


def setup(endpoint, idp):
    req = urllib.request.Request(f"http://{endpoint}/_emulator/accounts", method="POST",
                                 data=json.dumps({"account_id": ACCOUNT}).encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        acct = json.load(r)
    ak, sk = acct["access_key_id"], acct["access_key_secret"]
    for product, action, params in (
            ("ims", "CreateSAMLProvider", {"SAMLProviderName": PROVIDER, "EncodedSAMLMetadataDocument": idp.metadata_b64()}),
            ("ram", "CreateRole", {"RoleName": ROLE, "AssumeRolePolicyDocument": TRUST, "MaxSessionDuration": 7200})):
        out = sdk.typed(product, endpoint, action, params, ak, sk, None)
        assert out.get("ok"), out


def request_path(assertion):
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    q = {"Action": "AssumeRoleWithSAML", "Format": "JSON", "Version": "2015-04-01", "Timestamp": now,
         "SignatureNonce": uuid.uuid4().hex, "SAMLProviderArn": PROVIDER_ARN, "RoleArn": ROLE_ARN,
         "SAMLAssertion": assertion, "DurationSeconds": "3600"}
    return "/?" + urllib.parse.urlencode(q, quote_via=urllib.parse.quote)


def fire(endpoint, assertions, concurrency, max_seconds):
    host, port = endpoint.split(":")
    it = iter(assertions)
    take = threading.Lock()
    counts = {"ok": 0, "failed": 0}
    failures = []
    deadline = [0.0]

    def worker():
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        ok = failed = 0
        while time.monotonic() < deadline[0]:
            with take:
                a = next(it, None)
            if a is None:
                break
            conn.request("POST", request_path(a), headers={"x-acs-action": "AssumeRoleWithSAML",
                                                            "x-acs-version": "2015-04-01"})
            r = conn.getresponse()
            body = r.read()
            if r.status == 200 and b'"AccessKeyId"' in body:
                ok += 1
            else:
                failed += 1
                if len(failures) < 3:
                    failures.append((r.status, body[:300]))
        conn.close()
        with take:
            counts["ok"] += ok
            counts["failed"] += failed

    t0 = time.monotonic()
    deadline[0] = t0 + max_seconds
    with cf.ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(worker) for _ in range(concurrency)]:
            f.result()
    elapsed = time.monotonic() - t0
    return counts["ok"], counts["failed"], elapsed, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=4000, help="assertions per round and mode (default 4000)")
    ap.add_argument("--n-slow", type=int, default=400, help="assertions per round for old/cli (default 400)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--modes", default="old,lib", help="comma-separated, in the order to alternate")
    ap.add_argument("--max-seconds", type=float, default=15.0, help="stop a round after this long (default 15)")
    ap.add_argument("--old-tree", help="directory holding the old emulator.py (mode old)")
    args = ap.parse_args()
    modes = args.modes.split(",")
    if "old" in modes and not args.old_tree:
        ap.error("mode old needs --old-tree")
    results = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="alibaba-bench-") as tmp:
        idp = FastIdP(tmp, entity_id="https://idp.bench.test/saml")
        need = sum(args.n if m == "lib" else args.n_slow for m in modes)
        t = time.monotonic()
        with cf.ThreadPoolExecutor(2) as pool:  # each round needs fresh assertions (replay is refused)
            signed = list(pool.map(lambda _: idp.response([(ROLE_ARN, PROVIDER_ARN)], "bench", lifetime=1800),
                                   range(need * args.rounds)))
        print(f"pre-signed {len(signed)} assertions in {time.monotonic() - t:.1f} s "
              f"({len(signed[0])} base64 characters each)", flush=True)
        for rnd in range(args.rounds):
            for mode in modes:
                n = args.n if mode == "lib" else args.n_slow
                batch, signed = signed[:n], signed[n:]
                emulator_py = os.path.join(args.old_tree if mode == "old" else HERE, "emulator.py")
                proc, endpoint = start(emulator_py, mode, tmp)
                try:
                    setup(endpoint, idp)
                    cpu0 = cpu_seconds(proc.pid)
                    ok, failed, elapsed, failures = fire(endpoint, batch, args.concurrency, args.max_seconds)
                    cpu = cpu_seconds(proc.pid) - cpu0
                finally:
                    proc.terminate()
                    proc.wait(10)
                rate = ok / elapsed
                results[mode].append(rate)
                print(f"round {rnd + 1} {mode:4}: {ok} credentials issued in {elapsed:.2f} s = {rate:7.1f}/s "
                      f"({failed} failed, concurrency {args.concurrency}; emulator CPU "
                      f"{1000 * cpu / max(ok + failed, 1):.2f} ms per request, {cpu / elapsed:.0%} of a core)",
                      flush=True)
                for status, body in failures:
                    print(f"    failure: {status} {body!r}", flush=True)
    print(json.dumps({m: {"per_round": [round(r, 1) for r in v], "best": round(max(v), 1)}
                      for m, v in results.items()}))


if __name__ == "__main__":
    main()
