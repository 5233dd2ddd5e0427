// Payer staff's look-up over HTTP against the real server with its SQLite store: a signed
// order is found by its coverage-assertion-id (JSON and HTML), by member id and
// date-of-service range, and in the NDJSON export, with what a claim is matched against.
// Usage: node lookup.test.mjs BUILD/cryo-crd SCENARIO_DIR
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRequest } from '../../demo/request.mjs';
import { startServer } from './server.mjs';

const [binary, scenarioDir] = process.argv.slice(2);
const token = `admin-${Math.random().toString(16).slice(2)}`;
const dir = mkdtempSync(join(tmpdir(), 'cryo-crd-lookup-'));
const config = join(dir, 'crd.json');
writeFileSync(config, JSON.stringify({
  admin: { token_sha256: createHash('sha256').update(token).digest('hex') },
  store: { deadline_ms: 5000 },  // what is checked is the look-up, not the store's deadline
}));
let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (!ok) failures++;
};
const server = await startServer(binary, ['--config', config]);
const auth = { Authorization: `Bearer ${token}` };
try {
  const discovery = await (await fetch(`${server.base}/cds-services`)).json();
  const service = discovery.services.find((s) => s.hook === 'order-sign');
  const scenario = JSON.parse(readFileSync(join(scenarioDir, 'florida-blue-commercial-covered-missing-documents.json'), 'utf8'));
  const res = await fetch(`${server.base}/cds-services/${service.id}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(buildRequest(scenario, service.prefetch)),
  });
  const answer = await res.json();
  check(res.status === 200, `signed (HTTP ${res.status})`);
  const ci = answer.systemActions[0].resource.extension.find((e) => e.url.endsWith('ext-coverage-information'));
  const id = ci.extension.find((e) => e.url === 'coverage-assertion-id').valueString;

  const byId = await (await fetch(`${server.base}/assertions/${id}`, { headers: auth })).json();
  const a = byId.assertions ? byId.assertions[0] : byId;
  check(a.memberId === 'M123456', `member id from Coverage.subscriberId (${a.memberId})`);
  check(a.dateOfService === '2025-06-15', `date of service (${a.dateOfService})`);
  check(a.billingCode === '47383' && /cryoablation/i.test(a.lookup.billingCode.display), 'CPT code and display');
  check(a.lookup.payer.name === 'Florida Blue', 'payer');
  check(a.lookup.outcome === 'Covered' && a.lookup.priorAuthorization === 'Not required', 'outcome and prior auth in words');
  check(a.lookup.reasons.length > 0, 'reasons');
  const found = a.lookup.documents.filter((d) => d.status === 'found');
  const missing = a.lookup.documents.filter((d) => d.status === 'missing');
  check(found.length > 0 && found.every((d) => /^\d{4}-\d{2}-\d{2}/.test(d.date)) && missing.length > 0, 'documents found with dates and missing');
  check(a.policy.id === 'florida-blue-02-40000-22' && a.policy.revision && /^sha256:[0-9a-f]{64}$/.test(a.lookup.policy.dataHash), 'policy id, revision and data hash');
  check(a.lookup.cards.some((c) => c.summary === answer.cards[0].summary), 'the cards as sent');

  const page = await (await fetch(`${server.base}/assertions/${id}`, { headers: { ...auth, Accept: 'text/html' } })).text();
  for (const text of ['M123456', '2025-06-15', 'CPT 47383', 'Covered', 'missing', 'sha256:', 'Cards as sent']) {
    check(page.includes(text), `HTML page shows ${text}`);
  }

  const byMember = await (await fetch(`${server.base}/assertions?member=M123456&from=2025-06-01&to=2025-06-30`, { headers: auth })).json();
  check(byMember.assertions.length === 1 && byMember.assertions[0].coverageAssertionId === id, 'found by member and date-of-service range');
  const outside = await (await fetch(`${server.base}/assertions?member=M123456&from=2025-07-01`, { headers: auth })).json();
  check(outside.assertions.length === 0, 'not found outside the range');

  const exp = await fetch(`${server.base}/assertions.ndjson?from=2025-06-15&to=2025-06-15`, { headers: auth });
  const lines = (await exp.text()).trim().split('\n');
  check(exp.status === 200 && /ndjson/.test(exp.headers.get('content-type')) && lines.length === 1 && JSON.parse(lines[0]).coverageAssertionId === id, 'NDJSON export of a date range');
  const refused = await fetch(`${server.base}/assertions.ndjson?from=2025-06-15&to=2025-06-15`);
  check(refused.status === 401, `export needs the admin token (${refused.status})`);
  const bad = await fetch(`${server.base}/assertions.ndjson?from=2025-06-30&to=2025-06-01`, { headers: auth });
  check(bad.status === 400, `reversed range refused (${bad.status})`);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
console.log(failures ? `${failures} failures` : 'all checks passed');
process.exit(failures ? 1 : 0);
