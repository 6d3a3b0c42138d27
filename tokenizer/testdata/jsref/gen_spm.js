// gen_spm.js encodes texts with SentencePiece itself (the C++ library
// compiled to WebAssembly in @sctg/sentencepiece-js), the reference that
// TestReferenceSPM compares loft's tokenizer.model support with.
//
//   sh install.sh DIR
//   node gen_spm.js DIR/node_modules MODEL.model texts.json out.json
//   node gen_spm.js DIR/node_modules --extract OUTDIR
//
// The first form writes a JSON array of id arrays (SentencePiece's
// EncodeAsIds: no BOS/EOS). The second writes the models the package
// carries: clean_30k.model and smart.model, unigram models with nmt_nfkc
// normalization rules.
const path = require("path");
const fs = require("fs");

const [modules, model, textsPath, outPath] = process.argv.slice(2);
const sp = require(path.join(modules, "@sctg", "sentencepiece-js"));
if (model === "--extract") {
  fs.writeFileSync(path.join(textsPath, "clean_30k.model"), Buffer.from(sp.clean_30k_b64, "base64"));
  fs.writeFileSync(path.join(textsPath, "smart.model"), Buffer.from(sp.smart_b64, "base64"));
  process.exit(0);
}
(async () => {
  const p = new sp.SentencePieceProcessor();
  await p.loadFromB64StringModel(fs.readFileSync(model).toString("base64"));
  const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
  fs.writeFileSync(outPath, JSON.stringify(texts.map((t) => p.encodeIds(t))));
})();
