// SPDX-License-Identifier: LGPL-2.1-or-later
// Validates Kubernetes manifests against the Kubernetes OpenAPI schema, twice:
//  - kubernetes-models' validate(): the schema's types, required fields, enums and
//    formats (it accepts fields the schema does not have);
//  - a strict pass over @kubernetes/client-node's generated models (attributeTypeMap,
//    from the same OpenAPI document): every field must exist where it is, which catches
//    a misspelled or misplaced field, the usual mistake, that the API server would only
//    warn about or drop.
// Usage: node validate-manifests.mjs FILE...            every document must be valid
//        node validate-manifests.mjs --expect-invalid FILE...  every file must be refused
// Prints one line per document; exits 1 on any unexpected result.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';

const require = createRequire(import.meta.url);

// apiVersion "apps/v1" + kind "DaemonSet" -> kubernetes-models/apps/v1/DaemonSet and V1DaemonSet
function modelsFor(apiVersion, kind) {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    let cls;
    try {
        cls = require(`kubernetes-models/${group ? group + '/' : ''}${version}/${kind}`)[kind];
    } catch (e) {
        return null;
    }
    const strict = k8s[version.charAt(0).toUpperCase() + version.slice(1) + kind];
    return { cls, strict };
}

const PRIMITIVES = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

// Every key of obj must be a field of type; recurses into models, arrays and maps.
function strictFields(obj, type, path, errors) {
    if (obj === null || obj === undefined || PRIMITIVES.has(type))
        return;
    let m = /^Array<(.+)>$/.exec(type);
    if (m) {
        if (Array.isArray(obj))
            obj.forEach((v, i) => strictFields(v, m[1], `${path}/${i}`, errors));
        return;
    }
    m = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    if (m) {
        for (const [k, v] of Object.entries(obj))
            strictFields(v, m[1], `${path}/${k}`, errors);
        return;
    }
    const model = k8s[type];
    if (!model || typeof model.getAttributeTypeMap !== 'function' || typeof obj !== 'object')
        return;
    const fields = new Map(model.getAttributeTypeMap().map(a => [a.baseName, a.type]));
    for (const [k, v] of Object.entries(obj)) {
        if (!fields.has(k)) {
            errors.push(`${path || '/'}: unknown field "${k}" (${type} has: ${[...fields.keys()].join(', ')})`);
            continue;
        }
        strictFields(v, fields.get(k), `${path}/${k}`, errors);
    }
}

function validateDoc(doc) {
    const errors = [];
    if (!doc || typeof doc !== 'object' || !doc.apiVersion || !doc.kind)
        return ['not a Kubernetes object (apiVersion and kind are required)'];
    const models = modelsFor(doc.apiVersion, doc.kind);
    if (!models || !models.cls || !models.strict)
        return [`unknown apiVersion/kind ${doc.apiVersion} ${doc.kind}`];
    try {
        new models.cls(doc).validate();
    } catch (e) {
        errors.push(e.message);
    }
    strictFields(doc, models.strict.name, '', errors);
    return errors;
}

let expectInvalid = false;
const files = [];
for (const a of process.argv.slice(2)) {
    if (a === '--expect-invalid')
        expectInvalid = true;
    else
        files.push(a);
}
if (files.length === 0) {
    console.error('usage: validate-manifests.mjs [--expect-invalid] FILE...');
    process.exit(2);
}

let bad = 0;
for (const f of files) {
    const docs = YAML.parseAllDocuments(fs.readFileSync(f, 'utf8'));
    let refused = 0, n = 0;
    for (const d of docs) {
        if (d.errors.length) {
            console.log(`${f}: YAML: ${d.errors.map(e => e.message).join('; ')}`);
            refused++;
            n++;
            continue;
        }
        const doc = d.toJS();
        if (doc === null)
            continue;       /* an empty document (a trailing ---) */
        n++;
        const errors = validateDoc(doc);
        const name = `${f}: ${doc.kind || '?'} ${doc.metadata && doc.metadata.name || '?'}`;
        if (errors.length) {
            refused++;
            console.log(`${name}: ${expectInvalid ? 'refused, as expected' : 'INVALID'}:\n  ${errors.join('\n  ')}`);
        } else if (!expectInvalid)
            console.log(`${name}: valid`);
    }
    if (n === 0) {
        console.log(`${f}: no Kubernetes object in it`);
        bad++;
    } else if (expectInvalid && refused === 0) {
        console.log(`${f}: ACCEPTED, but it is meant to be refused`);
        bad++;
    } else if (!expectInvalid && refused > 0)
        bad++;
}
process.exit(bad ? 1 : 0);
