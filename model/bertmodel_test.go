package model_test

import (
	"strings"
	"testing"

	"github.com/loftml/loft/format/safetensors"
)

// asBertModel returns a tensor edit that turns bert-tiny into what
// BertModel.save_pretrained writes (all-MiniLM-L6-v2's layout): the
// encoder's tensors without the "bert." prefix, no masked-LM head, a
// pooler and a position_ids buffer; LayerNorm parameters renamed by ln.
func asBertModel(t *testing.T, ln *strings.Replacer) func([]safetensors.Tensor) []safetensors.Tensor {
	return func(ts []safetensors.Tensor) []safetensors.Tensor {
		var out []safetensors.Tensor
		for _, x := range ts {
			n, ok := strings.CutPrefix(x.Name, "bert.")
			if !ok {
				if !strings.HasPrefix(x.Name, "cls.") {
					t.Fatalf("unexpected tensor %s in bert-tiny", x.Name)
				}
				continue
			}
			x.Name = ln.Replace(n)
			out = append(out, x)
		}
		w, _ := safetensors.FromFloat32("pooler.dense.weight", safetensors.F32, []int{32, 32}, make([]float32, 32*32))
		b, _ := safetensors.FromFloat32("pooler.dense.bias", safetensors.F32, []int{32}, make([]float32, 32))
		pos := safetensors.Tensor{Name: "embeddings.position_ids", DType: safetensors.I64, Shape: []int{1, 32}, Data: make([]byte, 8*32)}
		return append(out, w, b, pos)
	}
}

// TestBERTModelCheckpoint loads bert-tiny saved as BertModel (names
// without "bert.", no cls.* head, with a pooler), also with gamma/beta
// LayerNorm names: it encodes the fixture batch exactly as the
// BertForMaskedLM folder does, Forward reports the missing masked-LM head,
// LoRA is offered no head module and the parameters are the encoder's.
// A checkpoint mixing both namings is refused, naming a tensor of each.
func TestBERTModelCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		ln   *strings.Replacer
	}{
		{"weight/bias", strings.NewReplacer()},
		{"gamma/beta", strings.NewReplacer(".LayerNorm.weight", ".LayerNorm.gamma", ".LayerNorm.bias", ".LayerNorm.beta")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := load(t, mutatedFixture(t, "bert-tiny", nil, asBertModel(t, tc.ln)))
			if b.Arch != "bert" || b.Encoder == nil || b.LM != nil {
				t.Fatalf("arch %q, encoder %v", b.Arch, b.Encoder)
			}
			encoderOnly(t, b, "from the BertModel checkpoint")
		})
	}
	mixed := mutatedFixture(t, "bert-tiny", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
		for i := range ts {
			if ts[i].Name == "bert.encoder.layer.1.output.dense.weight" {
				ts[i].Name = "encoder.layer.1.output.dense.weight"
			}
		}
		return ts
	})
	_, err := loadErr(mixed)
	if err == nil || !strings.Contains(err.Error(), "mix") || !strings.Contains(err.Error(), "(encoder.layer.1.output.dense.weight)") || !strings.Contains(err.Error(), mixed) {
		t.Errorf("mixed names: %v", err)
	}
}
