package generate_test

import (
	"context"
	"fmt"

	"github.com/loftml/loft/generate"
	"github.com/loftml/loft/nn"
)

// nextLetter is a toy model.CausalLM over the 26 letters: the letter after
// the last one is always the most likely.
type nextLetter struct{}

func (nextLetter) VocabSize() int     { return 26 }
func (nextLetter) ContextLength() int { return 64 }
func (nextLetter) NewCache(B, maxLen int) *nn.KVCache {
	return nn.NewKVCache(1, B, maxLen, 1, 1)
}

func (nextLetter) Forward(c *nn.KVCache, ids []int32, B, T int, logits []float32, lastOnly bool) error {
	for b := range B {
		if err := c.Room(b, T); err != nil {
			return err
		}
	}
	for b := range B {
		c.Len[b] += T
		last := ids[b*T+T-1]
		row := logits[b*26 : (b+1)*26] // lastOnly: (B, V)
		for v := range row {
			row[v] = 0
		}
		row[(last+1)%26] = 5
	}
	return nil
}

// letters decodes ids as the letters a-z.
type letters struct{}

func (letters) Add(id int) string { return string(rune('a' + id)) }
func (letters) Flush() string     { return "" }

func ExampleGenerate() {
	out, err := generate.Generate(context.Background(), nextLetter{}, []generate.Request{
		{Prompt: []int{0}, MaxNewTokens: 10, Stop: []string{"fg"}},                                           // greedy: "bcde", then "fg" stops it
		{Prompt: []int{20, 21}, MaxNewTokens: 4},                                                             // "wxyz"
		{Prompt: []int{7}, MaxNewTokens: 3, Sampling: generate.Sampling{Temperature: 0.5, TopK: 1, Seed: 1}}, // top-1: "ijk"
	}, generate.Options{
		NewDecoder: func() generate.TextDecoder { return letters{} },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range out.Rows {
		fmt.Printf("%q (%v)\n", r.Text, r.Reason)
	}
	// Output:
	// "bcde" (stop string)
	// "wxyz" (max new tokens)
	// "ijk" (max new tokens)
}
