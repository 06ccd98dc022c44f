// Reads one JSON string per line (a firewall rule text) and writes, for each,
// one JSON line: {"ok":true,"rule":CANONICAL} or {"ok":false,"error":MSG},
// as Triton's own rule parser (the npm package `fwrule`) decides.
// Usage: node fwrule_oracle.js NODE_MODULES_DIR < rules.jsonl
'use strict';
var path = require('path');
var fwrule = require(path.join(process.argv[2], 'fwrule'));
var lines = require('fs').readFileSync(0, 'utf8').split('\n');
var out = [];
lines.forEach(function (line) {
    if (line === '') {
        return;
    }
    var text = JSON.parse(line);
    try {
        out.push(JSON.stringify({ ok: true,
            rule: fwrule.create({ rule: text }).text() }));
    } catch (e) {
        out.push(JSON.stringify({ ok: false, error: String(e.message) }));
    }
});
process.stdout.write(out.join('\n') + '\n');
