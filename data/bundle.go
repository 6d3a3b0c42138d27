package data

import (
	"fmt"

	"github.com/loftml/loft/model"
)

// FromBundle returns the Config of a loaded model: its tokenizer, its chat
// template (nil when it has none), BOS and whether to add it (Gen.BOS,
// Gen.AddBOS), EOS (the tokenizer's eos_token, else the first generation
// stop id, as mlx-lm appends tokenizer.eos_token_id) and its context
// length. The caller sets SeqLen, Format, TrainOnPrompt and Chat.
func FromBundle(b *model.Bundle) (Config, error) {
	if b.Tokenizer == nil {
		return Config{}, fmt.Errorf("data: %s has no tokenizer", b.Path)
	}
	cfg := Config{
		Tokenizer:     b.Tokenizer,
		BOS:           b.Gen.BOS,
		AddBOS:        b.Gen.AddBOS,
		EOS:           b.Tokenizer.Specials().EOS,
		ContextLength: b.Info.ContextLength,
	}
	if cfg.EOS < 0 && len(b.Gen.EOS) > 0 {
		cfg.EOS = b.Gen.EOS[0]
	}
	if b.Chat != nil && len(b.Chat.Templates) > 0 {
		t, err := b.Chat.Template("")
		if err != nil {
			return Config{}, fmt.Errorf("data: %s: %w", b.Path, err)
		}
		cfg.Template = t
	}
	return cfg, nil
}
