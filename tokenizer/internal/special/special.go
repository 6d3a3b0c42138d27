// Package special reads the special-token values of tokenizer_config.json
// and special_tokens_map.json, for the tokenizer and for chat templates.
package special

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/loftml/loft/internal/jsonerr"
)

// The files Read reads, as transformers names them.
const (
	ConfigFile = "tokenizer_config.json"
	MapFile    = "special_tokens_map.json"
)

// File is one JSON file of a model folder: its path, and its contents, nil
// when the file is absent or not read.
type File struct {
	Path string
	Data []byte
}

// Read reads the tokenizer_config.json and special_tokens_map.json of
// folder dir as transformers' from_pretrained takes them: the map only when
// the config has no added_tokens_decoder (a config older than transformers
// 4.34, or none), and then the tokens the map sets win over the config's
// and its additional_special_tokens join the config's. A config with
// added_tokens_decoder leaves smap's Data nil. The tokenizer and the chat
// templates both read the pair through Read, so that they agree on it.
func Read(dir string) (cfg, smap File, err error) {
	cfg.Path, smap.Path = filepath.Join(dir, ConfigFile), filepath.Join(dir, MapFile)
	if cfg.Data, err = readIfPresent(cfg.Path); err != nil {
		return cfg, smap, err
	}
	if cfg.Data != nil {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(cfg.Data, &top); err != nil {
			return cfg, smap, fmt.Errorf("%s: %w", cfg.Path, jsonerr.Describe(cfg.Data, err))
		}
		if _, ok := top["added_tokens_decoder"]; ok {
			return cfg, smap, nil
		}
	}
	smap.Data, err = readIfPresent(smap.Path)
	return cfg, smap, err
}

// readIfPresent returns the contents of the file at path, nil when there
// is none.
func readIfPresent(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if data == nil && err == nil {
		data = []byte{} // present and empty: the caller's parser says so
	}
	return data, err
}

// Token reads a special token as transformers writes it: null, a string,
// or an AddedToken-style object with "content". set is false for null or
// absent (an empty r).
func Token(r json.RawMessage) (tok string, set bool, err error) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || string(r) == "null" {
		return "", false, nil
	}
	switch r[0] {
	case '"':
		if err := json.Unmarshal(r, &tok); err != nil {
			return "", false, err
		}
		return tok, true, nil
	case '{':
		var obj struct {
			Content *string `json:"content"`
		}
		if err := json.Unmarshal(r, &obj); err != nil {
			return "", false, err
		}
		if obj.Content == nil {
			return "", false, errors.New("token object has no \"content\"")
		}
		return *obj.Content, true, nil
	}
	return "", false, fmt.Errorf("expected a string, an object with \"content\" or null, got %.30s", r)
}
