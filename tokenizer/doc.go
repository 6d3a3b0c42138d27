// Package tokenizer turns text into token ids and back, exactly as the
// models were trained: Hugging Face tokenizer.json (byte-level BPE as GPT-2,
// Llama 3 and Qwen2/3; BPE with byte fallback as Llama 2 and Mistral;
// WordPiece as BERT), GPT-2's vocab.json + merges.txt, SentencePiece's
// tokenizer.model, and the tokenizer fields of a GGUF file (FromGGUF).
//
// Every format builds the same Pipeline: added tokens are cut out of the raw
// text, the rest is normalized, pre-tokenized into words and encoded by a
// model (bpe, spm or wordpiece); decoding runs each token through the
// format's decoder steps. Load picks the format from a path.
//
// Chat templates live in tokenizer/chat. This package imports nothing else
// of loft.
package tokenizer
