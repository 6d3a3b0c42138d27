// Package wordcache memoizes the ids of short words for the tokenization
// models (bpe, spm): text repeats its words, and a cached word costs one map
// lookup instead of a merge loop or a lattice.
package wordcache

import (
	"strings"
	"sync"
)

// Bounds of a Cache: past MaxEntries words it starts afresh; words longer
// than MaxWordLen bytes (rare but in texts with no pre-tokenizer) are not
// cached, so the cache stays small.
const (
	MaxEntries = 1 << 17
	MaxWordLen = 256
)

// Cache maps words to their ids. The zero value is ready to use; it is safe
// for concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[string][]int
}

// Encode appends the ids of word to dst: the cached ones, or those that
// encode appends (and which are cached then).
func (c *Cache) Encode(dst []int, word string, encode func(dst []int, word string) []int) []int {
	if len(word) > MaxWordLen {
		return encode(dst, word)
	}
	c.mu.Lock()
	ids, ok := c.m[word]
	c.mu.Unlock()
	if ok {
		return append(dst, ids...)
	}
	start := len(dst)
	dst = encode(dst, word)
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string][]int)
	}
	if len(c.m) >= MaxEntries {
		clear(c.m) // keeps the map's memory for the next words
	}
	c.m[strings.Clone(word)] = append([]int(nil), dst[start:]...)
	c.mu.Unlock()
	return dst
}

// Reset empties the cache (for benchmarks of cold encoding).
func (c *Cache) Reset() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// Len returns the number of cached words.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
