package data

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/tokenizer"
)

// ex builds an example whose ids are 100+i… of length n; the first
// prompt tokens do not count.
func ex(base, n, prompt int) Example {
	e := Example{IDs: make([]int32, n), Labels: make([]int32, n)}
	for i := range n {
		e.IDs[i] = int32(base + i)
		e.Labels[i] = e.IDs[i]
		if i < prompt {
			e.Labels[i] = IgnoreIndex
		}
	}
	return e
}

func TestBatchNoShuffle(t *testing.T) {
	exs := []Example{ex(100, 4, 2), ex(200, 3, 0), ex(300, 9, 1), ex(400, 2, 0), ex(500, 5, 0)}
	b, err := NewBatcher(exs, BatchOptions{BatchSize: 2, SeqLen: 16, Pad: 7})
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 3 || b.Rows() != 5 {
		t.Fatalf("Len %d Rows %d, want 3 and 5", b.Len(), b.Rows())
	}
	const X = IgnoreIndex
	// Batch 0: examples 0 and 1, T = 4 rounded up to 8.
	b0 := b.Batch(0, 0)
	want0 := Batch{B: 2, T: 8, Rows: []int{0, 1}, Tokens: 2 + 2,
		IDs: []int32{100, 101, 102, 103, 7, 7, 7, 7,
			200, 201, 202, 7, 7, 7, 7, 7},
		// Example 0 counts 102 and 103 (the prompt 100, 101 does not).
		Targets: []int32{X, 102, 103, X, X, X, X, X,
			201, 202, X, X, X, X, X, X}}
	if !reflect.DeepEqual(b0, want0) {
		t.Errorf("batch 0\n got %+v\nwant %+v", b0, want0)
	}
	// Batch 1: examples 2 and 3, T = 9 rounded up to 16.
	b1 := b.Batch(0, 1)
	if b1.T != 16 || !slices.Equal(b1.Rows, []int{2, 3}) || b1.Tokens != 8+1 {
		t.Errorf("batch 1: T %d rows %v tokens %d, want 16, [2 3], 9", b1.T, b1.Rows, b1.Tokens)
	}
	// The last batch holds the one example left; T is capped at SeqLen.
	b2 := b.Batch(0, 2)
	if b2.B != 1 || b2.T != 8 || !slices.Equal(b2.Rows, []int{4}) {
		t.Errorf("batch 2: B %d T %d rows %v", b2.B, b2.T, b2.Rows)
	}
	// No shuffling: every epoch is the same, in file order.
	if !reflect.DeepEqual(b.Batch(3, 1), b1) {
		t.Error("epoch 3 differs from epoch 0 without shuffling")
	}

	c, _ := NewBatcher(exs, BatchOptions{BatchSize: 2, SeqLen: 12})
	if got := c.Batch(0, 1).T; got != 12 {
		t.Errorf("T %d, want the cap 12", got)
	}
	f, _ := NewBatcher(exs, BatchOptions{BatchSize: 2, SeqLen: 32, FixedLength: true})
	if got := f.Batch(0, 0).T; got != 32 {
		t.Errorf("fixed length: T %d, want 32", got)
	}
}

func TestBatchShuffle(t *testing.T) {
	var exs []Example
	for i := range 50 {
		exs = append(exs, ex(1000*i, 2+i%5, 0))
	}
	opt := BatchOptions{BatchSize: 4, SeqLen: 8, Shuffle: true, Seed: 42}
	a, _ := NewBatcher(exs, opt)
	b, _ := NewBatcher(exs, opt)
	for epoch := range 3 {
		if !slices.Equal(a.Order(epoch), b.Order(epoch)) {
			t.Errorf("epoch %d: same seed, different orders", epoch)
		}
		if !reflect.DeepEqual(a.Batch(epoch, 5), b.Batch(epoch, 5)) {
			t.Errorf("epoch %d: same seed, different batches", epoch)
		}
		sorted := slices.Sorted(slices.Values(a.Order(epoch)))
		for i, v := range sorted {
			if v != i {
				t.Fatalf("epoch %d: order is not a permutation: %v", epoch, a.Order(epoch))
			}
		}
	}
	e0, e1 := slices.Clone(a.Order(0)), slices.Clone(a.Order(1))
	if slices.Equal(e0, e1) {
		t.Error("epochs 0 and 1 have the same order")
	}
	if slices.Equal(e0, slices.Sorted(slices.Values(e0))) {
		t.Error("shuffled order is the file order")
	}
	opt.Seed = 43
	c, _ := NewBatcher(exs, opt)
	if slices.Equal(c.Order(0), e0) {
		t.Error("seeds 42 and 43 give the same order")
	}
	// Batch k of an epoch holds rows order[k·B : k·B+B].
	if got := a.Batch(1, 2).Rows; !slices.Equal(got, e1[8:12]) {
		t.Errorf("batch 2 rows %v, want %v", got, e1[8:12])
	}
}

func TestPack(t *testing.T) {
	exs := []Example{ex(100, 3, 1), ex(200, 4, 2), ex(300, 2, 0), ex(400, 5, 0), ex(500, 8, 0)}
	b, err := NewBatcher(exs, BatchOptions{BatchSize: 2, SeqLen: 8, Pack: true, Pad: 9})
	if err != nil {
		t.Fatal(err)
	}
	if b.Rows() != 3 || b.Len() != 2 {
		t.Fatalf("rows %d batches %d, want 3 and 2", b.Rows(), b.Len())
	}
	const X = IgnoreIndex
	got := b.Batch(0, 0)
	want := Batch{B: 2, T: 8, Rows: []int{0, 1}, Tokens: 2 + 2 + 1 + 4,
		IDs: []int32{100, 101, 102, 200, 201, 202, 203, 9,
			300, 301, 400, 401, 402, 403, 404, 9},
		// 200 (the next example's first token) is no target; 201 is
		// prompt.
		Targets: []int32{101, 102, X, X, 202, 203, X, X,
			301, X, 401, 402, 403, 404, X, X}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("packed batch\n got %+v\nwant %+v", got, want)
	}
	// A packed epoch counts the same targets as an unpacked one.
	u, _ := NewBatcher(exs, BatchOptions{BatchSize: 2, SeqLen: 8})
	total := func(b *Batcher) (n int) {
		for k := range b.Len() {
			n += b.Batch(0, k).Tokens
		}
		return n
	}
	if p, q := total(b), total(u); p != q {
		t.Errorf("packed counts %d targets, unpacked %d", p, q)
	}
	// Shuffling permutes the packed rows.
	s, _ := NewBatcher(exs, BatchOptions{BatchSize: 2, SeqLen: 8, Pack: true, Shuffle: true, Seed: 1})
	if s.Rows() != 3 || total(s) != total(b) {
		t.Errorf("shuffled packing: %d rows, %d targets", s.Rows(), total(s))
	}
}

func TestBatcherErrors(t *testing.T) {
	for _, tc := range []struct {
		exs  []Example
		opt  BatchOptions
		want string
	}{
		{[]Example{ex(0, 9, 0)}, BatchOptions{BatchSize: 1, SeqLen: 8}, "example 0 has 9 tokens, more than --seq-len 8"},
		{[]Example{ex(0, 2, 0)}, BatchOptions{BatchSize: 0, SeqLen: 8}, "--batch-size must be positive"},
		{nil, BatchOptions{BatchSize: 1, SeqLen: 8}, "no examples"},
		{[]Example{ex(0, 2, 0)}, BatchOptions{BatchSize: 1, Pack: true}, "positive --seq-len"},
		{[]Example{{IDs: []int32{1, 2}, Labels: []int32{1}}}, BatchOptions{BatchSize: 1}, "2 ids and 1 labels"},
	} {
		if _, err := NewBatcher(tc.exs, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestPadID(t *testing.T) {
	for _, tc := range []struct {
		sp   tokenizer.Specials
		want int32
	}{
		{tokenizer.Specials{BOS: 1, EOS: 2, UNK: 0, PAD: 5}, 5},
		{tokenizer.Specials{BOS: 1, EOS: 2, UNK: 0, PAD: -1}, 2},
		{tokenizer.Specials{BOS: -1, EOS: -1, UNK: -1, PAD: -1}, 0},
	} {
		if got := PadID(tc.sp); got != tc.want {
			t.Errorf("PadID(%+v) = %d, want %d", tc.sp, got, tc.want)
		}
	}
}

func TestSplit(t *testing.T) {
	ds := &Dataset{}
	for i := range 40 {
		ds.Examples = append(ds.Examples, ex(i*10, 2, 0))
		ds.Origins = append(ds.Origins, Origin{"f", i + 1})
	}
	for _, tc := range []struct {
		frac   float64
		nValid int
	}{{0.1, 4}, {0.25, 10}, {0.01, 1}, {0.5, 20}} {
		train, valid, err := ds.Split(tc.frac, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(valid.Examples) != tc.nValid || len(train.Examples) != 40-tc.nValid {
			t.Errorf("fraction %g: %d train %d valid, want %d valid", tc.frac, len(train.Examples), len(valid.Examples), tc.nValid)
		}
		// Both parts keep file order and together hold every example once.
		lines := append(lineNumbers(train), lineNumbers(valid)...)
		if !slices.IsSorted(lineNumbers(train)) || !slices.IsSorted(lineNumbers(valid)) {
			t.Errorf("fraction %g: parts not in file order", tc.frac)
		}
		slices.Sort(lines)
		for i, l := range lines {
			if l != i+1 {
				t.Fatalf("fraction %g: lines %v", tc.frac, lines)
			}
		}
	}
	_, v1, _ := ds.Split(0.25, 7)
	_, v2, _ := ds.Split(0.25, 7)
	_, v3, _ := ds.Split(0.25, 8)
	if !slices.Equal(lineNumbers(v1), lineNumbers(v2)) {
		t.Error("same seed, different splits")
	}
	if slices.Equal(lineNumbers(v1), lineNumbers(v3)) {
		t.Error("seeds 7 and 8 give the same split")
	}
	for _, f := range []float64{0, 1, -0.5, 0.99} {
		if _, _, err := ds.Split(f, 1); err == nil {
			t.Errorf("fraction %g: no error", f)
		}
	}
}

func lineNumbers(d *Dataset) []int {
	var out []int
	for _, o := range d.Origins {
		out = append(out, o.Line)
	}
	return out
}
