// cel_eval.js - evaluates the CEL of admission policies as the API server
// does for one request, with @bufbuild/cel (a CEL implementation tested
// against the CEL conformance suite), for test_policy_cel.py.
//
// Usage: node cel_eval.js NODE_MODULES < job.json > results.json
// job: {"policies": {NAME: spec}, "objects": [object...],
//       "cases": [{"id", "object": i, "oldObject": i|null, "request": {...},
//                  "params": [i...]}],
//       "evaluate": [[case id, policy name]...]}
// results: {"results": [{"case", "policy", "matched", "error",
//           "failures": [message...], "patch": [op...]|null}],
//           "evaluated": [expression text...]}
//
// What Kubernetes adds to CEL and a plain evaluator lacks, provided here:
// - the variables object, oldObject, request, params and variables
//   (k8s.io/apiserver/pkg/admission/plugin/cel: an AdmissionRequest-shaped
//   activation; variables are evaluated in order, each seeing the earlier);
// - JSONPatch, the object type of one patch operation of a
//   MutatingAdmissionPolicy (k8s.io/apiserver/pkg/cel/mutation: fields op,
//   path, from, value; value any JSON value), declared here as a message
//   type with value a google.protobuf.Value.
// Nothing else: the policies are meant to need no other Kubernetes library.
"use strict";

const path = require("path");
const { createRequire } = require("module");
const req = createRequire(path.join(process.argv[2], "..", "resolve.js"));
const { celEnv, parse, plan, isCelError, isCelMap, isCelList, isCelUint } = req("@bufbuild/cel");
const { create, createFileRegistry, createRegistry, toJson, isMessage } = req("@bufbuild/protobuf");
const wkt = req("@bufbuild/protobuf/wkt");

function jsonPatchRegistry() {
	const T = wkt.FieldDescriptorProto_Type, L = wkt.FieldDescriptorProto_Label;
	const field = (name, number, type, typeName) =>
		({ name, number, type, typeName, label: L.OPTIONAL, jsonName: name });
	const file = create(wkt.FileDescriptorProtoSchema, {
		name: "kubernetes_jsonpatch.proto",
		syntax: "proto3",
		dependency: ["google/protobuf/struct.proto"],
		messageType: [{
			name: "JSONPatch",
			field: [field("op", 1, T.STRING), field("path", 2, T.STRING), field("from", 3, T.STRING),
				field("value", 4, T.MESSAGE, ".google.protobuf.Value")],
		}],
	});
	const resolved = createFileRegistry(file, (name) =>
		name === "google/protobuf/struct.proto" ? wkt.file_google_protobuf_struct : undefined);
	return createRegistry(resolved, wkt.file_google_protobuf_struct);
}

const env = celEnv({ registry: jsonPatchRegistry() });
const plans = new Map();
const evaluated = new Set();

// A JSON value as CEL sees an unstructured object: integers are int.
function toCel(v) {
	if (v === null || v === undefined) return null;
	if (Array.isArray(v)) return v.map(toCel);
	if (typeof v === "object") return new Map(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
	if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
	return v;
}

// A CEL value back as JSON.
function fromCel(v) {
	if (v === null || v === undefined) return null;
	if (typeof v === "bigint") return Number(v);
	if (isCelUint(v)) return Number(v.value);
	if (isCelList(v)) return Array.from(v, fromCel);
	if (isCelMap(v)) {
		const o = {};
		for (const [k, x] of v.entries()) o[String(k)] = fromCel(x);
		return o;
	}
	if (v && v.desc && v.message && isMessage(v.message)) return toJson(v.desc, v.message);
	if (Array.isArray(v)) return v.map(fromCel);
	return v;
}

// Evaluates expr; returns {value} or {error}.
function evaluate(expr, bindings) {
	evaluated.add(expr);
	let p = plans.get(expr);
	if (!p) {
		try {
			p = plan(env, parse(expr));
		} catch (e) {
			p = { error: `does not parse: ${e.message}` };
		}
		plans.set(expr, p);
	}
	if (p.error) return { error: p.error };
	let v;
	try {
		v = p(bindings);
	} catch (e) {
		return { error: `threw: ${e.message}` };
	}
	return isCelError(v) ? { error: v.message } : { value: v };
}

// Runs one policy for one case: matchConditions, then per param the
// variables and the validations (or mutations).
function run(spec, activation, params) {
	const out = { matched: true, error: null, failures: [], patch: null };
	const base = { object: activation.object, oldObject: activation.oldObject, request: activation.request,
		       params: null };
	for (const mc of spec.matchConditions || []) {
		const r = evaluate(mc.expression, base);
		if (r.error) return { ...out, error: `matchCondition ${mc.name}: ${r.error}` };
		if (r.value !== true) return { ...out, matched: false };
	}
	for (const param of spec.paramKind ? params : [null]) {
		const variables = new Map();
		const bindings = { ...base, params: param, variables };
		for (const v of spec.variables || []) {
			const r = evaluate(v.expression, bindings);
			if (r.error) return { ...out, error: `variable ${v.name}: ${r.error}` };
			variables.set(v.name, r.value);
		}
		for (const val of spec.validations || []) {
			const r = evaluate(val.expression, bindings);
			if (r.error) return { ...out, error: `validation: ${r.error}` };
			if (r.value === true) continue;
			const m = evaluate(val.messageExpression, bindings);
			if (m.error || typeof m.value !== "string") return { ...out, error: `messageExpression: ${m.error}` };
			out.failures.push(m.value);
		}
		for (const mu of spec.mutations || []) {
			const r = evaluate(mu.jsonPatch.expression, bindings);
			if (r.error) return { ...out, error: `jsonPatch: ${r.error}` };
			out.patch = (out.patch || []).concat(fromCel(r.value));
		}
	}
	return out;
}

function main() {
	const job = JSON.parse(require("fs").readFileSync(0, "utf8"));
	const objects = job.objects.map(toCel);
	const cases = new Map(job.cases.map((c) => [c.id, c]));
	const results = [];
	for (const [id, name] of job.evaluate) {
		const c = cases.get(id);
		const activation = {
			object: objects[c.object],
			oldObject: c.oldObject === null ? null : objects[c.oldObject],
			request: toCel(c.request),
		};
		const r = run(job.policies[name], activation, (c.params || []).map((i) => objects[i]));
		results.push({ case: id, policy: name, ...r });
	}
	process.stdout.write(JSON.stringify({ results, evaluated: Array.from(evaluated) }));
}

main();
