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
	// stories260K: 5 layers, 8 heads, 4 KV heads, vocab 512; parameters
	// 512·64 + 5·(2·64 + 64·64·2 + 2·32·64 + 3·172·64) + 64 = 237,952... computed below.
	for _, want := range []string{"architecture       llama", "layers             5", "hidden size        64",
		"heads              8", "kv heads           4", "vocab size         512", "context length     512",
		"dtype              F32", "linear modules (36):", "  model.layers.0.self_attn.q_proj\n", "  model.layers.4.mlp.down_proj\n", "  lm_head\n"} {
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

func TestInfoErrors(t *testing.T) {
	for _, args := range [][]string{{"info"}, {"info", "--model", "../../testdata/ref/nope"}} {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), args, &out, &errb); code == ExitOK {
			t.Fatalf("%v: exit 0", args)
		}
	}
}
