package bpe

// pairTable maps a pair of ids (left<<32 | right) to rank<<32 | merged id.
// It is an open-addressing hash table with linear probing at load <= 1/2:
// the merge loops spend most of their time here, and this is about twice as
// fast as a Go map for the 150k merges of a large vocabulary.
type pairTable struct {
	slots []pairSlot
	shift uint // 64 - log2(len(slots))
}

type pairSlot struct{ key, val uint64 }

// emptyKey marks a free slot; ids are below 2^31, so no pair has this key.
const emptyKey = ^uint64(0)

func newPairTable(n int) pairTable {
	size, bits := 16, uint(4)
	for size < 2*n {
		size *= 2
		bits++
	}
	t := pairTable{slots: make([]pairSlot, size), shift: 64 - bits}
	for i := range t.slots {
		t.slots[i].key = emptyKey
	}
	return t
}

func (t *pairTable) index(key uint64) uint64 { return (key * 0x9E3779B97F4A7C15) >> t.shift }

// put sets key's value, replacing an earlier one.
func (t *pairTable) put(key, val uint64) {
	mask := uint64(len(t.slots) - 1)
	for i := t.index(key); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == emptyKey || s.key == key {
			s.key, s.val = key, val
			return
		}
	}
}

// get returns key's value.
func (t *pairTable) get(key uint64) (uint64, bool) {
	mask := uint64(len(t.slots) - 1)
	for i := t.index(key); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == key {
			return s.val, true
		}
		if s.key == emptyKey {
			return 0, false
		}
	}
}
