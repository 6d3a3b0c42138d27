package gguf_test

import (
	"bytes"
	"math"
	"path/filepath"
	"testing"

	"github.com/loftml/loft/format/gguf"
)

// ggmlBlocks opens testdata/ggml/blocks.gguf, made by tools/ggmlref with
// a prebuilt ggml: tensor "input" holds rows of 512 floats (their
// descriptions in ggmlref.rows: zeros, negative only, outliers, f16
// subnormal scales, large values, ...); for each type, tensor "Q4_K" etc.
// holds ggml_quantize_chunk's blocks of those rows and "Q4_K.dequant"
// ggml's dequantize_row_q4_K of those blocks.
func ggmlBlocks(t *testing.T) (*gguf.File, []string) {
	t.Helper()
	f, err := gguf.Open(filepath.Join("testdata", "ggml", "blocks.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	rows, err := f.StringArray("ggmlref.rows")
	if err != nil {
		t.Fatal(err)
	}
	return f, rows
}

// TestDequantizeMatchesGGML feeds blocks that ggml itself quantised to
// Dequantize and requires ggml's own dequantisation, bit for bit.
func TestDequantizeMatchesGGML(t *testing.T) {
	f, rows := ggmlBlocks(t)
	in, err := f.Float32("input")
	if err != nil {
		t.Fatal(err)
	}
	cols := len(in) / len(rows)
	for _, typ := range []gguf.Type{gguf.Q8_0, gguf.Q4_0, gguf.Q4_1, gguf.Q5_0, gguf.Q5_1, gguf.Q4_K, gguf.Q5_K, gguf.Q6_K} {
		t.Run(typ.String(), func(t *testing.T) {
			raw, ti, err := f.Raw(typ.String())
			if err != nil {
				t.Fatal(err)
			}
			if ti.Type != typ {
				t.Fatalf("fixture tensor %s holds %s", typ, ti.Type)
			}
			want, err := f.Float32(typ.String() + ".dequant")
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, len(want))
			if err := gguf.Dequantize(typ, raw, got); err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					if bad < 5 {
						t.Errorf("row %d (%s) col %d: %g (%#08x), ggml %g (%#08x); input %g",
							i/cols, rows[i/cols], i%cols, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]), in[i])
					}
					bad++
				}
			}
			if bad > 0 {
				t.Fatalf("%d of %d values differ from ggml's", bad, len(want))
			}
			// Guard: the blocks are a real quantisation of the input,
			// neither lossless nor mostly zero (the outlier row rounds
			// to zeros at low bits, as it should).
			var changed, nonzero int
			for i := range in {
				if want[i] != in[i] {
					changed++
				}
				if want[i] != 0 {
					nonzero++
				}
			}
			if changed < len(in)/2 || nonzero < len(in)/2 {
				t.Fatalf("fixture looks wrong: %d of %d values changed, %d nonzero", changed, len(in), nonzero)
			}
		})
	}
}

// TestQuantizeQ8_0MatchesGGML: the writer's Q8_0 quantiser (LoRA merge
// and GGUF export) makes the same bytes as ggml's quantize_row_q8_0_ref.
func TestQuantizeQ8_0MatchesGGML(t *testing.T) {
	f, rows := ggmlBlocks(t)
	in, err := f.Float32("input")
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := f.Raw("Q8_0")
	if err != nil {
		t.Fatal(err)
	}
	got, err := gguf.QuantizeQ8_0(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		perRow := len(got) / len(rows)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("byte %d (row %s, block %d, offset %d): %#x, ggml %#x", i, rows[i/perRow], i%perRow/34, i%34, got[i], want[i])
			}
		}
		t.Fatalf("%d bytes, ggml %d", len(got), len(want))
	}
}
