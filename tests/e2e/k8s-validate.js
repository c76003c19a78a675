// k8s-validate.js FILE.yaml - checks every document of a Kubernetes manifest against the
// API schemas bundled in the npm package kubernetes-models (types, required fields, enum
// values; like kubectl, unknown fields are not an error). Why: examples/sidecar/pod.yaml
// cannot be applied here (no cluster), but it can at least be a valid Pod.
// Needs NODE_PATH pointing at a node_modules with kubernetes-models@4 and js-yaml@4.
// Prints "valid <apiVersion> <kind> <name>" or "invalid <kind>: <why>" per document;
// exits 1 if any is invalid.
"use strict";
const fs = require("fs");
const yaml = require("js-yaml");

const docs = yaml.loadAll(fs.readFileSync(process.argv[2], "utf8")).filter(Boolean);
let bad = 0;
if (docs.length === 0) {
    console.log("invalid: no document");
    bad++;
}
for (const doc of docs) {
    const group = String(doc.apiVersion || "").includes("/") ? doc.apiVersion : "v1";
    let models;
    try {
        models = require("kubernetes-models/" + group);
    } catch (e) {
        console.log(`invalid: unknown apiVersion ${doc.apiVersion}`);
        bad++;
        continue;
    }
    const Kind = models[doc.kind];
    if (!Kind) {
        console.log(`invalid: unknown kind ${doc.apiVersion} ${doc.kind}`);
        bad++;
        continue;
    }
    try {
        new Kind(doc).validate();
        console.log(`valid ${doc.apiVersion} ${doc.kind} ${doc.metadata ? doc.metadata.name : ""}`);
    } catch (e) {
        console.log(`invalid ${doc.kind}: ${e.message}`);
        bad++;
    }
}
process.exit(bad ? 1 : 0);
