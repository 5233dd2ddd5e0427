// Builds a CDS Hooks call from a golden scenario the way an EHR would: the draft orders in
// context, and every prefetch template the service declared answered from the scenario's
// record (reads give the resource, searches a searchset Bundle). Used by the demo page in the
// browser and by the tests under Node.js; no dependencies.

const patientRefFields = ['subject', 'patient', 'beneficiary'];

function referencesPatient(resource, patientId) {
  return patientRefFields.some((f) => resource[f] && resource[f].reference === `Patient/${patientId}`);
}

function randomId() {
  if (globalThis.crypto && globalThis.crypto.randomUUID) return globalThis.crypto.randomUUID();
  return `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`;
}

// Runs one filled prefetch query ("Patient/p1", "Coverage?patient=p1&status=active&_include=
// Coverage:payor") against the record.
export function answerQuery(record, query) {
  const [path, search = ''] = query.split('?');
  if (!query.includes('?')) {
    const [type, id] = path.split('/');
    return record.find((r) => r.resourceType === type && r.id === id) || null;
  }
  const params = new URLSearchParams(search);
  const type = path;
  const patient = params.get('patient') || params.get('subject') || params.get('beneficiary');
  const status = params.get('status');
  let matches = record.filter((r) => r.resourceType === type);
  if (patient) matches = matches.filter((r) => referencesPatient(r, patient.replace(/^Patient\//, '')));
  if (status) matches = matches.filter((r) => !r.status || status.split(',').includes(r.status));
  const entry = matches.map((r) => ({ resource: r, search: { mode: 'match' } }));
  for (const include of params.getAll('_include')) {
    const field = include.split(':')[1];
    for (const r of matches) {
      const refs = [].concat(r[field] || []);
      for (const ref of refs) {
        const [t, id] = String(ref.reference || '').split('/');
        const hit = record.find((x) => x.resourceType === t && x.id === id);
        if (hit && !entry.some((e) => e.resource === hit)) entry.push({ resource: hit, search: { mode: 'include' } });
      }
    }
  }
  return { resourceType: 'Bundle', type: 'searchset', total: matches.length, entry };
}

// The hook call for `scenario` ({hook, patientId, userId?, record, draftOrders} or a verbatim
// {request}) against a service with `prefetch` templates ({key: query}).
export function buildRequest(scenario, prefetch) {
  if (scenario.request) return { ...structuredClone(scenario.request), hookInstance: randomId() };
  const context = {
    userId: scenario.userId || 'Practitioner/demo-clinician',
    patientId: scenario.patientId,
    draftOrders: {
      resourceType: 'Bundle',
      type: 'collection',
      entry: scenario.draftOrders.map((resource) => ({ resource })),
    },
  };
  const answers = {};
  for (const [key, template] of Object.entries(prefetch || {})) {
    const query = template
      .replaceAll('{{context.patientId}}', context.patientId)
      .replaceAll('{{context.userId}}', context.userId);
    answers[key] = answerQuery(scenario.record, query);
  }
  const request = {
    hook: scenario.hook || 'order-sign',
    hookInstance: randomId(),
    context,
    prefetch: answers,
  };
  if (scenario.extension) request.extension = scenario.extension;
  return request;
}
