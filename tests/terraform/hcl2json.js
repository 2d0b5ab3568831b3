// Parses HCL files with HashiCorp's HCL library (the npm package
// @cdktf/hcl2json, compiled to WebAssembly) and prints one JSON object:
// {"<path>": <the file as JSON>} or {"<path>": {"__error__": "<message>"}}.
//   node tests/terraform/hcl2json.js FILE...
'use strict';
const fs = require('fs');
const path = require('path');
const { parse } = require(path.join(__dirname, 'node_modules', '@cdktf', 'hcl2json'));

(async () => {
  const out = {};
  for (const file of process.argv.slice(2)) {
    try {
      out[file] = await parse(path.basename(file), fs.readFileSync(file, 'utf8'));
    } catch (e) {
      out[file] = { __error__: String(e && e.message ? e.message : e) };
    }
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => {
  process.stderr.write(String(e) + '\n');
  process.exit(1);
});
