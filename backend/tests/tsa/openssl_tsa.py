#!/usr/bin/env python3
"""A tiny RFC 3161 time-stamp authority for Gatehouse's tests: `openssl ts -reply` behind a
loopback HTTP server.

    openssl_tsa.py DIR

Makes a CA and a TSA certificate in DIR with `openssl` (if DIR has none yet), serves
`application/timestamp-query` POSTs on 127.0.0.1 (a free port), and prints one line,
`listening PORT`, once it is ready. While DIR/fail exists it answers 503 (a TSA outage).
Each request is counted in DIR/requests. Stops when its standard input closes.
"""

import http.server
import os
import subprocess
import sys
import tempfile
import threading

CONFIG = """
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

EXT = """
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
"""


def run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    if os.path.exists(os.path.join(d, "tsa.crt")):
        return
    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=d)
    run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Gatehouse test CA",
        "-days", "2", "-out", "ca.crt", cwd=d)
    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "tsa.key", cwd=d)
    run("req", "-new", "-key", "tsa.key", "-subj", "/CN=Gatehouse test TSA", "-out", "tsa.csr", cwd=d)
    with open(os.path.join(d, "tsa.ext"), "w") as f:
        f.write(EXT)
    run("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "tsa.ext", "-out", "tsa.crt", cwd=d)
    with open(os.path.join(d, "tsaserial"), "w") as f:
        f.write("01\n")
    with open(os.path.join(d, "tsa.cnf"), "w") as f:
        f.write(CONFIG.format(dir=d))


def main():
    d = os.path.abspath(sys.argv[1])
    os.makedirs(d, exist_ok=True)
    make_certs(d)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                with open(os.path.join(d, "requests"), "a") as f:
                    f.write("1\n")
                if os.path.exists(os.path.join(d, "fail")):
                    self.send_error(503, "time-stamping is down")
                    return
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_error(415)
                    return
                with tempfile.TemporaryDirectory() as t:
                    q, r = os.path.join(t, "q.tsq"), os.path.join(t, "r.tsr")
                    with open(q, "wb") as f:
                        f.write(body)
                    done = subprocess.run(
                        ["openssl", "ts", "-reply", "-config", os.path.join(d, "tsa.cnf"),
                         "-queryfile", q, "-out", r], capture_output=True)
                    if done.returncode != 0:
                        self.send_error(400, "openssl ts refused the query")
                        return
                    with open(r, "rb") as f:
                        reply = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening {server.server_address[1]}", flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
