package wordcache

import (
	"slices"
	"strings"
	"testing"
)

// counter is a fake model: the ids of a word are its bytes, and calls
// counts the words it encoded.
type counter struct{ calls int }

func (c *counter) encode(dst []int, word string) []int {
	c.calls++
	for i := 0; i < len(word); i++ {
		dst = append(dst, int(word[i]))
	}
	return dst
}

func TestCache(t *testing.T) {
	var c Cache
	var m counter
	dst := c.Encode([]int{-1}, "ab", m.encode)
	if !slices.Equal(dst, []int{-1, 'a', 'b'}) || m.calls != 1 {
		t.Fatalf("first: %v after %d calls", dst, m.calls)
	}
	// The cache keeps its own copy: changing the caller's slice leaves it.
	dst[1] = 0
	if got := c.Encode(nil, "ab", m.encode); !slices.Equal(got, []int{'a', 'b'}) || m.calls != 1 {
		t.Fatalf("cached: %v after %d calls, want [97 98] after 1", got, m.calls)
	}
	// Long words are encoded every time and never cached.
	long := strings.Repeat("x", MaxWordLen+1)
	for range 2 {
		if got := c.Encode(nil, long, m.encode); len(got) != len(long) {
			t.Fatalf("long word: %d ids", len(got))
		}
	}
	if m.calls != 3 || c.Len() != 1 {
		t.Fatalf("long word: %d calls, %d cached words; want 3 and 1", m.calls, c.Len())
	}
	c.Reset()
	c.Encode(nil, "ab", m.encode)
	if m.calls != 4 || c.Len() != 1 {
		t.Fatalf("after Reset: %d calls, %d cached words; want 4 and 1", m.calls, c.Len())
	}
}

// TestCacheBound fills the cache past MaxEntries: it starts afresh.
func TestCacheBound(t *testing.T) {
	var c Cache
	var m counter
	for i := range MaxEntries + 1 {
		c.Encode(nil, string(rune(0x10000+i)), m.encode)
	}
	if c.Len() != 1 {
		t.Fatalf("%d words cached after %d, want 1", c.Len(), MaxEntries+1)
	}
}
