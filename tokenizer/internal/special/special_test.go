package special

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRead: special_tokens_map.json is read only beside a config without
// added_tokens_decoder (or without a config), as from_pretrained does.
func TestRead(t *testing.T) {
	const smap = `{"eos_token": "</s>"}`
	for _, tc := range []struct {
		name, config, smap string // "" for an absent file
		wantCfg, wantMap   bool
	}{
		{"neither", "", "", false, false},
		{"config only", `{"eos_token": "<|im_end|>"}`, "", true, false},
		{"old config and map", `{"eos_token": "<|im_end|>"}`, smap, true, true},
		{"config with added_tokens_decoder", `{"added_tokens_decoder": {}, "eos_token": "<|im_end|>"}`, smap, true, false},
		{"map only", "", smap, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range map[string]string{ConfigFile: tc.config, MapFile: tc.smap} {
				if text == "" {
					continue
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cf, mf, err := Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if cf.Path != filepath.Join(dir, ConfigFile) || mf.Path != filepath.Join(dir, MapFile) {
				t.Errorf("paths %q, %q", cf.Path, mf.Path)
			}
			if (cf.Data != nil) != tc.wantCfg || (cf.Data != nil && string(cf.Data) != tc.config) {
				t.Errorf("config %q, want it read: %v", cf.Data, tc.wantCfg)
			}
			if (mf.Data != nil) != tc.wantMap || (mf.Data != nil && string(mf.Data) != tc.smap) {
				t.Errorf("map %q, want it read: %v", mf.Data, tc.wantMap)
			}
		})
	}

	dir := t.TempDir()
	path := filepath.Join(dir, ConfigFile)
	if err := os.WriteFile(path, []byte("{\n\"eos_token\": \"</s>\",\n}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Read(dir); err == nil || !strings.Contains(err.Error(), path+": bad JSON at line 3, column 1") {
		t.Errorf("malformed config: %v, want an error naming %s, line 3", err, path)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Read(dir); err == nil || !strings.Contains(err.Error(), path+": empty file") {
		t.Errorf("empty config: %v, want an error naming %s", err, path)
	}
}
