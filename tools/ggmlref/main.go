// Command ggmlref regenerates the fixtures that test loft's GGUF
// dequantisers and quantised-model loading against ggml itself: blocks
// quantised and dequantised by ggml (format/gguf/testdata/ggml/blocks.gguf)
// and a tiny llama quantised to Q4_K_M by llama.cpp's llama_model_quantize,
// with ggml's dequantisation hashes and llama.cpp's logits
// (testdata/ggml/llama-q4km). It needs a prebuilt llama.cpp and a C
// compiler; see README.md. Run from the repository root:
//
//	go run ./tools/ggmlref -lib /tmp/ggml/package/bins/linux-x64
//
// The Go side makes the inputs (fixed seeds) and writes the fixtures;
// csrc/ggmlref.c calls ggml and llama.cpp. Nothing here uses cgo.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/loftml/loft/format/gguf"
)

func main() {
	lib := flag.String("lib", "", "folder with libggml-base.so, libggml*.so, libllama*.so and the libggml-cpu-*.so backends")
	cc := flag.String("cc", "cc", "C compiler")
	out := flag.String("out", ".", "repository root to write the fixtures under")
	flag.Parse()
	if err := run(*lib, *cc, *out); err != nil {
		fmt.Fprintln(os.Stderr, "ggmlref:", err)
		os.Exit(1)
	}
}

func run(lib, cc, out string) error {
	if lib == "" {
		return errors.New("-lib is required")
	}
	lib, err := filepath.Abs(lib) // the helper's rpath and backend folder
	if err != nil {
		return err
	}
	src := filepath.Join("tools", "ggmlref", "csrc", "ggmlref.c")
	if _, err = os.Stat(src); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	tmp, err := os.MkdirTemp("", "ggmlref")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	h := helper{bin: filepath.Join(tmp, "ggmlref"), lib: lib}
	if err := h.build(cc, src); err != nil {
		return err
	}
	commit, err := h.output("commit")
	if err != nil {
		return err
	}
	commit = string(bytes.TrimSpace([]byte(commit)))
	if err := writeBlocks(h, tmp, commit, filepath.Join(out, "format", "gguf", "testdata", "ggml", "blocks.gguf")); err != nil {
		return err
	}
	return writeModel(h, tmp, commit, filepath.Join(out, "testdata", "ggml", "llama-q4km"))
}

// helper runs the compiled csrc/ggmlref.c.
type helper struct{ bin, lib string }

func (h helper) build(cc, src string) error {
	libs, err := filepath.Glob(filepath.Join(h.lib, "libllama*.so"))
	if err != nil || len(libs) == 0 {
		return fmt.Errorf("no libllama*.so in %s", h.lib)
	}
	ggml, _ := filepath.Glob(filepath.Join(h.lib, "libggml.*so"))
	args := []string{"-std=c11", "-O1", "-Wall", "-o", h.bin, src, filepath.Join(h.lib, "libggml-base.so")}
	args = append(append(args, ggml...), libs...)
	args = append(args, "-Wl,-rpath,"+h.lib)
	cmd := exec.Command(cc, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %v: %w", cc, args, err)
	}
	return nil
}

func (h helper) output(args ...string) (string, error) {
	cmd := exec.Command(h.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("ggmlref %v: %w\n%s", args, err, stderr.Bytes())
	}
	return string(b), nil
}

// blockCols is the row length of the block fixture: two K-quant
// super-blocks, sixteen blocks of the 32-element types.
const blockCols = 512

// blockRows are the block fixture's inputs, one row each, chosen to reach
// the corners of ggml's quantisers: zeros (d = 0), one sign only (Q4_1's
// and the K-quants' minimums), outliers (one value sets the scale), scales
// that are f16 subnormals, large magnitudes, and per-block magnitudes
// that differ by orders (the K-quants' 6-bit sub-block scales), and values
// exactly halfway between two Q8_0 steps (roundf: away from zero).
var blockRows = []struct {
	name string
	gen  func(r *rand.Rand, i int) float64
}{
	{"normal", func(r *rand.Rand, i int) float64 { return r.NormFloat64() }},
	{"zeros", func(r *rand.Rand, i int) float64 { return 0 }},
	{"negative only", func(r *rand.Rand, i int) float64 { return -math.Abs(r.NormFloat64())*0.5 - 0.01 }},
	{"outliers", func(r *rand.Rand, i int) float64 {
		if i%97 == 13 {
			return float64(1-2*(i%2)) * (50 + 250*r.Float64())
		}
		return r.NormFloat64() * 0.02
	}},
	{"tiny (f16-subnormal scales)", func(r *rand.Rand, i int) float64 { return r.NormFloat64() * 1e-4 }},
	{"large", func(r *rand.Rand, i int) float64 { return r.NormFloat64() * 3000 }},
	{"per-block magnitudes 1e-3..1e2, some constant", func(r *rand.Rand, i int) float64 {
		b := i / 32
		s := math.Pow(10, float64(b%6-3))
		if b%5 == 4 {
			return s * 0.75
		}
		return r.NormFloat64() * s
	}},
	{"zero super-block, then positive only", func(r *rand.Rand, i int) float64 {
		if i < 256 {
			return 0
		}
		return 3 * r.Float64()
	}},
	{"halves: Q8_0 scale 1, rounding ties", func(r *rand.Rand, i int) float64 {
		if i%32 == 0 {
			return 127 * float64(1-2*(i/32%2))
		}
		return float64(r.IntN(253)-126) - 0.5
	}},
}

// writeBlocks quantises blockRows with ggml_quantize_chunk to every type
// loft dequantises and stores, per type, ggml's blocks (tensor "Q4_K"
// etc.) and ggml's dequantisation of them ("Q4_K.dequant"), beside the
// input ("input").
func writeBlocks(h helper, tmp, commit, path string) error {
	r := rand.New(rand.NewPCG(20240611, 1))
	rows := len(blockRows)
	x := make([]float32, 0, rows*blockCols)
	var names []string
	for _, row := range blockRows {
		for i := 0; i < blockCols; i++ {
			x = append(x, float32(row.gen(r, i)))
		}
		names = append(names, row.name)
	}
	in, outPath := filepath.Join(tmp, "blocks.f32"), filepath.Join(tmp, "blocks.out")
	if err := os.WriteFile(in, gguf.EncodeF32(x), 0o644); err != nil {
		return err
	}
	if _, err := h.output("blocks", in, strconv.Itoa(rows), strconv.Itoa(blockCols), outPath); err != nil {
		return err
	}
	data, err := os.ReadFile(outPath)
	if err != nil {
		return err
	}
	dims := []int{blockCols, rows}
	tensors := []gguf.Tensor{{Name: "input", Type: gguf.F32, Dims: dims, Data: gguf.EncodeF32(x)}}
	for len(data) > 0 {
		t := gguf.Type(binary.LittleEndian.Uint32(data))
		n := int(binary.LittleEndian.Uint64(data[4:]))
		if n != t.RowSize(blockCols)*rows {
			return fmt.Errorf("ggml wrote %d bytes of %s, loft expects %d", n, t, t.RowSize(blockCols)*rows)
		}
		q := data[12 : 12+n]
		y := data[12+n : 12+n+4*len(x)]
		data = data[12+n+4*len(x):]
		tensors = append(tensors,
			gguf.Tensor{Name: t.String(), Type: t, Dims: dims, Data: q},
			gguf.Tensor{Name: t.String() + ".dequant", Type: gguf.F32, Dims: dims, Data: y})
	}
	kvs := []gguf.KV{
		{Key: "ggmlref.ggml_commit", Value: gguf.ValueOf(commit)},
		{Key: "ggmlref.rows", Value: gguf.ArrayOf(names)},
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return gguf.Write(path, kvs, tensors)
}

// The tiny llama: hidden 256 (a K-quant super-block) so that the
// projections reading the hidden state hold K-quants, while attn_output
// (rows of heads*head_dim = 64) and ffn_down (rows of ffn = 64) do not
// divide into super-blocks and take llama.cpp's fallback types. Two
// layers, so Q4_K_M's use_more_bits gives layer 1's attn_v and ffn_down
// more bits than layer 0's.
const (
	hidden  = 256
	heads   = 2
	kvHeads = 1
	headDim = 32
	ffn     = 64
	layers  = 2
	vocab   = 32
	ctxLen  = 64
)

// ftypeQ4KM is LLAMA_FTYPE_MOSTLY_Q4_K_M.
const ftypeQ4KM = 15

// inputIDs are the tokens whose logits the fixture records (BOS first).
var inputIDs = []int32{1, 7, 12, 3, 25, 31, 9, 18}

// modelExpected is testdata/ggml/llama-q4km/expected.json.
type modelExpected struct {
	GGMLCommit string        `json:"ggml_commit"`
	FType      string        `json:"ftype"`
	Tensors    []tensorCheck `json:"tensors"`
	InputIDs   []int32       `json:"input_ids"`
	// LogitsF32 are llama.cpp's logits (T, V) for an F32 GGUF holding
	// ggml's dequantisation of model.gguf's tensors, F32 KV cache.
	LogitsF32 []float32 `json:"logits_llamacpp_dequantised_f32"`
	// LogitsQuant are llama.cpp's logits for model.gguf itself: its
	// K-quant and Q5_0/Q8_0 dot products quantise the activations to
	// Q8_K/Q8_0 first, so they differ from the F32 ones.
	LogitsQuant []float32 `json:"logits_llamacpp_quantised"`
}

// tensorCheck is one tensor of the quantised file and the SHA-256 of
// ggml's dequantisation of it (little-endian float32, Dims[0] fastest).
type tensorCheck struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	Dims          []int  `json:"dims"`
	DequantSHA256 string `json:"dequant_sha256"`
}

// tinyLlama returns the F32 model's metadata and tensors, random weights
// from a fixed seed. The tokenizer is a SentencePiece ("llama") one of
// whole-word pieces with <unk>, <s>, </s>, enough for llama.cpp's and
// loft's loaders.
func tinyLlama() ([]gguf.KV, []gguf.Tensor) {
	r := rand.New(rand.NewPCG(7, 2024))
	var tensors []gguf.Tensor
	add := func(name string, f func() float64, dims ...int) {
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(f())
		}
		tensors = append(tensors, gguf.Tensor{Name: name, Type: gguf.F32, Dims: dims, Data: gguf.EncodeF32(v)})
	}
	normal := func(s float64) func() float64 { return func() float64 { return r.NormFloat64() * s } }
	norm := func() float64 { return 1 + 0.1*r.NormFloat64() }
	add("token_embd.weight", normal(1), hidden, vocab)
	for l := 0; l < layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", norm, hidden)
		add(p+"attn_q.weight", normal(0.08), hidden, heads*headDim)
		add(p+"attn_k.weight", normal(0.08), hidden, kvHeads*headDim)
		add(p+"attn_v.weight", normal(0.08), hidden, kvHeads*headDim)
		add(p+"attn_output.weight", normal(0.1), heads*headDim, hidden)
		add(p+"ffn_norm.weight", norm, hidden)
		add(p+"ffn_gate.weight", normal(0.08), hidden, ffn)
		add(p+"ffn_up.weight", normal(0.08), hidden, ffn)
		add(p+"ffn_down.weight", normal(0.1), ffn, hidden)
	}
	add("output_norm.weight", norm, hidden)
	add("output.weight", normal(0.08), hidden, vocab)

	toks := []string{"<unk>", "<s>", "</s>"}
	types := []int32{2, 3, 3} // unknown, control, control
	for i := len(toks); i < vocab; i++ {
		toks = append(toks, fmt.Sprintf("▁w%02d", i))
		types = append(types, 1)
	}
	scores := make([]float32, vocab)
	for i := range scores {
		scores[i] = -float32(i)
	}
	u := func(x int) gguf.Value { return gguf.ValueOf(uint32(x)) }
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.ValueOf("llama")},
		{Key: "general.name", Value: gguf.ValueOf("loft ggmlref tiny llama")},
		{Key: "general.file_type", Value: u(0)},
		{Key: "llama.context_length", Value: u(ctxLen)},
		{Key: "llama.embedding_length", Value: u(hidden)},
		{Key: "llama.feed_forward_length", Value: u(ffn)},
		{Key: "llama.block_count", Value: u(layers)},
		{Key: "llama.attention.head_count", Value: u(heads)},
		{Key: "llama.attention.head_count_kv", Value: u(kvHeads)},
		{Key: "llama.attention.key_length", Value: u(headDim)},
		{Key: "llama.attention.value_length", Value: u(headDim)},
		{Key: "llama.rope.dimension_count", Value: u(headDim)},
		{Key: "llama.rope.freq_base", Value: gguf.ValueOf(float32(10000))},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.ValueOf(float32(1e-5))},
		{Key: "tokenizer.ggml.model", Value: gguf.ValueOf("llama")},
		{Key: "tokenizer.ggml.tokens", Value: gguf.ArrayOf(toks)},
		{Key: "tokenizer.ggml.scores", Value: gguf.ArrayOf(scores)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.ArrayOf(types)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: u(0)},
		{Key: "tokenizer.ggml.bos_token_id", Value: u(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: u(2)},
	}
	return kvs, tensors
}

// writeModel writes the F32 tiny llama, has llama.cpp quantise it to
// Q4_K_M, dequantises every tensor of the result with ggml, and runs
// llama.cpp on the quantised file and on an F32 file of ggml's
// dequantisation.
func writeModel(h helper, tmp, commit, dir string) error {
	kvs, tensors := tinyLlama()
	f32 := filepath.Join(tmp, "f32.gguf")
	if err := gguf.Write(f32, kvs, tensors); err != nil {
		return err
	}
	quant := filepath.Join(tmp, "q4km.gguf")
	if _, err := h.output("quantize", f32, quant, strconv.Itoa(ftypeQ4KM)); err != nil {
		return err
	}
	deq := filepath.Join(tmp, "dequant.out")
	if _, err := h.output("dequant", quant, deq); err != nil {
		return err
	}
	data, err := os.ReadFile(deq)
	if err != nil {
		return err
	}
	qf, err := gguf.Open(quant)
	if err != nil {
		return err
	}
	defer qf.Close()
	exp := modelExpected{GGMLCommit: commit, FType: "Q4_K_M", InputIDs: inputIDs}
	var deqTensors []gguf.Tensor
	for len(data) > 0 {
		nl := int(binary.LittleEndian.Uint32(data))
		name := string(data[4 : 4+nl])
		data = data[4+nl:]
		t := gguf.Type(binary.LittleEndian.Uint32(data))
		n := int(binary.LittleEndian.Uint64(data[4:]))
		y := data[12 : 12+4*n]
		data = data[12+4*n:]
		ti, ok := qf.Tensor(name)
		if !ok || ti.Type != t || ti.NumElements() != n {
			return fmt.Errorf("ggml and loft disagree on tensor %s: ggml %s %d values, loft %+v", name, t, n, ti)
		}
		sum := sha256.Sum256(y)
		exp.Tensors = append(exp.Tensors, tensorCheck{Name: name, Type: t.String(), Dims: ti.Dims, DequantSHA256: hex.EncodeToString(sum[:])})
		deqTensors = append(deqTensors, gguf.Tensor{Name: name, Type: gguf.F32, Dims: ti.Dims, Data: slices.Clone(y)})
	}
	deqGGUF := filepath.Join(tmp, "dequant-f32.gguf")
	if err := gguf.Write(deqGGUF, kvs, deqTensors); err != nil {
		return err
	}
	if exp.LogitsF32, err = h.logits(tmp, deqGGUF); err != nil {
		return err
	}
	if exp.LogitsQuant, err = h.logits(tmp, quant); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	qb, err := os.ReadFile(quant)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "model.gguf"), qb, 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(exp, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "expected.json"), append(js, '\n'), 0o644)
}

// logits runs llama.cpp on model for inputIDs and returns (T, V) logits.
func (h helper) logits(tmp, model string) ([]float32, error) {
	out := filepath.Join(tmp, "logits.out")
	args := []string{"logits", h.lib, model, out}
	for _, id := range inputIDs {
		args = append(args, strconv.Itoa(int(id)))
	}
	if _, err := h.output(args...); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	if len(b) != 4*len(inputIDs)*vocab {
		return nil, fmt.Errorf("llama.cpp wrote %d bytes of logits for %s", len(b), model)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}
