package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/hub"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/tokenizer"
)

func newTokenizeCmd() *cobra.Command {
	var (
		model, text, file  string
		decode, addSpecial bool
	)
	cmd := &cobra.Command{
		Use:   "tokenize",
		Short: "Print the token ids of a text, or the text of token ids",
		Long: `tokenize prints the token ids of --text or --file as a JSON array, with no
special tokens unless --add-special. With --decode it reads ids (a JSON array, or
numbers separated by commas or spaces) from --text or --file and prints the text.

--model is a folder with tokenizer.json, vocab.json + merges.txt or
tokenizer.model (a model folder will do), one of those files, a .gguf file,
or a Hugging Face Hub repo id org/name[@revision]: only its tokenizer files
are downloaded (into the Hub cache), never the weights. A GGUF file of a repo
is named as org/name:QUANT or org/name/file.gguf; it holds the tokenizer.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" {
				return usageErrorf("tokenize: --model is required")
			}
			hasText, hasFile := cmd.Flags().Changed("text"), cmd.Flags().Changed("file")
			if hasText == hasFile {
				return usageErrorf("tokenize: give exactly one of --text and --file")
			}
			input := text
			if hasFile {
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("tokenize --file: %w", err)
				}
				input = string(b)
			}
			var ids []int
			if decode {
				var err error
				if ids, err = parseIDs(input); err != nil {
					return usageErrorf("tokenize --decode: %v", err)
				}
			}
			path := model
			if _, err := os.Stat(path); err != nil {
				if path, err = hub.Resolve(cmd.Context(), model, hub.Options{Progress: cmd.ErrOrStderr(), TokenizerOnly: true}); err != nil {
					return err
				}
			}
			tok, err := loadTokenizer(path)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if decode {
				for _, id := range ids {
					if id >= tok.VocabSize() {
						return fmt.Errorf("tokenize --decode: id %d out of range: the vocabulary has %d tokens", id, tok.VocabSize())
					}
				}
				_, err := fmt.Fprintln(out, tok.Decode(ids, !addSpecial))
				return err
			}
			enc := tok.Encode(input, addSpecial)
			if enc == nil {
				enc = []int{}
			}
			b, err := json.Marshal(enc)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "%s\n", b)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "tokenizer or model folder, tokenizer file, .gguf file, or Hub repo id org/name[@revision][:QUANT]")
	f.StringVar(&text, "text", "", "text to encode (ids with --decode)")
	f.StringVar(&file, "file", "", "read the text (ids with --decode) from this file")
	f.BoolVar(&decode, "decode", false, "decode ids into text")
	f.BoolVar(&addSpecial, "add-special", false, "add the model's special tokens (BOS/EOS, [CLS]/[SEP]); with --decode, keep special tokens")
	return cmd
}

// parseIDs reads ids written as a JSON array or separated by commas and/or
// whitespace.
func parseIDs(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	ids := []int{}
	if strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &ids); err != nil {
			return nil, fmt.Errorf("bad JSON array of ids: %v", err)
		}
	} else {
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
			id, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a token id", f)
			}
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if id < 0 {
			return nil, fmt.Errorf("negative token id %d", id)
		}
	}
	return ids, nil
}

// loadTokenizer loads path: a .gguf file (or a folder whose only tokenizer
// is one .gguf file) through format/gguf, anything else with tokenizer.Load.
func loadTokenizer(path string) (*tokenizer.Pipeline, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		hasTok := false
		for _, name := range []string{"tokenizer.json", "vocab.json", "tokenizer.model"} {
			if _, err := os.Stat(filepath.Join(path, name)); err == nil {
				hasTok = true
			}
		}
		if !hasTok {
			g, err := ggufOf(path, "tokenizer files")
			if err != nil {
				return nil, err
			}
			if g != "" {
				path = g
			}
		}
	}
	if !strings.HasSuffix(path, ".gguf") {
		return tokenizer.Load(path)
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return model.GGUFTokenizer(f)
}
