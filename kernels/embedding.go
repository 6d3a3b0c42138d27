package kernels

import "fmt"

// EmbeddingForward gathers rows of the table: out[i] = wte[ids[i]].
// out (N, C), ids (N), wte (V, C). An id outside [0, V) is a broken
// invariant (the tokenizer and data loader check ids) and panics with it.
func EmbeddingForward(out []float32, ids []int32, wte []float32, N, V, C int) {
	embeddingForward(out, ids, wte, N, V, C)
}

// EmbeddingBackward scatters dout into the rows of dwte: dwte[ids[i]] +=
// dout[i]. dwte (V, C), dout (N, C), ids (N). A nil dwte (frozen table) is
// not computed.
func EmbeddingBackward(dwte, dout []float32, ids []int32, N, V, C int) {
	if dwte == nil {
		return
	}
	// Rows are visited in order, so repeated ids sum deterministically.
	for i := 0; i < N; i++ {
		id := int(ids[i])
		if id < 0 || id >= V {
			panic(fmt.Sprintf("kernels.Embedding: id %d at position %d outside vocabulary of %d", id, i, V))
		}
		vAddTo(dwte[id*C:(id+1)*C], dout[i*C:(i+1)*C])
	}
}

func embeddingForward[F float](out []F, ids []int32, wte []F, N, V, C int) {
	for i := 0; i < N; i++ {
		id := int(ids[i])
		if id < 0 || id >= V {
			panic(fmt.Sprintf("kernels.Embedding: id %d at position %d outside vocabulary of %d", id, i, V))
		}
		copy(out[i*C:(i+1)*C], wte[id*C:(id+1)*C])
	}
}

func embeddingBackward[F float](dwte, dout []F, ids []int32, N, V, C int) {
	if dwte == nil {
		return
	}
	for i := 0; i < N; i++ {
		id := int(ids[i])
		if id < 0 || id >= V {
			panic(fmt.Sprintf("kernels.Embedding: id %d at position %d outside vocabulary of %d", id, i, V))
		}
		d := dwte[id*C : (id+1)*C]
		for j, g := range dout[i*C : (i+1)*C] {
			d[j] += g
		}
	}
}
