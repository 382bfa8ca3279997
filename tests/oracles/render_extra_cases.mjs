// render_extra_cases.mjs — more conversations over every template of
// tests/data/templates/src, rendered by the reference renderer, written to
// tests/data/templates/extra_cases.json (checked in, so the C tests need no
// Node). tests/test_templates.c (templates_extra_cases) compares against it.
//
//   cd tests/oracles && npm install @huggingface/jinja@0.5.11 && TZ=UTC node render_extra_cases.mjs
//
// The clock is pinned to 2026-11-26 12:00 UTC (strftime_now in templates),
// the C side passes the same time.
import { Template } from "@huggingface/jinja";
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...a) { if (a.length) super(...a); else super(NOW); }
  static now() { return NOW; }
};

const here = path.dirname(fileURLToPath(import.meta.url));
const data = path.join(here, "..", "data", "templates");
const variables = { bos_token: "<BOS>", eos_token: "<EOS>", date_string: "26 Nov 2026" };
const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the weather for a city",
    parameters: { type: "object", properties: { city: { type: "string", description: "City name" }, days: { type: "integer" } }, required: ["city"] },
  },
};
const call = (args) => ({ id: "call12345", type: "function", function: { name: "get_weather", arguments: args } });
const cases = {
  tool_roundtrip: {
    messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: "", tool_calls: [call({ city: "Paris", days: 2 })] },
      { role: "tool", content: "{\"temp\": 21.5, \"sky\": \"clear\"}", tool_call_id: "call12345", name: "get_weather" },
    ],
    tools: [weather],
    add_generation_prompt: true,
  },
  tool_call_null_content_string_args: {
    messages: [
      { role: "system", content: "Use tools when useful." },
      { role: "user", content: "Weather in Oslo & Rome?" },
      { role: "assistant", content: null, tool_calls: [call("{\"city\": \"Oslo\"}")] },
      { role: "tool", content: "cold", tool_call_id: "call12345" },
      { role: "assistant", content: "It is cold in Oslo." },
      { role: "user", content: "Thanks" },
    ],
    tools: [weather],
    add_generation_prompt: true,
  },
  tool_content_object: {
    messages: [
      { role: "user", content: "Go" },
      { role: "assistant", content: "", tool_calls: [call({ city: "Lima" })] },
      { role: "tool", content: { temp: 18, unit: "C" }, tool_call_id: "call12345" },
    ],
    tools: [weather],
    add_generation_prompt: true,
  },
  reasoning: {
    messages: [
      { role: "user", content: "2+2?" },
      { role: "assistant", content: "<think>\nAdd them.\n</think>\n\nIt is 4." },
      { role: "user", content: "And 3+3?" },
    ],
    add_generation_prompt: true,
  },
  reasoning_last_turn: {
    messages: [
      { role: "user", content: "2+2?" },
      { role: "assistant", content: "<think>\nAdd them.\n</think>\n\nIt is 4.", reasoning_content: "Sum." },
    ],
    add_generation_prompt: false,
  },
  system_multi_turn: {
    messages: [
      { role: "system", content: "  Be terse. /no_think " },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hey." },
      { role: "user", content: "Bye" },
      { role: "assistant", content: "Later." },
    ],
    add_generation_prompt: false,
  },
  enable_thinking_false: {
    messages: [{ role: "user", content: "Quick answer please" }],
    add_generation_prompt: true,
    vars: { enable_thinking: false },
  },
  special_text: {
    messages: [
      { role: "user", content: "Quotes \" ' and \\ backslash, {{ not a tag }}, {% neither %}, tab\there\r\nCRLF, ünïcödé 🙂 中文" },
      { role: "assistant", content: "</s> [INST] <|im_end|> literal tokens" },
      { role: "user", content: "" },
    ],
    add_generation_prompt: true,
  },
  consecutive_users: {
    messages: [
      { role: "user", content: "One" },
      { role: "user", content: "Two" },
    ],
    add_generation_prompt: true,
  },
  content_parts: {
    messages: [
      { role: "user", content: [{ type: "image" }, { type: "text", text: " Describe this. " }] },
    ],
    add_generation_prompt: true,
  },
  long_conversation: {
    messages: Array.from({ length: 12 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: `turn ${i + 1}` })),
    add_generation_prompt: true,
  },
  empty: { messages: [], add_generation_prompt: true },
};

const names = fs.readdirSync(path.join(data, "src")).filter((f) => f.endsWith(".jinja")).map((f) => f.slice(0, -6)).sort();
const results = {};
for (const name of names) {
  const tpl = new Template(fs.readFileSync(path.join(data, "src", name + ".jinja"), "utf8"));
  results[name] = {};
  for (const [cname, c] of Object.entries(cases)) {
    const ctx = { ...variables, ...(c.vars || {}), messages: c.messages, add_generation_prompt: c.add_generation_prompt };
    if (c.tools) ctx.tools = c.tools;
    try {
      results[name][cname] = { output: tpl.render(JSON.parse(JSON.stringify(ctx))) };
    } catch (e) {
      results[name][cname] = { error: e.message };
    }
  }
}
const out = path.join(data, "extra_cases.json");
fs.writeFileSync(out, JSON.stringify({ renderer: "@huggingface/jinja 0.5.11", now: "2026-11-26T12:00:00Z", variables, cases, results }, null, 1) + "\n");
console.log(`${names.length} templates x ${Object.keys(cases).length} cases -> ${out}`);
