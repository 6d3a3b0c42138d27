package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/generate"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/tokenizer/chat"
)

// tinyChatTemplate is ChatML, as Qwen's tokenizer_config.json spells it.
const tinyChatTemplate = `{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`

// writeTinyModel writes a Hugging Face folder of a tiny random Llama (2
// layers, hidden 16, untied head) with a byte-level BPE tokenizer of 256
// byte tokens and no merges, plus <|endoftext|> (256), <|im_start|> (257)
// and <|im_end|> (258), no BOS, a ChatML template, and, when genConfig is
// set, a generation_config.json that samples. It lets the CLI tests run
// without ../shared.
func writeTinyModel(t *testing.T, genConfig bool) string {
	t.Helper()
	dir := t.TempDir()
	const V, C, F, L, NH, NKV, HS = 259, 16, 32, 2, 2, 1, 8
	write := func(name string, v any) {
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("config.json", map[string]any{
		"model_type": "llama", "hidden_size": C, "intermediate_size": F, "num_hidden_layers": L,
		"num_attention_heads": NH, "num_key_value_heads": NKV, "head_dim": HS, "vocab_size": V,
		"max_position_embeddings": 512, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
		"tie_word_embeddings": false, "bos_token_id": nil, "eos_token_id": 256, "torch_dtype": "float32",
	})
	if genConfig {
		write("generation_config.json", map[string]any{
			"do_sample": true, "temperature": 0.7, "top_k": 20, "top_p": 0.8, "min_p": 0.02, "repetition_penalty": 1.05,
			"eos_token_id": []int{256, 258},
		})
	}
	write("tokenizer_config.json", map[string]any{
		"chat_template": tinyChatTemplate, "eos_token": "<|im_end|>", "bos_token": nil, "pad_token": "<|endoftext|>",
	})
	// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the
	// others for 256, 257, ... in byte order.
	vocab := map[string]int{}
	next := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			vocab[string(rune(b))] = b
		} else {
			vocab[string(rune(256+next))] = b
			next++
		}
	}
	var added []map[string]any
	for i, s := range []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"} {
		added = append(added, map[string]any{"id": 256 + i, "content": s, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true})
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	write("tokenizer.json", map[string]any{
		"version": "1.0", "added_tokens": added, "normalizer": nil, "pre_tokenizer": byteLevel,
		"post_processor": nil, "decoder": byteLevel,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": []string{}},
	})
	rng := rand.New(rand.NewPCG(3, 4))
	var tensors []safetensors.Tensor
	add := func(name string, std float64, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
			if std > 0 {
				v[i] = float32(rng.NormFloat64() * std)
			}
		}
		tensors = append(tensors, safetensors.Tensor{Name: name, DType: safetensors.F32, Shape: shape, Values: v})
	}
	add("model.embed_tokens.weight", 1, V, C)
	for l := range L {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", 0, C)
		add(p+"self_attn.q_proj.weight", 0.3, NH*HS, C)
		add(p+"self_attn.k_proj.weight", 0.3, NKV*HS, C)
		add(p+"self_attn.v_proj.weight", 0.3, NKV*HS, C)
		add(p+"self_attn.o_proj.weight", 0.3, C, NH*HS)
		add(p+"post_attention_layernorm.weight", 0, C)
		add(p+"mlp.gate_proj.weight", 0.3, F, C)
		add(p+"mlp.up_proj.weight", 0.3, F, C)
		add(p+"mlp.down_proj.weight", 0.3, C, F)
	}
	add("model.norm.weight", 0, C)
	add("lm_head.weight", 1, V, C)
	// A longer <|im_end|> row makes replies end by that id now and then.
	head := tensors[len(tensors)-1].Values
	for i := range C {
		head[258*C+i] *= 1.8
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// refGenerate generates with the generate package, as the CLI should.
func refGenerate(t *testing.T, b *model.Bundle, prompt []int, s generate.Sampling, maxNew int, stops []string, eos []int) generate.Result {
	t.Helper()
	out, err := generate.Generate(context.Background(), b.LM, []generate.Request{{Prompt: prompt, Sampling: s, MaxNewTokens: maxNew, Stop: stops}},
		generate.Options{EOS: eos, NewDecoder: generate.NewTextDecoder(b.Tokenizer, true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Rows[0]
}

// TestGenerateTinyModel checks where loft generate takes its settings
// from: generation_config.json's sampling defaults, flags over them, and
// greedy decoding without that file; and that a model with no BOS refuses
// an empty prompt.
func TestGenerateTinyModel(t *testing.T) {
	dir := writeTinyModel(t, true)
	b, err := model.Load(dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prompt := b.Tokenizer.Encode("Hello, world", false)
	if b.Gen.BOS >= 0 || len(prompt) != 12 {
		t.Fatalf("BOS %d, prompt %v: want no BOS and 12 byte tokens", b.Gen.BOS, prompt)
	}
	eos := []int{256, 258}
	for _, tc := range []struct {
		flags []string
		want  generate.Sampling
	}{
		{nil, generate.Sampling{Temperature: 0.7, TopK: 20, TopP: 0.8, MinP: 0.02, RepetitionPenalty: 1.05, Seed: 7}},
		{[]string{"--temperature", "0"}, generate.Sampling{TopP: 1, RepetitionPenalty: 1.05}},
		{[]string{"--temperature", "1.5", "--top-k", "0", "--min-p", "0.1", "--repetition-penalty", "1"},
			generate.Sampling{Temperature: 1.5, TopP: 0.8, MinP: 0.1, RepetitionPenalty: 1, Seed: 7}},
	} {
		args := append([]string{"generate", "--model", dir, "--prompt", "Hello, world", "--max-new-tokens", "40", "--seed", "7"}, tc.flags...)
		code, out, errOut := run(t, args...)
		if code != ExitOK {
			t.Fatalf("%q: code %d, stderr %q", tc.flags, code, errOut)
		}
		want := refGenerate(t, b, prompt, tc.want, 40, nil, eos)
		if out != want.Text || len(want.Tokens) == 0 {
			t.Errorf("%q: got %q, want %q (%+v)", tc.flags, out, want.Text, tc.want)
		}
		if !strings.Contains(errOut, describeSampling(tc.want)) {
			t.Errorf("%q: stderr %q lacks %q", tc.flags, errOut, describeSampling(tc.want))
		}
		if strings.Contains(errOut, "\n\n") { // the text ends without a newline; stderr is no terminal
			t.Errorf("%q: an empty line on stderr, which is not a terminal: %q", tc.flags, errOut)
		}
	}
	if code, _, errOut := run(t, "generate", "--model", dir, "--prompt", ""); code != ExitUsage || !strings.Contains(errOut, "no BOS") {
		t.Errorf("empty prompt without BOS: code %d, stderr %q", code, errOut)
	}
	// No generation_config.json: greedy, EOS from config.json.
	if err := os.Remove(filepath.Join(dir, "generation_config.json")); err != nil {
		t.Fatal(err)
	}
	b, err = model.Load(dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "generate", "--model", dir, "--prompt", "Hello, world", "--max-new-tokens", "40")
	want := refGenerate(t, b, prompt, generate.Sampling{TopP: 1, RepetitionPenalty: 1}, 40, nil, b.Gen.EOS)
	if code != ExitOK || out != want.Text || !strings.Contains(errOut, "greedy") {
		t.Errorf("without generation_config.json: code %d, got %q, want greedy %q; stderr %q", code, out, want.Text, errOut)
	}
}

// TestChatTinyModel holds a piped conversation through the model's own
// template and checks each reply against the generate package.
func TestChatTinyModel(t *testing.T) {
	dir := writeTinyModel(t, true)
	b, err := model.Load(dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{"Hi!", "What is 2+2?", "Thanks."}
	withStdin(t, strings.Join(lines, "\n")+"\n")
	code, out, errOut := run(t, "chat", "--model", dir, "--seed", "11", "--max-new-tokens", "30")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	tmpl, err := b.Chat.Template("")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []chat.Message
	var want strings.Builder
	ended := false // a reply ended at <|im_end|>
	for turn, line := range lines {
		msgs = append(msgs, chat.Message{Role: "user", Content: line})
		s, err := tmpl.Render(msgs, chat.RenderOptions{AddGenerationPrompt: true})
		if err != nil {
			t.Fatal(err)
		}
		r := refGenerate(t, b, b.Tokenizer.Encode(s, false),
			generate.Sampling{Temperature: 0.7, TopK: 20, TopP: 0.8, MinP: 0.02, RepetitionPenalty: 1.05, Seed: 11 + uint64(turn)}, 30, nil, []int{256, 258})
		want.WriteString(r.Text + "\n")
		ended = ended || r.Reason == generate.StopEOS
		msgs = append(msgs, chat.Message{Role: "assistant", Content: r.Text})
	}
	if out != want.String() {
		t.Errorf("got %q\nwant %q", out, want.String())
	}
	if !ended {
		t.Error("no reply ended at an end-of-turn id: the test no longer covers that path")
	}
}

// TestChatTemplateFile reads the template from a .jinja file: a plain
// "User:/Assistant:" format whose replies end at a stop string.
func TestChatTemplateFile(t *testing.T) {
	dir := writeTinyModel(t, false)
	tf := filepath.Join(t.TempDir(), "plain.jinja")
	src := "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}<|end|>\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
	if err := os.WriteFile(tf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	withStdin(t, "Hi\n")
	code, out, errOut := run(t, "chat", "--model", dir, "--chat-template", tf, "--max-new-tokens", "20")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	b, err := model.Load(dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// <|end|> is not a token of this vocabulary: it is a stop string.
	r := refGenerate(t, b, b.Tokenizer.Encode("user: Hi<|end|>\nassistant:", false), generate.Sampling{TopP: 1, RepetitionPenalty: 1}, 20, []string{"<|end|>"}, b.Gen.EOS)
	if out != r.Text+"\n" {
		t.Errorf("got %q, want %q", out, r.Text+"\n")
	}
	withStdin(t, "Hi\n")
	if code, _, errOut := run(t, "chat", "--model", dir, "--chat-template", filepath.Join(t.TempDir(), "none.jinja")); code != ExitError || !strings.Contains(errOut, "none.jinja") {
		t.Errorf("missing template file: code %d, stderr %q", code, errOut)
	}
}

// hubCache lays src's files out as huggingface_hub caches repo "org/name"
// at one commit: blobs/, refs/main and snapshots/<commit>/ of relative
// symlinks into blobs/. It returns the cache folder and the snapshot.
func hubCache(t *testing.T, src, id string) (cache, snap string) {
	t.Helper()
	cache = t.TempDir()
	repo := filepath.Join(cache, "models--"+strings.ReplaceAll(id, "/", "--"))
	commit := strings.Repeat("ab", 20)
	snap = filepath.Join(repo, "snapshots", commit)
	for _, d := range []string{filepath.Join(repo, "blobs"), filepath.Join(repo, "refs"), snap} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		blob := fmt.Sprintf("%040x", i+1)
		if err := os.WriteFile(filepath.Join(repo, "blobs", blob), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(snap, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return cache, snap
}

// TestGenerateHubID runs --model org/name from a Hugging Face cache laid
// out as huggingface_hub writes it (blobs, refs/main, snapshot symlinks),
// offline.
func TestGenerateHubID(t *testing.T) {
	src := writeTinyModel(t, false)
	cache, _ := hubCache(t, src, "loft-test/tiny")
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")
	args := []string{"--prompt", "Hello", "--max-new-tokens", "10", "--temperature", "0"}
	code, viaHub, errOut := run(t, append([]string{"generate", "--model", "loft-test/tiny"}, args...)...)
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	_, local, _ := run(t, append([]string{"generate", "--model", src}, args...)...)
	if viaHub != local || local == "" {
		t.Errorf("through the Hub cache %q, from the folder %q", viaHub, local)
	}
	if code, _, errOut := run(t, "generate", "--model", "loft-test/absent", "--prompt", "x"); code != ExitError || !strings.Contains(errOut, "loft-test/absent") {
		t.Errorf("a repo not in the cache, offline: code %d, stderr %q", code, errOut)
	}
}

// TestGenerateMaxNewTokensFromConfig: without --max-new-tokens, the
// generation config's max_new_tokens bounds the output, as in
// transformers; the flag overrides it.
func TestGenerateMaxNewTokensFromConfig(t *testing.T) {
	dir := writeTinyModel(t, false)
	if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"max_new_tokens": 5, "eos_token_id": 256}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "generated 5 tokens"},
		{[]string{"--max-new-tokens", "8"}, "generated 8 tokens"},
	} {
		code, _, errOut := run(t, append([]string{"generate", "--model", dir, "--prompt", "Hello, world", "--temperature", "0"}, tc.flags...)...)
		if code != ExitOK || !strings.Contains(errOut, tc.want+", ") || !strings.Contains(errOut, "stopped: max new tokens") {
			t.Errorf("%q: code %d, stderr %q; want %q", tc.flags, code, errOut, tc.want)
		}
	}
}

// TestGenerateBadGenerationConfig: a bad sampling value in
// generation_config.json is reported against that file and its key, not
// against a flag the user never gave; the flag that overrides it mends it.
func TestGenerateBadGenerationConfig(t *testing.T) {
	dir := writeTinyModel(t, false)
	gen := filepath.Join(dir, "generation_config.json")
	if err := os.WriteFile(gen, []byte(`{"do_sample": true, "top_p": 1.5, "eos_token_id": 256}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "generate", "--model", dir, "--prompt", "Hi", "--max-new-tokens", "3")
	if code != ExitError || !strings.Contains(errOut, gen+": top_p must be in (0, 1]") || strings.Contains(errOut, "--top-p") {
		t.Errorf("top_p 1.5 in the file: code %d, stderr %q", code, errOut)
	}
	if code, _, errOut := run(t, "generate", "--model", dir, "--prompt", "Hi", "--max-new-tokens", "3", "--top-p", "0.9"); code != ExitOK {
		t.Errorf("--top-p over the file's bad top_p: code %d, stderr %q", code, errOut)
	}
	if code, _, errOut := run(t, "generate", "--model", dir, "--prompt", "Hi", "--top-p", "2"); code != ExitUsage || !strings.Contains(errOut, "--top-p") {
		t.Errorf("--top-p 2: code %d, stderr %q", code, errOut)
	}
}

// TestGenerateStopAtSpecialToken: a --stop that is a special token's text
// stops generation when the model emits that token, although the decoder
// leaves its text out (greedy from "abc", the tiny model emits
// <|im_end|>, 258, among its first tokens; its EOS is 256 alone).
func TestGenerateStopAtSpecialToken(t *testing.T) {
	dir := writeTinyModel(t, false)
	b, err := model.Load(dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	greedy := generate.Sampling{TopP: 1, RepetitionPenalty: 1}
	prompt := b.Tokenizer.Encode("abc", false)
	free := refGenerate(t, b, prompt, greedy, 60, nil, []int{256})
	if !slices.Contains(free.Tokens, 258) {
		t.Fatalf("greedy from \"abc\" never emits 258 (%v): the test needs another prompt", free.Tokens)
	}
	want := refGenerate(t, b, prompt, greedy, 60, nil, []int{256, 258})
	code, out, errOut := run(t, "generate", "--model", dir, "--prompt", "abc", "--temperature", "0", "--max-new-tokens", "60", "--stop", "<|im_end|>")
	// The count includes the stopping token, which Tokens leaves out.
	if code != ExitOK || out != want.Text || want.Reason != generate.StopEOS ||
		!strings.Contains(errOut, fmt.Sprintf("generated %d tokens", len(want.Tokens)+1)) || !strings.Contains(errOut, "stopped: end of sequence") {
		t.Errorf("--stop <|im_end|>: code %d, got %q, want %q (%d tokens); stderr %q", code, out, want.Text, len(want.Tokens), errOut)
	}
}

// TestChatPipedPrintsSeed: piped, chat keeps stderr quiet, except for the
// sampling line when it holds a seed that was drawn, so that the run can
// be repeated.
func TestChatPipedPrintsSeed(t *testing.T) {
	dir := writeTinyModel(t, true)
	for _, tc := range []struct {
		flags []string
		seed  bool
	}{{nil, true}, {[]string{"--seed", "5"}, false}, {[]string{"--temperature", "0"}, false}} {
		withStdin(t, "Hi\n")
		code, _, errOut := run(t, append([]string{"chat", "--model", dir, "--max-new-tokens", "5"}, tc.flags...)...)
		if code != ExitOK || strings.Contains(errOut, ", seed ") != tc.seed {
			t.Errorf("%q: code %d, stderr %q; want the drawn seed printed: %v", tc.flags, code, errOut, tc.seed)
		}
	}
}

// TestGenerateStopAtPlainToken: a --stop that is the text of an ordinary
// token stops as a stop string, reported as one: only a special token,
// whose text the decoder leaves out, is turned into an end-of-sequence id
// (each token of the tiny vocabulary is one byte, so any letter of the
// text is a token's).
func TestGenerateStopAtPlainToken(t *testing.T) {
	dir := writeTinyModel(t, false)
	args := []string{"generate", "--model", dir, "--prompt", "abc", "--temperature", "0", "--max-new-tokens", "60"}
	code, free, errOut := run(t, args...)
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	i := strings.IndexFunc(free, func(r rune) bool { return r >= 'a' && r <= 'z' })
	if i < 0 {
		t.Fatalf("no lower-case letter in %q: the test needs another prompt", free)
	}
	stop := free[i : i+1]
	code, out, errOut := run(t, append(args, "--stop", stop)...)
	if code != ExitOK || out != free[:i] || !strings.Contains(errOut, "stopped: stop string") {
		t.Errorf("--stop %q: code %d, got %q, want %q, stopped by the stop string; stderr %q", stop, code, out, free[:i], errOut)
	}
}

// TestGenerateStopHoldingSpecial: a --stop with a special token and more
// text can never match (the output leaves special tokens' text out), and
// generate warns, naming the token to use; the token alone gets no warning.
func TestGenerateStopHoldingSpecial(t *testing.T) {
	dir := writeTinyModel(t, false)
	args := []string{"generate", "--model", dir, "--prompt", "abc", "--temperature", "0", "--max-new-tokens", "4"}
	code, _, errOut := run(t, append(args, "--stop", "<|im_end|>\n")...)
	want := `loft: warning: --stop "<|im_end|>\n" holds the special token <|im_end|>, which the output leaves out, so it never matches; --stop "<|im_end|>" stops at that token`
	if code != ExitOK || !strings.Contains(errOut, want) {
		t.Errorf("code %d, stderr %q; want a warning %q", code, errOut, want)
	}
	for _, stop := range []string{"<|im_end|>", "im_end"} {
		if code, _, errOut := run(t, append(args, "--stop", stop)...); code != ExitOK || strings.Contains(errOut, "warning") {
			t.Errorf("--stop %q: code %d, stderr %q; want no warning", stop, code, errOut)
		}
	}
}
