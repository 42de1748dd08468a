// The SAML ACS load client (scripts/bench-saml.sh): POSTs each prepared response once, with
// its own browser's binding cookie, CONCURRENCY at a time over keep-alive connections; a
// sign-in counts only if it is answered 303 with a session cookie.
// Usage: node saml-load.js URL_OF_ACS pairs.jsonl CONCURRENCY
"use strict";
const fs = require("fs");
const http = require("http");
const [acs, file, conc] = process.argv.slice(2);
const url = new URL(acs);
const pairs = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conc) });
const latencies = [];
let next = 0, ok = 0, failed = 0;
const failures = {};

function post(p) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: p.cookie,
                   "content-length": Buffer.byteLength(p.body) } },
      (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => {
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          const session = (res.headers["set-cookie"] || []).some((c) => c.startsWith("gatehouse_session="));
          if (res.statusCode === 303 && session) ok++;
          else {
            failed++;
            const code = (body.match(/<code id="reason">([^<]*)</) || [])[1] || String(res.statusCode);
            failures[code] = (failures[code] || 0) + 1;
          }
          resolve();
        });
      });
    req.on("error", (e) => { failed++; failures[e.code] = (failures[e.code] || 0) + 1; resolve(); });
    req.end(p.body);
  });
}

async function worker() {
  while (next < pairs.length) await post(pairs[next++]);
}

(async () => {
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Number(conc) }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1);
  console.log(JSON.stringify({
    requests: pairs.length, signed_in: ok, refused: failed, failures, concurrency: Number(conc),
    seconds: Number(secs.toFixed(2)), sign_ins_per_sec: Math.round(ok / secs),
    p50_ms: pct(50), p95_ms: pct(95), p99_ms: pct(99), max_ms: latencies[latencies.length - 1].toFixed(1),
  }));
  agent.destroy();
  if (failed) process.exit(1);
})();
