// Package tokenizer turns text into token ids and back, exactly as the
// models were trained. It reads
//
//   - Hugging Face tokenizer.json: BPE, byte-level (GPT-2, Llama 3 with
//     ignore_merges, Qwen2/3, DeepSeek, GPT-4o-style Split regexes) or with
//     byte fallback and the "▁" normalizer or Metaspace pre-tokenizer (Llama
//     2, Mistral, TinyLlama, Gemma); WordPiece (BERT); Unigram (T5, ALBERT,
//     with SentencePiece's Precompiled rules). Normalizers,
//     pre-tokenizers, post-processors, decoders and added tokens (raw and
//     "normalized") as Hugging Face defines them;
//   - GPT-2's vocab.json + merges.txt (tokenizer.json wins when a folder has
//     both), with added_tokens.json and tokenizer_config.json, as
//     transformers' GPT2Tokenizer or Qwen2Tokenizer reads them;
//   - SentencePiece tokenizer.model: BPE (Llama 2) and unigram models, with
//     their precompiled normalization rules (nmt_nfkc) and user-defined
//     pieces handled as SentencePiece does;
//   - the tokenizer.ggml.* metadata of a GGUF file, as plain values
//     (GGUFVocab, FromGGUF), so that a GGUF file alone is enough.
//
// Every format builds the same Pipeline: added tokens are cut out of the raw
// text, the rest is normalized, pre-tokenized into words (package pretok:
// hand-written GPT-2/Llama 3/Qwen2 splitters proven equal to the regexes,
// regexp2 for any other) and encoded by a model (packages bpe, spm,
// wordpiece), and the post-processor adds BOS/EOS or [CLS]/[SEP] when asked.
// Decoding runs each token through the decoder steps; Decode(Encode(x)) == x
// for byte-level BPE and SentencePiece, and StreamDecoder never returns half
// a UTF-8 character.
//
//	tok, err := tokenizer.Load("models/qwen3")   // folder, tokenizer file
//	ids := tok.Encode("Hello, 世界", false)       // no BOS/EOS
//	text := tok.Decode(ids, true)                 // skip special tokens
//
// Truncation and padding settings of a tokenizer.json are not applied:
// callers choose lengths. Chat templates live in tokenizer/chat. This
// package imports nothing else of loft.
package tokenizer
