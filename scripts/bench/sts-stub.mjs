// A stand-in for Alibaba Cloud's STS and RAM that answers at once, for measuring what
// Gatehouse itself spends per credential issue (scripts/bench-cloud.sh). It checks nothing:
// the strict emulator (e2e/alibaba) is what the tests use. GetRole/GetPolicy/
// ListPolicyVersions say "not found", so provisioning creates; everything else succeeds.
// Usage: node sts-stub.mjs <ready-file>   (writes {"port":N} once listening)
import http from 'node:http';
import fs from 'node:fs';

let n = 0;
const answer = (action) => {
  const id = `BENCH-${++n}`;
  const exp = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  switch (action) {
    case 'AssumeRoleWithSAML':
      return [200, { RequestId: id, Credentials: { AccessKeyId: `STS.bench${n}`, AccessKeySecret: 'bench-secret', SecurityToken: 'CAISbench', Expiration: exp },
        AssumedRoleUser: { AssumedRoleId: '1:bench', Arn: 'acs:ram::1234567890123456:assumed-role/gatehousesso-bench/bench' } }];
    case 'GetRole': return [404, { RequestId: id, Code: 'EntityNotExist.Role', Message: 'The role does not exist.' }];
    case 'GetPolicy':
    case 'ListPolicyVersions': return [404, { RequestId: id, Code: 'EntityNotExist.Policy', Message: 'The policy does not exist.' }];
    case 'ListPoliciesForRole': return [200, { RequestId: id, Policies: { Policy: [] } }];
    default: return [200, { RequestId: id }];
  }
};
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const url = new URL(req.url, 'http://stub');
    const action = req.headers['x-acs-action'] || url.searchParams.get('Action');
    const [status, body] = answer(action);
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(process.argv[2], JSON.stringify({ port: server.address().port }));
});
