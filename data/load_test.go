package data

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/loftml/loft/tokenizer/chat"
)

// writeFile writes content to name in a fresh folder and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// charConfig is a Config over charTok with BOS 1 added and EOS 2.
func charConfig() Config {
	return Config{Tokenizer: charTok{}, BOS: 1, AddBOS: true, EOS: 2, SeqLen: 256}
}

// loadOne loads one file and returns its examples.
func loadOne(t *testing.T, cfg Config, name, content string) *Dataset {
	t.Helper()
	ds, err := Load(cfg, writeFile(t, name, content))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func checkExample(t *testing.T, got Example, ids, labels []int32) {
	t.Helper()
	if !reflect.DeepEqual(got.IDs, ids) {
		t.Errorf("ids\n got %v\nwant %v", got.IDs, ids)
	}
	if !reflect.DeepEqual(got.Labels, labels) {
		t.Errorf("labels\n got %v\nwant %v", got.Labels, labels)
	}
}

func TestTextFormat(t *testing.T) {
	ds := loadOne(t, charConfig(), "t.jsonl", `{"text": "hi"}`+"\n\n"+`{"text": "A b", "label": 3}`+"\n")
	if len(ds.Examples) != 2 || ds.Files[0].Format != FormatText {
		t.Fatalf("got %d examples, format %q", len(ds.Examples), ds.Files[0].Format)
	}
	// 'h' = 104, 'i' = 105: ids are byte+4.
	checkExample(t, ds.Examples[0], []int32{1, 108, 109, 2}, []int32{-100, 108, 109, 2})
	checkExample(t, ds.Examples[1], []int32{1, 69, 36, 102, 2}, []int32{-100, 69, 36, 102, 2})
	if want := []Origin{{ds.Files[0].Path, 1}, {ds.Files[0].Path, 3}}; !reflect.DeepEqual(ds.Origins, want) {
		t.Errorf("origins %v, want %v", ds.Origins, want)
	}

	// No BOS when the tokenizer config does not add it, no EOS when absent.
	cfg := charConfig()
	cfg.AddBOS, cfg.EOS = false, -1
	ds = loadOne(t, cfg, "t.jsonl", `{"text": "hi"}`)
	checkExample(t, ds.Examples[0], []int32{108, 109}, []int32{108, 109})
}

func TestCompletionFormat(t *testing.T) {
	line := `{"prompt": "Q:", "completion": "A"}`
	ds := loadOne(t, charConfig(), "c.jsonl", line)
	if ds.Files[0].Format != FormatCompletion {
		t.Fatalf("format %q", ds.Files[0].Format)
	}
	// 'Q' = 81, ':' = 58, 'A' = 65.
	checkExample(t, ds.Examples[0], []int32{1, 85, 62, 69, 2}, []int32{-100, -100, -100, 69, 2})

	cfg := charConfig()
	cfg.TrainOnPrompt = true
	ds = loadOne(t, cfg, "c.jsonl", line)
	checkExample(t, ds.Examples[0], []int32{1, 85, 62, 69, 2}, []int32{-100, 85, 62, 69, 2})
}

func TestAlpacaFormat(t *testing.T) {
	ds := loadOne(t, charConfig(), "a.jsonl",
		`{"instruction": "Add.", "input": "1 1", "output": "2"}`+"\n"+
			`{"instruction": "Say hi.", "input": "", "output": "hi"}`+"\n"+
			`{"instruction": "Say yo.", "output": "yo"}`)
	withInput := "Below is an instruction that describes a task, paired with an input that provides further context. " +
		"Write a response that appropriately completes the request.\n\n### Instruction:\nAdd.\n\n### Input:\n1 1\n\n### Response:\n"
	noInput := func(instr string) string {
		return "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
			"### Instruction:\n" + instr + "\n\n### Response:\n"
	}
	cases := []struct{ prompt, out string }{{withInput, "2"}, {noInput("Say hi."), "hi"}, {noInput("Say yo."), "yo"}}
	for i, cs := range cases {
		p := c(cs.prompt)
		checkExample(t, ds.Examples[i], cat([]int32{1}, p, c(cs.out), []int32{2}), cat(ign(1+len(p)), c(cs.out), []int32{2}))
	}
}

// chatTemplate renders <s>, then each message as <role>content<|end|>, and
// <assistant> as the generation prompt: prefix-stable.
const chatTemplate = `{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}<|end|>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}`

// movingTemplate marks the last message, so that rendering turn by turn is
// not prefix-stable.
const movingTemplate = `{{ bos_token }}{% for m in messages %}{% if loop.last %}*{% endif %}<{{ m.role }}>{{ m.content }}<|end|>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}`

// llama2Template writes " </s>" after each answer: the space counts with
// the end-of-turn token.
const llama2Template = `{% for m in messages %}{% if m.role == 'system' %}{% elif m.role == 'user' %}{{ bos_token }}[INST] {{ m.content }} [/INST]{% else %} {{ m.content }} {{ eos_token }}{% endif %}{% endfor %}`

// llama3Template trims every content, as Llama 3's template does
// (message['content'] | trim); movingLlama3Template also marks the last
// message, so that the contents are searched in the final rendering.
const (
	llama3Template       = `{{ bos_token }}{% for m in messages %}{{ '<' + m.role + '>\n\n' + m.content | trim + '<|end|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<assistant>\n\n' }}{% endif %}`
	movingLlama3Template = `{{ bos_token }}{% for m in messages %}{% if loop.last %}*{% endif %}{{ '<' + m.role + '>\n\n' + m.content | trim + '<|end|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<assistant>\n\n' }}{% endif %}`
)

// toolTemplate renders tools, tool calls and tool results, in the manner
// of Qwen2.5's; movingToolTemplate also marks the last message.
const (
	toolTemplate       = `{{ bos_token }}{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>{% endif %}{% for m in messages %}{% if m.role == 'tool' %}<tool {{ m.name }} {{ m.tool_call_id }}>{% else %}<{{ m.role }}>{% endif %}{% if m.content %}{{ m.content }}{% endif %}{% for c in m.tool_calls %}<call>{{ c.function.name }}({{ c.function.arguments | tojson }})</call>{% endfor %}<|end|>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}`
	movingToolTemplate = `{{ bos_token }}{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>{% endif %}{% for m in messages %}{% if loop.last %}*{% endif %}{% if m.role == 'tool' %}<tool {{ m.name }} {{ m.tool_call_id }}>{% else %}<{{ m.role }}>{% endif %}{% if m.content %}{{ m.content }}{% endif %}{% for c in m.tool_calls %}<call>{{ c.function.name }}({{ c.function.arguments | tojson }})</call>{% endfor %}<|end|>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}`
)

func newTemplate(t *testing.T, src string) *chat.Template {
	t.Helper()
	tm, err := chat.New("test", "test", src, map[string]string{"bos_token": "<s>", "eos_token": "</s>"})
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestChatFormat(t *testing.T) {
	// The last answer, "assistant", must not be found in the header
	// "<assistant>" before it.
	conv := `{"messages": [{"role": "system", "content": ""}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "assistant"}]}`
	end := []int32{3}
	// Contents with leading and trailing whitespace, which Llama 3's
	// template trims: the answers count as rendered.
	spaced := `{"messages": [{"role": "user", "content": " hi\n"}, {"role": "assistant", "content": "yo\n"}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "\t assistant \n"}]}`
	for _, tc := range []struct {
		name, src string
		conv      string
		ids       []int32
		labels    []int32
	}{
		{"prefix-stable", chatTemplate, conv,
			cat([]int32{1}, c("<system><|end|><user>hi<|end|><assistant>yo<|end|><user>a<|end|><assistant>assistant<|end|>")),
			cat(ign(1+len(c("<system><|end|><user>hi<|end|><assistant>"))), c("yo"), end,
				ign(len(c("<user>a<|end|><assistant>"))), c("assistant"), end)},
		{"not prefix-stable", movingTemplate, conv,
			cat([]int32{1}, c("<system><|end|><user>hi<|end|><assistant>yo<|end|><user>a<|end|>*<assistant>assistant<|end|>")),
			cat(ign(1+len(c("<system><|end|><user>hi<|end|><assistant>"))), c("yo"), end,
				ign(len(c("<user>a<|end|>*<assistant>"))), c("assistant"), end)},
		{"trimmed (Llama 3)", llama3Template, spaced,
			cat([]int32{1}, c("<user>\n\nhi<|end|><assistant>\n\nyo<|end|><user>\n\na<|end|><assistant>\n\nassistant<|end|>")),
			cat(ign(1+len(c("<user>\n\nhi<|end|><assistant>\n\n"))), c("yo"), end,
				ign(len(c("<user>\n\na<|end|><assistant>\n\n"))), c("assistant"), end)},
		{"trimmed, not prefix-stable", movingLlama3Template, spaced,
			cat([]int32{1}, c("<user>\n\nhi<|end|><assistant>\n\nyo<|end|><user>\n\na<|end|>*<assistant>\n\nassistant<|end|>")),
			cat(ign(1+len(c("<user>\n\nhi<|end|><assistant>\n\n"))), c("yo"), end,
				ign(len(c("<user>\n\na<|end|>*<assistant>\n\n"))), c("assistant"), end)},
		{"space before eos", llama2Template, conv,
			cat([]int32{1}, c("[INST] hi [/INST] yo </s><s>[INST] a [/INST] assistant </s>")),
			cat(ign(1+len(c("[INST] hi [/INST] "))), c("yo </s>"), ign(len(c("<s>[INST] a [/INST] "))), c("assistant </s>"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := charConfig()
			cfg.Template = newTemplate(t, tc.src)
			ds := loadOne(t, cfg, "chat.jsonl", tc.conv)
			if ds.Files[0].Format != FormatChat {
				t.Fatalf("format %q", ds.Files[0].Format)
			}
			// The template's BOS only: nothing added twice, no EOS appended.
			checkExample(t, ds.Examples[0], tc.ids, tc.labels)
		})
	}

	// Tool calls, tool results and the line's tools reach the template
	// (transformers' apply_chat_template(messages, tools=...)); an
	// assistant turn counts to the end of its rendering, the calls
	// included, as TRL's {% generation %} blocks and mlx-lm count them.
	// An assistant turn with calls may have no content.
	tools := `{"tools": [{"type": "function", "function": {"name": "w"}}], "messages": [{"role": "user", "content": "hi"}, ` +
		`{"role": "assistant", "content": "ok", "tool_calls": [{"type": "function", "function": {"name": "w", "arguments": {"c": "P"}}}]}, ` +
		`{"role": "tool", "name": "w", "tool_call_id": "1", "content": "9"}, ` +
		`{"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "w", "arguments": "{\"c\": \"Q\"}"}}]}]}`
	for _, tc := range []struct{ name, src string }{{"tools", toolTemplate}, {"tools, not prefix-stable", movingToolTemplate}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := charConfig()
			cfg.Template = newTemplate(t, tc.src)
			ds := loadOne(t, cfg, "tools.jsonl", tools)
			mark := ""
			if tc.src == movingToolTemplate {
				mark = "*"
			}
			head := `<tools>{"type": "function", "function": {"name": "w"}}</tools><user>hi<|end|><assistant>`
			turn1 := `ok<call>w({"c": "P"})</call><|end|>`
			mid := `<tool w 1>9<|end|>` + mark + `<assistant>`
			turn2 := `<call>w("{\"c\": \"Q\"}")</call><|end|>`
			checkExample(t, ds.Examples[0], cat([]int32{1}, c(head+turn1+mid+turn2)),
				cat(ign(1+len(c(head))), c(turn1), ign(len(c(mid))), c(turn2)))
		})
	}
	for _, bad := range []struct{ line, want string }{
		{`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": {"function": {"name": "w"}}}]}`, `"tool_calls" is an object`},
		{`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"function": {}}]}]}`, `tool call 0: missing "function": {"name"}`},
		{`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": null}]}`, `"content" is null`},
		{`{"tools": {"name": "w"}, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"}]}`, `"tools" is an object`},
	} {
		cfg := charConfig()
		cfg.Template = newTemplate(t, toolTemplate)
		if _, err := Load(cfg, writeFile(t, "bad.jsonl", bad.line)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.line, err, bad.want)
		}
	}

	// With Chat, prompt/completion and alpaca become a user and an
	// assistant turn.
	cfg := charConfig()
	cfg.Template = newTemplate(t, chatTemplate)
	cfg.Chat = true
	ds := loadOne(t, cfg, "pc.jsonl", `{"prompt": "Q", "completion": "A"}`)
	checkExample(t, ds.Examples[0], cat([]int32{1}, c("<user>Q<|end|><assistant>A<|end|>")),
		cat(ign(1+len(c("<user>Q<|end|><assistant>"))), c("A"), end))
	ds = loadOne(t, cfg, "al.jsonl", `{"instruction": "Do", "input": "x", "output": "ok"}`)
	checkExample(t, ds.Examples[0], cat([]int32{1}, c("<user>Do\nx<|end|><assistant>ok<|end|>")),
		cat(ign(1+len(c("<user>Do\nx<|end|><assistant>"))), c("ok"), end))

	// TrainOnPrompt: everything but the leading BOS counts.
	cfg.Chat, cfg.TrainOnPrompt = false, true
	ds = loadOne(t, cfg, "chat.jsonl", `{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}`)
	ids := cat([]int32{1}, c("<user>hi<|end|><assistant>yo<|end|>"))
	checkExample(t, ds.Examples[0], ids, cat([]int32{-100}, ids[1:]))
}

func TestTxtBlocks(t *testing.T) {
	a := c("abcdefghij")
	for _, tc := range []struct {
		seqLen int
		blocks [][]int32 // ids; labels equal them but the leading BOS
	}{
		{4, [][]int32{cat([]int32{1}, a[:3]), a[3:7], cat(a[7:], []int32{2})}},
		{5, [][]int32{cat([]int32{1}, a[:4]), a[4:9], cat(a[9:], []int32{2})}},
		{11, [][]int32{cat([]int32{1}, a)}}, // the lone EOS left over has nothing to predict
	} {
		cfg := charConfig()
		cfg.SeqLen = tc.seqLen
		ds := loadOne(t, cfg, "raw.txt", "abcdefghij")
		if len(ds.Examples) != len(tc.blocks) {
			t.Fatalf("seq-len %d: %d blocks, want %d", tc.seqLen, len(ds.Examples), len(tc.blocks))
		}
		for i, want := range tc.blocks {
			labels := append([]int32(nil), want...)
			if i == 0 {
				labels[0] = IgnoreIndex
			}
			checkExample(t, ds.Examples[i], want, labels)
		}
		if ds.Truncated != 0 || ds.Files[0].Format != FormatText {
			t.Errorf("truncated %d, format %q", ds.Truncated, ds.Files[0].Format)
		}
	}
}

func TestTruncation(t *testing.T) {
	cfg := charConfig()
	cfg.SeqLen = 4
	ds := loadOne(t, cfg, "t.jsonl", `{"text": "abcdefgh"}`+"\n"+`{"text": "ab"}`+"\n")
	checkExample(t, ds.Examples[0], cat([]int32{1}, c("abc")), cat([]int32{-100}, c("abc")))
	checkExample(t, ds.Examples[1], cat([]int32{1}, c("ab"), []int32{2}), cat([]int32{-100}, c("ab"), []int32{2}))
	if ds.Truncated != 1 || ds.Dropped != 0 {
		t.Errorf("truncated %d dropped %d, want 1 and 0", ds.Truncated, ds.Dropped)
	}
	if got, want := ds.Summary(4), "2 examples from 1 file (text), 8 tokens, 6 counted; 1 truncated to --seq-len 4"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	// A prompt longer than SeqLen leaves nothing to learn: dropped.
	ds = loadOne(t, cfg, "c.jsonl", `{"prompt": "long prompt", "completion": "x"}`+"\n"+`{"prompt": "Q", "completion": "x"}`+"\n")
	if got, want := ds.Summary(4), "1 example from 1 file (completion), 4 tokens, 2 counted; 1 truncated to --seq-len 4; 1 dropped (nothing left to learn after truncation)"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if len(ds.Examples) != 1 || ds.Truncated != 1 || ds.Dropped != 1 || ds.Origins[0].Line != 2 {
		t.Errorf("examples %d truncated %d dropped %d origins %v, want 1, 1, 1, line 2", len(ds.Examples), ds.Truncated, ds.Dropped, ds.Origins)
	}
}

func TestForcedFormat(t *testing.T) {
	line := `{"text": "t", "prompt": "p", "completion": "c"}`
	ds := loadOne(t, charConfig(), "f.jsonl", line)
	if ds.Files[0].Format != FormatCompletion {
		t.Fatalf("detected %q, want completion", ds.Files[0].Format)
	}
	cfg := charConfig()
	cfg.Format = FormatText
	ds = loadOne(t, cfg, "f.jsonl", line)
	checkExample(t, ds.Examples[0], []int32{1, 120, 2}, []int32{-100, 120, 2})

	for in, want := range map[string]Format{"": FormatAuto, "auto": FormatAuto, "Text": FormatText,
		"completion": FormatCompletion, "prompt-completion": FormatCompletion, "alpaca": FormatAlpaca, "chat": FormatChat} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseFormat("sharegpt"); err == nil || !strings.Contains(err.Error(), `"sharegpt"`) {
		t.Errorf("ParseFormat(sharegpt): %v", err)
	}
}

func TestBadFiles(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                string // after "data: <path>"
	}{
		{"bad JSON", "d.jsonl", `{"text": "a"}` + "\n" + `{"text": "b"`, `:2: bad JSON`},
		{"bad JSON after blank lines", "d.jsonl", "\n\n" + `{"text": }`, `:3: bad JSON`},
		{"not an object", "d.jsonl", `["a"]`, `:1: not a JSON object`},
		{"unknown keys", "d.jsonl", `{"question": "q", "answer": "a"}`, `:1: cannot tell the format from the keys {"answer", "question"}`},
		{"mixed formats", "d.jsonl", `{"text": "a"}` + "\n" + `{"prompt": "p", "completion": "c"}`,
			`:2: missing "text" (the file is text ({"text"}), detected from line 1)`},
		{"mixed chat", "d.jsonl", `{"prompt": "p", "completion": "c"}` + "\n" + `{"messages": []}`, `:2: missing "prompt"`},
		{"missing completion", "d.jsonl", `{"prompt": "p", "completion": "c"}` + "\n" + `{"prompt": "p"}`, `:2: missing "completion"`},
		{"empty text", "d.jsonl", `{"text": ""}`, `:1: empty "text"`},
		{"blank text", "d.jsonl", `{"text": "a"}` + "\n" + `{"text": "  \n"}`, `:2: empty "text"`},
		{"null text", "d.jsonl", `{"text": null}`, `:1: "text" is null, want a string`},
		{"number text", "d.jsonl", `{"text": 5}`, `:1: "text" is a number, want a string`},
		{"alpaca missing output", "d.jsonl", `{"instruction": "i", "output": "o"}` + "\n" + `{"instruction": "i", "input": "x"}`, `:2: missing "output"`},
		{"alpaca input not a string", "d.jsonl", `{"instruction": "i", "input": 3, "output": "o"}`, `:1: "input" is a number, want a string`},
		{"messages not a list", "d.jsonl", `{"messages": "hi"}`, `:1: "messages" is a string, want a list`},
		{"empty messages", "d.jsonl", `{"messages": []}`, `:1: empty "messages"`},
		{"content a list", "d.jsonl", `{"messages": [{"role": "user", "content": ["x"]}]}`, `:1: message 0 (user): "content" is a list, want a string`},
		{"missing role", "d.jsonl", `{"messages": [{"content": "x"}]}`, `:1: message 0: missing "role"`},
		{"empty answer", "d.jsonl", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}]}`, `:1: message 1 (assistant): empty "content"`},
		{"system content missing", "d.jsonl", `{"messages": [{"role": "system"}, {"role": "assistant", "content": "a"}]}`, `:1: message 0 (system): missing "content"`},
		{"no assistant", "d.jsonl", `{"messages": [{"role": "user", "content": "x"}]}`, `:1: no assistant message to train on`},
		{"empty file", "d.jsonl", ``, `: empty file`},
		{"blank file", "d.jsonl", "\n  \n\n", `: empty file`},
		{"empty txt", "d.txt", " \n", `: empty file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.file, tc.content)
			cfg := charConfig()
			cfg.Template = newTemplate(t, chatTemplate)
			_, err := Load(cfg, p)
			if err == nil {
				t.Fatal("no error")
			}
			if want := "data: " + p + tc.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error\n got %q\nwant prefix %q", err, want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	p := writeFile(t, "d.jsonl", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}`)
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"seq-len above context", func(c *Config) { c.SeqLen, c.ContextLength = 1024, 512 }, "--seq-len 1024 exceeds the model's context length 512"},
		{"zero seq-len", func(c *Config) { c.SeqLen = 0 }, "--seq-len must be positive"},
		{"chat option without template", func(c *Config) { c.Chat = true }, "--chat needs a chat template, and the model has none"},
		{"chat data without template", func(c *Config) {}, p + ": chat data needs a chat template, and the model has none"},
		{"txt as chat", func(c *Config) { c.Format = FormatChat }, "a .txt file is raw text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := charConfig()
			tc.edit(&cfg)
			path := p
			if cfg.Format == FormatChat {
				path = writeFile(t, "r.txt", "raw")
			}
			_, err := Load(cfg, path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSeveralFiles(t *testing.T) {
	cfg := charConfig()
	cfg.Template = newTemplate(t, chatTemplate)
	a := writeFile(t, "a.jsonl", `{"text": "a"}`+"\n"+`{"text": "b"}`)
	b := writeFile(t, "b.jsonl", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}`)
	ds, err := Load(cfg, a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []FileInfo{{a, FormatText, 2}, {b, FormatChat, 1}}
	if !reflect.DeepEqual(ds.Files, want) || len(ds.Examples) != 3 || ds.Origins[2] != (Origin{b, 1}) {
		t.Errorf("files %v origins %v", ds.Files, ds.Origins)
	}
	tokens, counted := ds.Tokens()
	// a: <s> a </s> (2 counted), b likewise, chat: <s><user>x<|end|><assistant>y<|end|> (y and <|end|>).
	if wantTok := 3 + 3 + 1 + len("<user>x") + 1 + len("<assistant>y") + 1; tokens != wantTok || counted != 6 {
		t.Errorf("tokens %d counted %d, want %d and 6", tokens, counted, wantTok)
	}
}

func TestCountedTargets(t *testing.T) {
	// Without BOS the first token's label counts but no position predicts
	// it: Tokens leaves it out, as the batches do; a one-token example has
	// no target at all and is dropped.
	cfg := charConfig()
	cfg.AddBOS, cfg.EOS, cfg.SeqLen = false, -1, 1
	ds := loadOne(t, cfg, "t.jsonl", `{"text": "ab"}`+"\n"+`{"text": "c"}`)
	if len(ds.Examples) != 0 || ds.Dropped != 2 {
		t.Errorf("seq-len 1: %d examples, %d dropped; want 0 and 2", len(ds.Examples), ds.Dropped)
	}
	cfg.SeqLen = 8
	ds = loadOne(t, cfg, "t.jsonl", `{"text": "ab"}`+"\n"+`{"text": "cde"}`)
	b, err := NewBatcher(ds.Examples, BatchOptions{BatchSize: 2, SeqLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	if tokens, counted := ds.Tokens(); tokens != 5 || counted != 3 || b.Batch(0, 0).Tokens != 3 {
		t.Errorf("tokens %d counted %d batch %d; want 5, 3, 3", tokens, counted, b.Batch(0, 0).Tokens)
	}
}
