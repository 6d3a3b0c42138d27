package chat

import (
	"encoding/json"
	"testing"

	"github.com/loftml/loft/internal/testutil"
)

// The expected strings below were written by hand, reading the Qwen3 chat
// template in ../shared/models/qwen3-tokenizer/tokenizer_config.json step by
// step (comments say which branch produces each piece).

func qwen3(t testing.TB) (*Config, *Template) {
	t.Helper()
	dir := testutil.SharedDir(t, "models", "qwen3-tokenizer")
	cfg, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := cfg.Template("")
	if err != nil {
		t.Fatal(err)
	}
	return cfg, tmpl
}

func TestQwen3Config(t *testing.T) {
	cfg, _ := qwen3(t)
	if got := cfg.EOSToken(); got != "<|im_end|>" {
		t.Errorf("eos_token = %q, want <|im_end|>", got)
	}
	if got := cfg.PADToken(); got != "<|endoftext|>" {
		t.Errorf("pad_token = %q, want <|endoftext|>", got)
	}
	if _, set := cfg.Special["bos_token"]; set {
		t.Errorf("bos_token is null in the config but set to %q", cfg.Special["bos_token"])
	}
	if cfg.AddBOSToken == nil || *cfg.AddBOSToken {
		t.Errorf("add_bos_token = %v, want false", cfg.AddBOSToken)
	}
	if cfg.AddEOSToken != nil {
		t.Errorf("add_eos_token = %v, want unset", *cfg.AddEOSToken)
	}
	if cfg.ModelMaxLength != 131072 {
		t.Errorf("model_max_length = %d, want 131072", cfg.ModelMaxLength)
	}
	if len(cfg.AdditionalSpecialTokens) != 13 || cfg.AdditionalSpecialTokens[0] != "<|im_start|>" {
		t.Errorf("additional_special_tokens = %q", cfg.AdditionalSpecialTokens)
	}
}

func TestQwen3Render(t *testing.T) {
	_, tmpl := qwen3(t)
	off, on := false, true
	think := "<think>\nAdd them.\n</think>\n\n2+2 is 4."
	tests := []struct {
		name string
		msgs []Message
		opts RenderOptions
		want string
	}{{
		// (a) no tools: the system message is written first; in the loop it
		// is loop.first and skipped; the user turn; the generation prompt
		// with enable_thinking undefined adds nothing more.
		name: "system+user",
		msgs: []Message{{Role: "system", Content: "You are a helpful assistant."}, {Role: "user", Content: "Hello!"}},
		opts: RenderOptions{AddGenerationPrompt: true},
		want: "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
			"<|im_start|>user\nHello!<|im_end|>\n" +
			"<|im_start|>assistant\n",
	}, {
		// (b) last_query_index is 2; the assistant turn (index 1) is not
		// after it, so its reasoning is split off and dropped.
		name: "multi-turn drops earlier reasoning",
		msgs: []Message{{Role: "user", Content: "What is 2+2?"}, {Role: "assistant", Content: think}, {Role: "user", Content: "And 3+3?"}},
		opts: RenderOptions{AddGenerationPrompt: true},
		want: "<|im_start|>user\nWhat is 2+2?<|im_end|>\n" +
			"<|im_start|>assistant\n2+2 is 4.<|im_end|>\n" +
			"<|im_start|>user\nAnd 3+3?<|im_end|>\n" +
			"<|im_start|>assistant\n",
	}, {
		// (c) enable_thinking is defined and false: an empty think block
		// follows the generation prompt.
		name: "enable_thinking=false",
		msgs: []Message{{Role: "user", Content: "Hi"}},
		opts: RenderOptions{AddGenerationPrompt: true, EnableThinking: &off},
		want: "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
	}, {
		// enable_thinking true is "defined and not false": nothing added.
		name: "enable_thinking=true",
		msgs: []Message{{Role: "user", Content: "Hi"}},
		opts: RenderOptions{AddGenerationPrompt: true, EnableThinking: &on},
		want: "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
	}, {
		// (d) the assistant turn is after the last query and loop.last: the
		// reasoning is kept, stripped of newlines, in a think block.
		name: "final assistant with think",
		msgs: []Message{{Role: "user", Content: "What is 2+2?"}, {Role: "assistant", Content: think}},
		want: "<|im_start|>user\nWhat is 2+2?<|im_end|>\n" +
			"<|im_start|>assistant\n<think>\nAdd them.\n</think>\n\n2+2 is 4.<|im_end|>\n",
	}, {
		// reasoning_content is defined: used as is, content untouched.
		name: "reasoning_content field",
		msgs: []Message{{Role: "user", Content: "What is 2+2?"}, {Role: "assistant", Content: "2+2 is 4.", ReasoningContent: "\nAdd them.\n"}},
		want: "<|im_start|>user\nWhat is 2+2?<|im_end|>\n" +
			"<|im_start|>assistant\n<think>\nAdd them.\n</think>\n\n2+2 is 4.<|im_end|>\n",
	}, {
		// loop.last without any reasoning still gets an (empty) think block.
		name: "final assistant without think",
		msgs: []Message{{Role: "user", Content: "What is 2+2?"}, {Role: "assistant", Content: "4"}},
		want: "<|im_start|>user\nWhat is 2+2?<|im_end|>\n" +
			"<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n",
	}, {
		// A later system message is not loop.first: written like a user turn.
		name: "second system message",
		msgs: []Message{{Role: "user", Content: "a"}, {Role: "system", Content: "b"}},
		want: "<|im_start|>user\na<|im_end|>\n<|im_start|>system\nb<|im_end|>\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tmpl.Render(tc.msgs, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("render mismatch\n got: %q\nwant: %q", got, tc.want)
			}
		})
	}
}

func TestQwen3Tools(t *testing.T) {
	_, tmpl := qwen3(t)
	tool := json.RawMessage(`{"type": "function", "function": {"name": "get_weather", "description": "Get weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}`)
	msgs := []Message{
		{Role: "system", Content: "Sys"},
		{Role: "user", Content: "Weather in Paris?"},
		{Role: "assistant", ToolCalls: []ToolCall{{Type: "function", Function: FunctionCall{Name: "get_weather", Arguments: json.RawMessage(`{"city":"Paris"}`)}}}},
		{Role: "tool", Content: `{"temp": 20}`},
	}
	got, err := tmpl.Render(msgs, RenderOptions{AddGenerationPrompt: true, Tools: []json.RawMessage{tool}})
	if err != nil {
		t.Fatal(err)
	}
	// tools branch: system header, system content + "\n\n", the tools
	// preamble, each tool as tojson (Python separators, key order kept),
	// then the tool-call instructions. The assistant turn (index 2) is
	// after last_query_index 1 but neither last nor reasoning: plain
	// header + empty content, no "\n" before the first call since content
	// is empty, arguments is a mapping so it goes through tojson. The tool
	// result opens a user turn (previous role is not tool) and closes it
	// (loop.last).
	want := "<|im_start|>system\nSys\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
		"You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" +
		`{"type": "function", "function": {"name": "get_weather", "description": "Get weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}` +
		"\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n" +
		"<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" +
		"<|im_start|>user\nWeather in Paris?<|im_end|>\n" +
		"<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n" +
		"<|im_start|>user\n<tool_response>\n{\"temp\": 20}\n</tool_response><|im_end|>\n" +
		"<|im_start|>assistant\n"
	if got != want {
		t.Errorf("render mismatch\n got: %q\nwant: %q", got, want)
	}

	// OpenAI-style arguments (a JSON string) are printed as is ("is string").
	msgs[2].ToolCalls[0].Function.Arguments = json.RawMessage(`"{\"city\":\"Paris\"}"`)
	got, err = tmpl.Render(msgs[1:3], RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want = "<|im_start|>user\nWeather in Paris?<|im_end|>\n" +
		"<|im_start|>assistant\n<think>\n\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n</tool_call><|im_end|>\n"
	if got != want {
		t.Errorf("string arguments\n got: %q\nwant: %q", got, want)
	}
}

func TestQwen3Spans(t *testing.T) {
	_, tmpl := qwen3(t)
	msgs := []Message{
		{Role: "user", Content: "What is 2+2?"},
		{Role: "assistant", Content: "<think>\nAdd them.\n</think>\n\n4"},
		{Role: "user", Content: "And 3+3?"},
		{Role: "assistant", Content: "<think>\nAgain.\n</think>\n\n6"},
	}
	got, err := tmpl.Render(msgs, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stable, at, err := tmpl.PrefixStable(msgs, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The first assistant turn is rendered with its reasoning while it is
	// the last message, and without once a user turn follows.
	if stable || at != 2 {
		t.Errorf("PrefixStable = %v at %d, want false at 2", stable, at)
	}
	spans, err := AssistantSpans(got, msgs)
	if err != nil {
		t.Fatal(err)
	}
	// The first turn lost its reasoning: its span is "4". The last one
	// keeps it: its span is its whole content.
	want := []string{"4", "<think>\nAgain.\n</think>\n\n6"}
	if len(spans) != len(want) {
		t.Fatalf("got %d spans, want %d", len(spans), len(want))
	}
	for i, s := range spans {
		if got[s.Start:s.End] != want[i] {
			t.Errorf("span %d = %q, want %q", i, got[s.Start:s.End], want[i])
		}
	}
}
