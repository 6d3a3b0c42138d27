package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/model"
)

func TestInfo(t *testing.T) {
	stories := testutil.SharedDir(t, "models", "stories260K", "hf")
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"info", "--model", stories}, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	// stories260K: 5 layers, 8 heads, 4 KV heads, vocab 512.
	for _, want := range []string{"architecture       llama", "layers             5", "hidden size        64",
		"heads              8", "kv heads           4", "vocab size         512", "context length     512",
		"dtype              F32", "linear modules (36):", "  model.layers.0.self_attn.q_proj\n", "  model.layers.4.mlp.down_proj\n", "  lm_head  (the output head: not a --target)\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// Parameters by hand: embed 512·64; per layer 2 norms (2·64), q and o
	// (64·64 each), k and v (32·64 each), gate/up/down (3·172·64); final
	// norm 64; tied head not counted again.
	params := 512*64 + 5*(2*64+2*64*64+2*32*64+3*172*64) + 64
	if !strings.Contains(s, "parameters         "+itoa(params)+" ") {
		t.Errorf("output lacks parameters %d:\n%s", params, s)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestInfoJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"info", "--model", "../../testdata/ref/gpt2-tiny", "--json"}, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var in model.Info
	if err := json.Unmarshal(out.Bytes(), &in); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	// gpt2-tiny: wte 128·48 + wpe 32·48 + 2 layers of (4·48 norms + c_attn
	// 48·144+144 + c_proj 48·48+48 + c_fc 48·192+192 + c_proj 192·48+48) + ln_f 2·48.
	params := 128*48 + 32*48 + 2*(4*48+48*144+144+48*48+48+48*192+192+192*48+48) + 2*48
	if in.Arch != "gpt2" || in.Layers != 2 || in.Hidden != 48 || in.Heads != 4 || in.Vocab != 128 || in.ContextLength != 32 || in.Params != params || in.DType != "F32" {
		t.Fatalf("info %+v (want params %d)", in, params)
	}
	want := []string{"transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj"}
	for i, w := range want {
		if in.LinearModules[i] != w {
			t.Fatalf("module %d: %q, want %q", i, in.LinearModules[i], w)
		}
	}
}

// TestInfoFixtures checks the architecture, parameter count (by hand,
// tied heads counted once, as transformers' num_parameters does) and the
// PEFT names of the first and last linear modules of the tiny fixtures.
func TestInfoFixtures(t *testing.T) {
	for _, tc := range []struct {
		dir, arch   string
		params      int
		modules     int
		first, last string
	}{
		// llama-tiny: vocab 128, hidden 64, 4 heads of 16, 2 KV heads, MLP
		// 96, untied: embed + 2·(2 norms + q, o 64·64 + k, v 32·64 + 3·64·96)
		// + norm + lm_head.
		{"llama-tiny", "llama", 128*64 + 2*(2*64+2*64*64+2*32*64+3*64*96) + 64 + 128*64, 2*7 + 1,
			"model.layers.0.self_attn.q_proj", "lm_head"},
		// qwen3-tiny: hidden 32, 4 heads of 16 (head_dim is not 32/4), 2 KV
		// heads, MLP 64, untied, q/k norms of 16.
		{"qwen3-tiny", "qwen3", 128*32 + 2*(2*32+32*64+2*32*32+64*32+2*16+3*32*64) + 32 + 128*32, 2*7 + 1,
			"model.layers.0.self_attn.q_proj", "lm_head"},
		// bert-tiny: hidden 32, MLP 64, 32 positions, 2 token types;
		// embeddings + LN, per layer q/k/v/o with biases + 2 LN + MLP, then
		// the MLM head (transform dense + LN, decoder bias; its weight is
		// the tied word embedding).
		{"bert-tiny", "bert", (128+32+2)*32 + 2*32 + 2*(4*(32*32+32)+2*2*32+32*64+64+64*32+32) + 32*32 + 32 + 2*32 + 128, 2*6 + 2,
			"bert.encoder.layer.0.attention.self.query", "cls.predictions.decoder"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			code, out, errOut := run(t, "info", "--model", "../../testdata/ref/"+tc.dir, "--json")
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var in model.Info
			if err := json.Unmarshal([]byte(out), &in); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if in.Arch != tc.arch || in.Params != tc.params || in.Format != "safetensors" || in.DType != "F32" {
				t.Errorf("arch %q, params %d, format %q, dtype %q; want %q, %d, safetensors, F32", in.Arch, in.Params, in.Format, in.DType, tc.arch, tc.params)
			}
			m := in.LinearModules
			if len(m) != tc.modules || m[0] != tc.first || m[len(m)-1] != tc.last {
				t.Errorf("linear modules %q; want %d from %q to %q", m, tc.modules, tc.first, tc.last)
			}
		})
	}
}

// TestInfoGGUF describes the stories260K Q8_0 GGUF: format gguf, the mixed
// storage types, and the same shapes and module names as the HF folder.
func TestInfoGGUF(t *testing.T) {
	dir := testutil.SharedDir(t, "models", "stories260K")
	_, hfOut, _ := run(t, "info", "--model", dir+"/hf", "--json")
	code, out, errOut := run(t, "info", "--model", dir+"/gguf/stories260K-q8_0.gguf", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var hf, gg model.Info
	if err := json.Unmarshal([]byte(hfOut), &hf); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &gg); err != nil {
		t.Fatal(err)
	}
	if gg.Format != "gguf" || gg.DType != "F32+Q8_0" {
		t.Errorf("format %q, dtype %q; want gguf, F32+Q8_0", gg.Format, gg.DType)
	}
	if gg.Layers != hf.Layers || gg.Hidden != hf.Hidden || gg.KVHeads != hf.KVHeads || gg.Vocab != hf.Vocab ||
		gg.ContextLength != hf.ContextLength || strings.Join(gg.LinearModules, ",") != strings.Join(hf.LinearModules, ",") {
		t.Errorf("gguf info %+v\ndiffers from the HF folder's %+v", gg, hf)
	}
}

func TestInfoErrors(t *testing.T) {
	code, out, errOut := run(t, "info")
	if code != ExitUsage || out != "" || !strings.Contains(errOut, "--model") {
		t.Errorf("no --model: code %d (want %d), stdout %q, stderr %q", code, ExitUsage, out, errOut)
	}
	missing := "../../testdata/ref/nope"
	code, out, errOut = run(t, "info", "--model", missing)
	if code != ExitError || out != "" || !strings.Contains(errOut, missing) {
		t.Errorf("missing folder: code %d (want %d), stdout %q, stderr %q", code, ExitError, out, errOut)
	}
	code, _, errOut = run(t, "info", "--model", "../../testdata/ref/llama-tiny", "extra")
	if code != ExitUsage {
		t.Errorf("an extra argument: code %d (want %d), stderr %q", code, ExitUsage, errOut)
	}
}
