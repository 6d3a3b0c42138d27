// Package special reads the special-token values of tokenizer_config.json
// and special_tokens_map.json, for the tokenizer and for chat templates.
package special

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

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
