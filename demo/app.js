// The try-it page: pick a golden scenario, change a fact or the order code, sign the order
// against this service with a real CDS Hooks call, and see the cards as the CDS Hooks sandbox
// shows them, the coverage-information and the time the call took.
import { buildRequest } from '/demo/request.mjs';
import { renderMarkdown } from '/demo/markdown.mjs';

const ciUrl = 'http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information';
const $ = (id) => document.getElementById(id);
const state = { service: null, scenario: null, all: [], dtr: null, assertion: '', answers: null };

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

// The editable facts of a resource: [label, getter, setter].
function factsOf(r) {
  const coding = (cc) => (cc && cc.coding && cc.coding[0]) || null;
  const out = [];
  const add = (label, get, set) => out.push({ label, get, set });
  if (r.resourceType === 'Condition') {
    const c = coding(r.code);
    if (c) {
      add('diagnosis code', () => c.code || '', (v) => { c.code = v; });
      add('diagnosis text', () => c.display || '', (v) => { c.display = v; });
    }
  } else if (r.resourceType === 'Observation') {
    const name = (coding(r.code) && (coding(r.code).display || coding(r.code).code)) || (r.code && r.code.text) || 'value';
    if (r.valueQuantity) add(`${name} (${r.valueQuantity.unit || r.valueQuantity.code || ''})`, () => String(r.valueQuantity.value), (v) => { r.valueQuantity.value = Number(v); });
    else if (r.valueCodeableConcept && coding(r.valueCodeableConcept)) add(name, () => coding(r.valueCodeableConcept).code, (v) => { coding(r.valueCodeableConcept).code = v; });
    else if ('valueBoolean' in r) add(name, () => String(r.valueBoolean), (v) => { r.valueBoolean = v === 'true'; });
    else if ('valueInteger' in r) add(name, () => String(r.valueInteger), (v) => { r.valueInteger = Number(v); });
    else if ('valueString' in r) add(name, () => r.valueString, (v) => { r.valueString = v; });
  } else if (r.resourceType === 'DocumentReference') {
    const t = coding(r.type);
    if (t) add(`document type${t.display ? ` (${t.display})` : ''}`, () => t.code, (v) => { t.code = v; });
    add('document date', () => r.date || '', (v) => { r.date = v; });
  }
  return out;
}

function renderChart() {
  const s = state.scenario;
  const record = s.record || [];
  const patient = record.find((r) => r.resourceType === 'Patient') || {};
  const coverage = record.find((r) => r.resourceType === 'Coverage') || {};
  const payerRef = coverage.payor && coverage.payor[0] && coverage.payor[0].reference;
  const payer = record.find((r) => `${r.resourceType}/${r.id}` === payerRef) || {};
  const name = patient.name && patient.name[0] ? `${(patient.name[0].given || []).join(' ')} ${patient.name[0].family || ''}` : s.patientId;
  const banner = $('banner');
  banner.replaceChildren(
    text('strong', name),
    text('span', ` · born ${patient.birthDate || '?'} · member ${coverage.subscriberId || '?'} · ${payer.name || '?'}`),
    document.createElement('br'),
    text('small', s.description || ''),
  );
  const order = (s.draftOrders || [])[0] || {};
  const code = order.code && order.code.coding && order.code.coding[0];
  $('order-code').value = code ? code.code : '';
  $('order-date').value = order.occurrenceDateTime || '';
  const body = $('facts').tBodies[0];
  body.replaceChildren();
  for (const r of record) {
    for (const f of factsOf(r)) {
      const tr = document.createElement('tr');
      const input = document.createElement('input');
      input.value = f.get();
      input.dataset.fact = `${r.resourceType}/${r.id} ${f.label}`;
      input.setAttribute('aria-label', `${r.resourceType}/${r.id} ${f.label}`);
      input.addEventListener('change', () => f.set(input.value));
      const td = document.createElement('td');
      td.append(input);
      tr.append(text('td', `${r.resourceType}/${r.id}`), text('td', f.label), td);
      body.append(tr);
    }
  }
  $('sign').disabled = false;
}

function renderCards(response) {
  const pane = $('card-pane');
  pane.replaceChildren();
  for (const card of response.cards || []) {
    const el = document.createElement('div');
    el.className = `card ${['info', 'warning', 'critical'].includes(card.indicator) ? card.indicator : ''}`;
    el.dataset.indicator = card.indicator;
    el.append(text('div', (card.source && card.source.label) || '', 'source'));
    el.append(text('div', card.summary || '', 'summary'));
    const detail = document.createElement('div');
    detail.className = 'detail';
    renderMarkdown(card.detail, detail);
    el.append(detail);
    const links = document.createElement('div');
    links.className = 'links';
    for (const l of card.links || []) {
      if (!/^https?:\/\//i.test(l.url || '')) continue;
      const a = text('a', l.label || l.url);
      a.href = l.url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      links.append(a);
    }
    el.append(links);
    pane.append(el);
  }
  const infos = [];
  for (const action of response.systemActions || []) {
    for (const e of (action.resource && action.resource.extension) || []) {
      if (e.url === ciUrl) infos.push(e);
    }
  }
  $('coverage-information').textContent = infos.length ? JSON.stringify(infos, null, 2) : '(none)';
  offerQuestions(infos[0]);
}

// DTR (docs/dtr.md): a determination that waits for facts or documents offers the payer's
// questions; the answers go to $next-question until it is settled, and the completed response
// joins the record for the next signing.
function ciValue(info, url) {
  const sub = ((info && info.extension) || []).find((e) => e.url === url);
  return sub ? (sub.valueCode || sub.valueString || sub.valueCanonical || '') : '';
}

function offerQuestions(info) {
  state.dtr = null;
  $('dtr-form').replaceChildren();
  $('dtr-next').hidden = true;
  $('dtr-resign').hidden = true;
  const asks = info && (ciValue(info, 'covered') === 'conditional' || ciValue(info, 'doc-needed'));
  $('dtr').hidden = !asks;
  $('dtr-start').hidden = !asks;
  $('dtr-status').textContent = '';
  if (asks) state.assertion = ciValue(info, 'coverage-assertion-id');
}

async function dtrPost(op, body) {
  const headers = { 'Content-Type': 'application/fhir+json' };
  if ($('token').value.trim()) headers.Authorization = `Bearer ${$('token').value.trim()}`;
  const res = await fetch(`/Questionnaire/$${op}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const out = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((out.issue && out.issue[0] && out.issue[0].diagnostics) || `HTTP ${res.status}`);
  return out;
}

async function startQuestions() {
  const pkg = await dtrPost('questionnaire-package', {
    resourceType: 'Parameters', parameter: [{ name: 'context', valueString: state.assertion }],
  });
  $('dtr-start').hidden = true;
  const bundle = (pkg.parameter || []).find((p) => p.name === 'PackageBundle');
  if (!bundle) {
    const outcome = (pkg.parameter || []).find((p) => p.name === 'outcome');
    $('dtr-status').textContent = (outcome && outcome.resource.issue[0].diagnostics) || 'nothing to ask';
    return;
  }
  state.dtr = bundle.resource.entry[1].resource;  // the draft with the first questions
  renderQuestions();
}

async function nextQuestions(response) {
  const out = await dtrPost('next-question', {
    resourceType: 'Parameters', parameter: [{ name: 'in', resource: response }],
  });
  state.dtr = out.parameter[0].resource;
  renderQuestions();
}

const originUrl = 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin';
const derivationUrl = 'http://hl7.org/fhir/StructureDefinition/derivation-reference';
function answerText(a) {
  if ('valueBoolean' in a) return a.valueBoolean ? 'yes' : 'no';
  if (a.valueQuantity) return `${a.valueQuantity.value} ${a.valueQuantity.unit}`;
  if (a.valueCoding) return a.valueCoding.display || a.valueCoding.code;
  if ('valueInteger' in a) return String(a.valueInteger);
  return '';
}

function renderQuestions() {
  const qr = state.dtr;
  const form = $('dtr-form');
  form.replaceChildren();
  const unanswered = new Set((qr.item || []).filter((i) => !(i.answer && i.answer.length)).map((i) => i.linkId));
  const open = ((qr.contained && qr.contained[0].item) || []).filter((i) => unanswered.has(i.linkId));
  // What the record already answers, read-only, with where each answer was read.
  for (const item of qr.item || []) {
    const answer = (item.answer || [])[0];
    const origin = answer && (answer.extension || []).find((e) => e.url === originUrl);
    if (!origin || origin.extension[0].valueCode !== 'auto') continue;
    const sources = (answer.extension || []).filter((e) => e.url === derivationUrl)
      .map((e) => e.extension[0].valueReference.display || e.extension[0].valueReference.reference);
    const p = text('p', `From the record — ${item.text}: ${answerText(answer)} (${sources.join('; ')})`, 'dtr-recorded');
    p.dataset.recorded = item.linkId;
    form.append(p);
  }
  for (const item of open) {
    const label = text('label', `${item.text} `);
    let input;
    if (item.type === 'boolean' || item.type === 'choice') {
      input = document.createElement('select');
      input.append(text('option', '— not known —'));
      input.lastChild.value = '';
      const options = item.type === 'boolean'
        ? [['true', 'yes'], ['false', 'no']]
        : item.answerOption.map((o, i) => [String(i), o.valueCoding.display || o.valueCoding.code]);
      for (const [value, shown] of options) {
        const o = text('option', shown);
        o.value = value;
        input.append(o);
      }
    } else if (item.type === 'attachment') {
      input = document.createElement('input');
      input.type = 'checkbox';
    } else {
      input = document.createElement('input');
      input.type = 'number';
      input.step = 'any';
      if (item.type === 'quantity') label.append(text('span', `(${item.extension[0].valueCoding.code}) `));
    }
    input.dataset.link = item.linkId;
    label.append(input);
    form.append(label);
  }
  const ci = (qr.extension || []).find((e) => e.url === ciUrl);
  const done = qr.status === 'completed';
  $('dtr-status').textContent = done
    ? `Decided: ${ciValue(ci, 'covered')}${ciValue(ci, 'doc-needed') ? `, documentation ${ciValue(ci, 'doc-needed')}` : ''}`
    : `${open.length} question${open.length === 1 ? '' : 's'} can still change the decision`;
  $('dtr').dataset.status = qr.status;
  $('dtr').dataset.covered = done ? ciValue(ci, 'covered') : '';
  $('dtr-next').hidden = done;
  $('dtr-resign').hidden = !done;
}

async function sendAnswers() {
  const qr = structuredClone(state.dtr);
  qr.item = qr.item || [];
  const items = qr.contained[0].item;
  for (const input of $('dtr-form').querySelectorAll('[data-link]')) {
    const item = items.find((i) => i.linkId === input.dataset.link);
    let answer = null;
    if (item.type === 'boolean' && input.value) answer = { valueBoolean: input.value === 'true' };
    else if (item.type === 'choice' && input.value) answer = { valueCoding: item.answerOption[Number(input.value)].valueCoding };
    else if (item.type === 'integer' && input.value) answer = { valueInteger: Math.round(Number(input.value)) };
    else if (item.type === 'quantity' && input.value) {
      const unit = item.extension[0].valueCoding.code;
      answer = { valueQuantity: { value: Number(input.value), unit, system: 'http://unitsofmeasure.org', code: unit } };
    } else if (item.type === 'attachment' && input.checked) {
      answer = { valueAttachment: { contentType: 'application/pdf', title: item.text } };
    }
    // Left blank: not known (the service does not ask it again).
    const shown = qr.item.find((i) => i.linkId === item.linkId);
    // DTR: what the clinician entered is marked as theirs.
    if (answer) answer.extension = [{ url: originUrl, extension: [{ url: 'source', valueCode: 'manual' }] }];
    if (shown && answer) shown.answer = [answer];
  }
  await nextQuestions(qr);
}

// The completed response joins the record (the EHR keeps it) and the order is signed again.
async function signWithAnswers() {
  state.answers = state.dtr;
  await sign();
}


async function sign() {
  const s = structuredClone(state.scenario);
  const order = (s.draftOrders || [])[0];
  if (order) {
    order.code = { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: $('order-code').value.trim() }] };
    if ($('order-date').value.trim()) order.occurrenceDateTime = $('order-date').value.trim();
  }
  const request = buildRequest(s, state.service.prefetch);
  if (state.answers) {
    // The EHR's record now holds the completed questionnaire: it comes with the searches.
    const bundle = Object.values(request.prefetch || {}).find((b) => b && b.type === 'searchset');
    if (bundle) bundle.entry.push({ resource: state.answers, search: { mode: 'include' } });
  }
  const headers = { 'Content-Type': 'application/json' };
  if ($('token').value.trim()) headers.Authorization = `Bearer ${$('token').value.trim()}`;
  $('timing').textContent = 'signing…';
  const started = performance.now();
  const res = await fetch(`/cds-services/${state.service.id}`, { method: 'POST', headers, body: JSON.stringify(request) });
  const body = await res.json().catch(() => ({}));
  const ms = performance.now() - started;
  $('timing').textContent = `HTTP ${res.status} in ${ms.toFixed(0)} ms`;
  $('timing').dataset.status = String(res.status);
  if (!res.ok) {
    const issue = body.issue && body.issue[0];
    $('card-pane').replaceChildren(text('p', (issue && (issue.diagnostics || issue.details?.text)) || `HTTP ${res.status}`, 'error'));
    $('coverage-information').textContent = '';
    return;
  }
  renderCards(body);
}

async function choose(name, button) {
  for (const b of document.querySelectorAll('#scenario-list button')) b.removeAttribute('aria-current');
  if (button) button.setAttribute('aria-current', 'true');
  const res = await fetch(`/demo/scenarios/${encodeURIComponent(name)}`);
  state.scenario = await res.json();
  state.answers = null;
  offerQuestions(null);
  $('card-pane').replaceChildren();
  $('timing').textContent = '';
  renderChart();
  document.body.dataset.scenario = name;
}

function renderList() {
  const filter = $('filter').value.toLowerCase();
  const list = $('scenario-list');
  list.replaceChildren();
  for (const s of state.all) {
    if (filter && !`${s.name} ${s.description || ''}`.toLowerCase().includes(filter)) continue;
    const li = document.createElement('li');
    const b = text('button', s.name);
    b.type = 'button';
    b.title = s.description || '';
    b.dataset.scenario = s.name;
    b.addEventListener('click', () => choose(s.name, b));
    li.append(b);
    list.append(li);
  }
}

async function start() {
  const discovery = await (await fetch('/cds-services')).json();
  state.service = (discovery.services || []).find((s) => s.hook === 'order-sign');
  const scenarios = await (await fetch('/demo/scenarios')).json();
  state.all = scenarios.filter((s) => (s.hook || 'order-sign') === 'order-sign' && !s.name.startsWith('foreign-'));
  $('filter').addEventListener('input', renderList);
  $('sign').addEventListener('click', () => { state.answers = null; sign().catch((e) => { $('timing').textContent = `failed: ${e.message}`; }); });
  const dtrFailed = (e) => { $('dtr-status').textContent = `failed: ${e.message}`; };
  $('dtr-start').addEventListener('click', () => startQuestions().catch(dtrFailed));
  $('dtr-next').addEventListener('click', () => sendAnswers().catch(dtrFailed));
  $('dtr-resign').addEventListener('click', () => signWithAnswers().catch(dtrFailed));
  renderList();
  document.body.dataset.ready = 'true';
}

start();
