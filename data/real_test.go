package data

import (
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/tokenizer"
	"github.com/loftml/loft/tokenizer/chat"
)

// storiesConfig is the Config of stories260K (SentencePiece BPE, 512
// tokens, add_bos_token true).
func storiesConfig(t *testing.T) Config {
	t.Helper()
	b, err := model.Load(testutil.SharedDir(t, "models", "stories260K", "hf"), model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := FromBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BOS != 1 || !cfg.AddBOS || cfg.EOS != 2 || cfg.ContextLength != 512 || cfg.Template != nil {
		t.Fatalf("FromBundle: BOS %d AddBOS %v EOS %d context %d template %v; want 1, true, 2, 512, none",
			cfg.BOS, cfg.AddBOS, cfg.EOS, cfg.ContextLength, cfg.Template)
	}
	cfg.SeqLen = 256
	return cfg
}

func TestStoriesText(t *testing.T) {
	cfg := storiesConfig(t)
	ds := loadOne(t, cfg, "t.jsonl", `{"text": "Tom ran."}`)
	// ▁T=274 om=287 ▁r=352 an=303 .=426 (tokenizer.json vocab).
	checkExample(t, ds.Examples[0], []int32{1, 274, 287, 352, 303, 426, 2}, []int32{-100, 274, 287, 352, 303, 426, 2})
}

func TestStoriesCompletionBoundary(t *testing.T) {
	cfg := storiesConfig(t)
	tok := cfg.Tokenizer
	prompt, completion := "Q: Who is it?\nA:", " It is a cat."
	// SentencePiece prepends ▁ to every encoded text, so the completion
	// tokenized alone starts with an extra ▁ (410): separate ids differ.
	sep := append(tok.Encode(prompt, false), tok.Encode(completion, false)...)
	if whole := tok.Encode(prompt+completion, false); slices.Equal(sep, whole) {
		t.Fatalf("separate tokenization equals the whole one (%v): the test shows nothing", whole)
	}
	ds := loadOne(t, cfg, "c.jsonl", `{"prompt": "Q: Who is it?\nA:", "completion": " It is a cat."}`)
	// ▁ Q : ▁ W h o ▁ is ▁it ? <0x0A> A :  |  ▁I t ▁ is ▁a ▁c at .  </s>
	p := []int32{410, 473, 467, 410, 448, 415, 414, 410, 293, 312, 450, 13, 447, 467}
	cpl := []int32{359, 413, 410, 293, 261, 280, 294, 426, 2}
	checkExample(t, ds.Examples[0], cat([]int32{1}, p, cpl), cat(ign(1+len(p)), cpl))

	// A boundary inside a token: "The ca" + "t sat." — the prompt alone
	// ends in ▁c a (280 412), the whole text in ▁c at (280 294): the common
	// prefix is ▁The ▁c, so the merged "at" counts.
	ds = loadOne(t, cfg, "c.jsonl", `{"prompt": "The ca", "completion": "t sat."}`)
	checkExample(t, ds.Examples[0], []int32{1, 291, 280, 294, 262, 294, 426, 2}, []int32{-100, -100, -100, 294, 262, 294, 426, 2})
}

func TestStoriesAlpacaText(t *testing.T) {
	cfg := storiesConfig(t)
	ds := loadOne(t, cfg, "a.jsonl", `{"instruction": "Name a pet.", "input": "", "output": "A cat."}`)
	ex := ds.Examples[0]
	var counted []int
	for i, l := range ex.Labels {
		if l != IgnoreIndex {
			counted = append(counted, int(ex.IDs[i]))
		}
	}
	ids := make([]int, len(ex.IDs))
	for i, id := range ex.IDs {
		ids[i] = int(id)
	}
	want := "<s> Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nName a pet.\n\n### Response:\nA cat.</s>"
	if got := cfg.Tokenizer.Decode(ids, false); got != want {
		t.Errorf("decoded\n got %q\nwant %q", got, want)
	}
	if got := cfg.Tokenizer.Decode(counted, false); got != "A cat.</s>" {
		t.Errorf("counted tokens decode to %q, want %q", got, "A cat.</s>")
	}
}

// qwen3 returns the Qwen3 tokenizer and chat template.
func qwen3(t *testing.T) (tokenizer.Tokenizer, *chat.Template) {
	t.Helper()
	dir := testutil.SharedDir(t, "models", "qwen3-tokenizer")
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := chat.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := cc.Template("")
	if err != nil {
		t.Fatal(err)
	}
	return tok, tm
}

// runs returns the decoded text of each run of counted tokens.
func runs(tok tokenizer.Tokenizer, ex Example) []string {
	var out []string
	var cur []int
	for i := range ex.IDs {
		if ex.Labels[i] != IgnoreIndex {
			if ex.Labels[i] != ex.IDs[i] {
				return []string{"label differs from id"}
			}
			cur = append(cur, int(ex.IDs[i]))
			continue
		}
		if cur != nil {
			out = append(out, tok.Decode(cur, false))
			cur = nil
		}
	}
	if cur != nil {
		out = append(out, tok.Decode(cur, false))
	}
	return out
}

func TestQwen3Chat(t *testing.T) {
	tok, tm := qwen3(t)
	// Qwen3 drops the reasoning of turns before the last user message, so
	// rendering turn by turn is not prefix-stable. The last answer, "a", also
	// appears inside "<|im_start|>assistant".
	line := `{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, ` +
		`{"role": "assistant", "content": "<think>\nGreet.\n</think>\n\nHello! How can I help?"}, ` +
		`{"role": "user", "content": "Is 2+2 four?"}, {"role": "assistant", "content": "Yes, 2+2 is 4."}, ` +
		`{"role": "user", "content": "First letter?"}, {"role": "assistant", "content": "a"}]}`
	cfg := Config{Tokenizer: tok, Template: tm, BOS: -1, EOS: 151645, SeqLen: 1024}
	ds := loadOne(t, cfg, "chat.jsonl", line)
	ex := ds.Examples[0]

	rendered := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n" +
		"<|im_start|>assistant\nHello! How can I help?<|im_end|>\n<|im_start|>user\nIs 2+2 four?<|im_end|>\n" +
		"<|im_start|>assistant\nYes, 2+2 is 4.<|im_end|>\n<|im_start|>user\nFirst letter?<|im_end|>\n" +
		"<|im_start|>assistant\n<think>\n\n</think>\n\na<|im_end|>\n"
	whole := tok.Encode(rendered, false)
	ids := make([]int, len(ex.IDs))
	for i, id := range ex.IDs {
		ids[i] = int(id)
	}
	if !slices.Equal(ids, whole) {
		t.Fatalf("ids are not the encoding of the rendering:\n got %q\nwant %q", tok.Decode(ids, false), rendered)
	}
	// The last turn counts from its header on, with the empty think block
	// that Qwen3 renders there (see TestQwen3Reasoning).
	want := []string{"Hello! How can I help?<|im_end|>", "Yes, 2+2 is 4.<|im_end|>", "<think>\n\n</think>\n\na<|im_end|>"}
	if got := runs(tok, ex); !slices.Equal(got, want) {
		t.Errorf("counted text\n got %q\nwant %q", got, want)
	}
	if ex.IDs[0] == 151643 || strings.Count(tok.Decode(ids, false), "<|im_end|>") != 7 {
		t.Errorf("special tokens added: %q", tok.Decode(ids, false))
	}

	// With Chat, prompt/completion is one user turn and one answer.
	cfg.Chat = true
	ds = loadOne(t, cfg, "pc.jsonl", `{"prompt": "Capital of France?", "completion": "Paris."}`)
	if got := runs(tok, ds.Examples[0]); !slices.Equal(got, []string{"<think>\n\n</think>\n\nParis.<|im_end|>"}) {
		t.Errorf("completion with --chat counts %q", got)
	}
}

// TestQwen3Reasoning checks that an assistant's reasoning counts in the
// loss as the model sees it: Qwen3 renders reasoning_content as a think
// block before the answer, and that block counted nowhere (4 targets of
// "Tom ran.<|im_end|>" counted where the same reasoning written inline in
// content counted 17). The whole think block counts, as TRL's
// qwen3_training.jinja marks it inside {% generation %}; so does the empty
// one Qwen3 renders for a last turn without reasoning.
func TestQwen3Reasoning(t *testing.T) {
	tok, tm := qwen3(t)
	cfg := Config{Tokenizer: tok, Template: tm, BOS: -1, EOS: 151645, SeqLen: 1024}
	const user = `{"role": "user", "content": "Who ran?"}`
	think := "<think>\nThe story says Tom ran to the park.\n</think>\n\n"
	for _, tc := range []struct {
		name, line string
		want       []string
	}{
		{"reasoning_content", `{"messages": [` + user + `, {"role": "assistant", "reasoning_content": "The story says Tom ran to the park.", "content": "Tom ran."}]}`,
			[]string{think + "Tom ran.<|im_end|>"}},
		{"inline", `{"messages": [` + user + `, {"role": "assistant", "content": "<think>\nThe story says Tom ran to the park.\n</think>\n\nTom ran."}]}`,
			[]string{think + "Tom ran.<|im_end|>"}},
		// Rendered as "<think>\nThe story…\n</think>\n\nTom ran.": not found
		// verbatim, found after "</think>", counted from the header.
		{"inline, other spacing", `{"messages": [` + user + `, {"role": "assistant", "content": "<think>The story says Tom ran to the park.</think>Tom ran."}]}`,
			[]string{think + "Tom ran.<|im_end|>"}},
		{"no reasoning", `{"messages": [` + user + `, {"role": "assistant", "content": "Tom ran."}]}`,
			[]string{"<think>\n\n</think>\n\nTom ran.<|im_end|>"}},
		// Qwen3 drops the reasoning of turns before the last user message:
		// the first answer counts as rendered, without it.
		{"dropped", `{"messages": [` + user + `, {"role": "assistant", "reasoning_content": "Tom is in the story.", "content": "Tom."}, ` +
			`{"role": "user", "content": "Where?"}, {"role": "assistant", "reasoning_content": "The story says Tom ran to the park.", "content": "The park."}]}`,
			[]string{"Tom.<|im_end|>", think + "The park.<|im_end|>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := loadOne(t, cfg, "chat.jsonl", tc.line).Examples[0]
			if got := runs(tok, ex); !slices.Equal(got, tc.want) {
				t.Errorf("counted text\n got %q\nwant %q", got, tc.want)
			}
			_, counted := (&Dataset{Examples: []Example{ex}}).Tokens()
			t.Logf("%d tokens, %d counted", len(ex.IDs), counted)
		})
	}
}

// TestQwen3Tools: with Qwen3's real template (not prefix-stable with tool
// turns, so the contents are searched in the final rendering), a turn that
// only calls a tool counts its call: rendered as the last turn it has an
// empty think block before the call, which an earlier turn has not, and the
// span was left empty. With enable_thinking false the generation prompt
// holds that block, found only in the last turn: the search ran on to it
// and lost the earlier turns.
func TestQwen3Tools(t *testing.T) {
	tok, tm := qwen3(t)
	tools := `"tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}]`
	call := `"tool_calls": [{"type": "function", "function": {"name": "w", "arguments": {"c": "P"}}}]`
	callText := "<tool_call>\n{\"name\": \"w\", \"arguments\": {\"c\": \"P\"}}\n</tool_call><|im_end|>"
	off := false
	for _, tc := range []struct {
		name, line string
		noThink    bool
		want       []string
	}{
		{"call, then answer", `{` + tools + `, "messages": [{"role": "user", "content": "W?"}, {"role": "assistant", "content": null, ` + call + `}, ` +
			`{"role": "tool", "content": "9"}, {"role": "assistant", "content": "It is 9."}]}`, false,
			[]string{callText, "<think>\n\n</think>\n\nIt is 9.<|im_end|>"}},
		{"empty content, then answer", `{` + tools + `, "messages": [{"role": "user", "content": "W?"}, {"role": "assistant", "content": "", ` + call + `}, ` +
			`{"role": "tool", "content": "9"}, {"role": "assistant", "content": "It is 9."}]}`, false,
			[]string{callText, "<think>\n\n</think>\n\nIt is 9.<|im_end|>"}},
		// A last turn with null content fails in this template, as in
		// transformers (content.lstrip of None); an empty one renders.
		{"call only, last", `{` + tools + `, "messages": [{"role": "user", "content": "W?"}, {"role": "assistant", "content": "", ` + call + `}]}`, false,
			[]string{"<think>\n\n</think>\n\n" + callText}},
		// A short next message ("a") is also in the header's text: the
		// header is still this turn's, and the answer and the call count.
		{"short answers", `{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "st"}, ` +
			`{"role": "user", "content": "a"}, {"role": "assistant", "content": "y"}]}`, false,
			[]string{"st<|im_end|>", "<think>\n\n</think>\n\ny<|im_end|>"}},
		{"call, then a short tool result", `{` + tools + `, "messages": [{"role": "user", "content": "W?"}, {"role": "assistant", "content": null, ` + call + `}, ` +
			`{"role": "tool", "content": "a"}, {"role": "assistant", "content": "It is 9."}]}`, false,
			[]string{callText, "<think>\n\n</think>\n\nIt is 9.<|im_end|>"}},
		{"no thinking, two turns", `{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, ` +
			`{"role": "user", "content": "Bye"}, {"role": "assistant", "content": "See you."}]}`, true,
			[]string{"Hello!<|im_end|>", "See you.<|im_end|>"}},
		{"no thinking, same answer twice", `{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yes"}, ` +
			`{"role": "user", "content": "Sure?"}, {"role": "assistant", "content": "Yes"}]}`, true,
			[]string{"Yes<|im_end|>", "Yes<|im_end|>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Tokenizer: tok, Template: tm, BOS: -1, EOS: 151645, SeqLen: 1024}
			if tc.noThink {
				cfg.RenderOptions.EnableThinking = &off
			}
			ex := loadOne(t, cfg, "chat.jsonl", tc.line).Examples[0]
			if got := runs(tok, ex); !slices.Equal(got, tc.want) {
				t.Errorf("counted text\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestStoriesChat runs a Llama-2 style template over the SentencePiece
// tokenizer: the template writes <s> and </s> itself (nothing is added
// twice) and each answer counts with the " </s>" after it.
func TestStoriesChat(t *testing.T) {
	cfg := storiesConfig(t)
	cfg.Template = newTemplate(t, llama2Template)
	ds := loadOne(t, cfg, "chat.jsonl", `{"messages": [{"role": "user", "content": "Who ran?"}, {"role": "assistant", "content": "Tom ran."}, `+
		`{"role": "user", "content": "Was he happy?"}, {"role": "assistant", "content": "Yes, he was."}]}`)
	ex := ds.Examples[0]
	ids := make([]int, len(ex.IDs))
	for i, id := range ex.IDs {
		ids[i] = int(id)
	}
	rendered := "<s>[INST] Who ran? [/INST] Tom ran. </s><s>[INST] Was he happy? [/INST] Yes, he was. </s>"
	if want := cfg.Tokenizer.Encode(rendered, false); !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want the encoding of the rendering %v", ids, want)
	}
	if ids[0] != 1 || ids[1] == 1 {
		t.Errorf("BOS: ids start %v", ids[:2])
	}
	if got, want := runs(cfg.Tokenizer, ex), []string{"Tom ran. </s>", "Yes, he was. </s>"}; !slices.Equal(got, want) {
		t.Errorf("counted text %q, want %q", got, want)
	}
}
