// Every golden scenario, signed over HTTP against the real server: each card's summary is
// under 140 characters and whole (never cut with "…"), and no detail has a doubled full stop.
// Usage: node summary_length.test.mjs BUILD/cryo-crd SCENARIO_DIR
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildRequest } from '../../demo/request.mjs';
import { startServer } from './server.mjs';

const [binary, scenarioDir] = process.argv.slice(2);
const server = await startServer(binary);
let failures = 0;
let cards = 0;
let scenarios = 0;
try {
  const discovery = await (await fetch(`${server.base}/cds-services`)).json();
  const services = discovery.services;
  for (const file of readdirSync(scenarioDir).filter((f) => f.endsWith('.json')).sort()) {
    const scenario = JSON.parse(readFileSync(join(scenarioDir, file), 'utf8'));
    const hook = scenario.hook || (scenario.request && scenario.request.hook) || 'order-sign';
    const service = services.find((s) => s.hook === hook);
    if (!service) {
      console.log(`FAIL ${file}: no service for hook ${hook}`);
      failures++;
      continue;
    }
    const request = buildRequest(scenario, service.prefetch);
    // A 503 "transient" (the store could not commit in time: nothing was handed out) is retried
    // the way an EHR would, a few times; every other answer counts as it is.
    let res;
    let body;
    for (let attempt = 0; attempt < 10; attempt++) {
      res = await fetch(`${server.base}/cds-services/${service.id}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(request),
      });
      body = await res.json();
      if (res.status !== 503) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (res.status !== 200) {
      // A refusal the scenario expects (foreign requests for payers this service does not know).
      const expected = [].concat((scenario.expected && scenario.expected.status) || 200);
      if (expected.includes(res.status)) continue;
      console.log(`FAIL ${file}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
      failures++;
      continue;
    }
    scenarios++;
    for (const card of body.cards || []) {
      cards++;
      const length = [...card.summary].length;
      const problems = [];
      if (length >= 140) problems.push(`summary is ${length} characters`);
      if (card.summary.includes('…')) problems.push('summary is cut with "…"');
      if (/\.\./.test(card.detail || '')) problems.push('detail has a doubled full stop');
      if (problems.length) {
        console.log(`FAIL ${file}: ${problems.join('; ')}: ${card.summary}`);
        failures++;
      }
    }
  }
} finally {
  await server.stop();
}
console.log(`${scenarios} scenarios, ${cards} cards, ${failures} failures`);
if (scenarios === 0 || cards === 0) {
  console.log('FAIL: nothing was checked');
  process.exit(1);
}
process.exit(failures ? 1 : 0);
