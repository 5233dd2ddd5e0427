// The policy and payer JSON Schemas (policies/schema/) agree with the loader:
//   1. every bundled policy file and payers.json is valid under its schema;
//   2. each deliberately broken copy below is refused by `cryo-crd policies check` AND by the
//      schema (only breakages a schema can express: keys, types, enums, patterns, ranges;
//      unknown facts or codes outside the procedure list need the loader's vocabulary).
// Usage: node validate.mjs CRYO_CRD_BINARY SOURCE_DIR      (exit 77 = skipped: no ajv)
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

let Ajv2020;
try {
  Ajv2020 = (await import("ajv/dist/2020.js")).default;
} catch {
  console.log("SKIP: ajv is not installed (run scripts/install-deps.sh)");
  process.exit(77);
}

const [binary, source] = process.argv.slice(2);
const dataDir = path.join(source, "policies", "data");
const schemaDir = path.join(source, "policies", "schema");
const ajv = new Ajv2020({ allErrors: true, strict: false });
const policySchema = ajv.compile(JSON.parse(fs.readFileSync(path.join(schemaDir, "policy.schema.json"))));
const payersSchema = ajv.compile(JSON.parse(fs.readFileSync(path.join(schemaDir, "payers.schema.json"))));
const validatorFor = (file) => (path.basename(file) === "payers.json" ? payersSchema : policySchema);
const isTests = (f) => f.endsWith(".tests.json");

let failures = 0;
const fail = (msg) => {
  failures++;
  console.log("FAIL " + msg);
};

// 1. The bundled files.
const files = fs.readdirSync(dataDir).filter((f) => f.endsWith(".json") && !isTests(f));
if (files.length < 2) fail("no bundled policy files found in " + dataDir);
for (const f of files) {
  const validate = validatorFor(f);
  if (validate(JSON.parse(fs.readFileSync(path.join(dataDir, f), "utf8")))) {
    console.log("PASS bundled " + f + " is valid");
  } else {
    fail("bundled " + f + ": " + ajv.errorsText(validate.errors));
  }
}

// 2. Broken copies: [file, text to replace, replacement, what is wrong].
const broken = [
  ["florida-blue.json", '"criteria": {', '"critera": {', "misspelt key"],
  ["bcbsri.json", '"outcome": "not-covered"', '"outcome": "denied"', "unknown outcome"],
  ["pacificsource.json", '"revision": "2023-12",', "", "missing revision"],
  ["pacificsource.json", '"effective_from": "2020-08-01"', '"effective_from": "2020-13-01"', "impossible date"],
  ["florida-blue.json", '"codes": ["28626-0"]', '"codes": ["history"]', "not a LOINC code"],
  ["medical-mutual.json", '{ "fact": "symptomatic", "label": "The patient is symptomatic" }', '{ "any": [] }', "empty any"],
  ["medical-mutual.json", '{ "fact": "symptomatic", "label"', '{ "fact": "symptomatic", "any": [], "label"', "two shapes"],
  ["florida-blue.json", '{ "fact": "unresectable", "label": "The disease cannot be resected" }', '{ "fact": "unresectable" }', "leaf without label"],
  ["medical-mutual.json", '"op": "<=", "value": 5,', '"op": "<=", "value": 700,', "700 cm lesion"],
  ["medical-mutual.json", '"op": "<=", "value": 3,', '"op": "<=", "value": -1,', "negative count"],
  ["medical-mutual.json", '"op": "<=", "value": 5,', '"op": "=<", "value": 5,', "unknown operator"],
  ["florida-blue.json", '"window_months": 6', '"window_months": 0', "zero-month window"],
  ["florida-blue.json", '"effective_from": "2024-09-15"', '"effective_from": "15/09/2024"', "date not YYYY-MM-DD"],
  ["payers.json", '"name": "Florida Blue",', '"nmae": "Florida Blue",', "misspelt payer key"],
  ["payers.json", '"coverage_type": "medicare"', '"coverage_type": "medicare-supplement"', "unknown coverage type"],
];
for (const [file, from, to, what] of broken) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cryo-schema-"));
  try {
    for (const f of fs.readdirSync(dataDir)) fs.copyFileSync(path.join(dataDir, f), path.join(dir, f));
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    if (!text.includes(from)) {
      fail(`${what}: '${from}' is not in ${file} (the test is out of date)`);
      continue;
    }
    const edited = text.replace(from, to);
    fs.writeFileSync(path.join(dir, file), edited);
    let loaderRefused = false;
    try {
      execFileSync(binary, ["policies", "check", dir], { stdio: "pipe" });
    } catch (e) {
      loaderRefused = e.status === 1;
    }
    const validate = validatorFor(file);
    const schemaRefused = !validate(JSON.parse(edited));
    if (loaderRefused && schemaRefused) {
      console.log(`PASS ${what} (${file}): refused by the loader and by the schema`);
    } else {
      fail(`${what} (${file}): loader ${loaderRefused ? "refused" : "accepted"}, schema ${schemaRefused ? "refused" : "accepted"}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`${files.length + broken.length - failures} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
