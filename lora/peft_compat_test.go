package lora_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/lora"
	"github.com/loftml/loft/model"
)

// TestLoadPEFTVariants: settings PEFT loads as plain LoRA on the unchanged
// base are read so: each gives the logits of the fixture's own config.
//   - init_lora_weights "orthogonal" sets A and B (LoraLayer.orthogonal_init)
//     and leaves the base weight as it is;
//   - bias "all" and "lora_only" save the trainable biases next to A and B
//     (get_peft_model_state_dict): for a file that holds none the adapter
//     is the same as with "none";
//   - keys of an adapter made on the bare encoder or decoder (AutoModel:
//     BertModel, LlamaModel, GPT2Model) lack the head model's wrapper
//     prefix ("bert.", "model.", "transformer.").
func TestLoadPEFTVariants(t *testing.T) {
	const B, T = 1, 6
	for _, c := range []struct {
		name, model, src string
		edit             func(cfg map[string]any, ts []safetensors.Tensor) []safetensors.Tensor
	}{
		{"orthogonal", "qwen2-tiny", "../testdata/ref/lora-qwen2-tiny/qv/adapter_final", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["init_lora_weights"] = "orthogonal"
			return ts
		}},
		{"bias all", "qwen2-tiny", "../testdata/ref/lora-qwen2-tiny/qv/adapter_final", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["bias"] = "all"
			return ts
		}},
		{"bias lora_only", "qwen2-tiny", "../testdata/ref/lora-qwen2-tiny/qv/adapter_final", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["bias"] = "lora_only"
			return ts
		}},
		{"LlamaModel keys", "qwen2-tiny", "../testdata/ref/lora-qwen2-tiny/qv/adapter_final", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				ts[i].Name = strings.Replace(ts[i].Name, "base_model.model.model.", "base_model.model.", 1)
			}
			return ts
		}},
		{"GPT2Model keys", "gpt2-tiny", "../testdata/ref/lora-gpt2-tiny/c_attn/adapter_final", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				ts[i].Name = strings.Replace(ts[i].Name, "base_model.model.transformer.", "base_model.model.", 1)
			}
			return ts
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ref := load(t, c.model)
			ids := testIDs(ref.VocabSize(), B*T)
			base := logits(t, ref, ids, B, T)
			if _, err := lora.Load(c.src, ref.Slots()); err != nil {
				t.Fatal(err)
			}
			want := logits(t, ref, ids, B, T)
			m := load(t, c.model)
			if _, err := lora.Load(writeAdapter(t, c.src, c.edit), m.Slots()); err != nil {
				t.Fatal(err)
			}
			got := logits(t, m, ids, B, T)
			if d := maxDiff(got, want); d != 0 || maxDiff(want, base) == 0 {
				t.Fatalf("logits differ from the fixture's by %.3g (adapter moves them by %.3g)", d, maxDiff(want, base))
			}
		})
	}
}

// TestLoadPatternOnPEFTNames: rank_pattern and alpha_pattern keys match
// the module names PEFT saw (get_pattern_key on the model's own module
// key), so a key anchored at the start of a LlamaModel name applies.
func TestLoadPatternOnPEFTNames(t *testing.T) {
	dir := writeAdapter(t, "../testdata/ref/lora-qwen2-tiny/qv/adapter_final", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
		c["alpha_pattern"] = map[string]any{`^layers\.0\.self_attn\.v_proj`: 32}
		for i := range ts {
			ts[i].Name = strings.Replace(ts[i].Name, "base_model.model.model.", "base_model.model.", 1)
		}
		return ts
	})
	ad, err := lora.Load(dir, load(t, "qwen2-tiny").Slots())
	if err != nil {
		t.Fatal(err)
	}
	checkScales(t, ad, 2, map[string]float32{"model.layers.0.self_attn.v_proj": 4})
}

// TestLoadBertModelKeys: an adapter PEFT made on BertModel (keys without
// "bert.") applies to the same modules as one made on BertForMaskedLM.
func TestLoadBertModelKeys(t *testing.T) {
	const B, T = 1, 6
	encode := func(b *model.Bundle) []float32 {
		t.Helper()
		ids := testIDs(b.Encoder.VocabSize(), B*T)
		out, err := b.Encoder.Encode(ids, make([]int32, B*T), nil, B, T)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Clone(out)
	}
	loadBert := func() *model.Bundle {
		t.Helper()
		b, err := model.Load("../testdata/ref/bert-tiny", model.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := loadBert()
	ad, err := lora.Apply(b.Slots, lora.Config{R: 2, Alpha: 4, Targets: []string{"query", "value"}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	randomizeB(ad, 5)
	want := encode(b)
	dir := t.TempDir()
	if err := ad.Save(dir, "bert-tiny"); err != nil {
		t.Fatal(err)
	}
	bare := writeAdapter(t, dir, func(_ map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
		for i := range ts {
			ts[i].Name = strings.Replace(ts[i].Name, "base_model.model.bert.", "base_model.model.", 1)
		}
		return ts
	})
	b2 := loadBert()
	if _, err := lora.Load(bare, b2.Slots); err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(encode(b2), want); d != 0 {
		t.Fatalf("encoder output differs by %.3g", d)
	}
}
