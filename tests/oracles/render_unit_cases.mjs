// render_unit_cases.mjs — renders tests/oracles/unit_inputs.txt with the
// reference renderer and writes tests/data/templates/unit_cases.json, which
// tests/test_templates.c checks the C interpreter against.
//
//   cd tests/oracles && npm install @huggingface/jinja@0.5.11 && node render_unit_cases.mjs
//
// Each case records the template, its variables, and either the output
// ("output"), an error raised while rendering ("error", compared exactly),
// or an error raised while parsing ("parse_error": the C side must also
// refuse the template, with its own message).
import { Template } from "@huggingface/jinja";
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const lines = fs.readFileSync(path.join(here, "unit_inputs.txt"), "utf8").split("\n");
let vars = {};
const cases = [];
for (const line of lines) {
  if (!line.length || line.startsWith("# ")) continue;
  if (line.startsWith("@vars ")) {
    vars = JSON.parse(line.slice(6));
    continue;
  }
  const template = line.startsWith('"') ? JSON.parse(line) : line;
  const c = { template, vars };
  let tpl;
  try {
    tpl = new Template(template);
  } catch (e) {
    c.parse_error = e.message;
    cases.push(c);
    continue;
  }
  try {
    c.output = tpl.render(JSON.parse(JSON.stringify(vars)));
  } catch (e) {
    c.error = e.message;
  }
  cases.push(c);
}
const out = path.join(here, "..", "data", "templates", "unit_cases.json");
fs.writeFileSync(out, JSON.stringify({ renderer: "@huggingface/jinja 0.5.11", cases }, null, 1) + "\n");
console.log(`${cases.length} cases -> ${out}`);
