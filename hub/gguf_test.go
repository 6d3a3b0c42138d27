package hub

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseRepoGGUF(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want Repo
	}{
		{"org/name-GGUF:Q4_K_M", Repo{ID: "org/name-GGUF", Revision: "main", Quant: "Q4_K_M"}},
		{"org/name@dev:q8_0", Repo{ID: "org/name", Revision: "dev", Quant: "q8_0"}},
		{"org/name:Q8_0@dev", Repo{ID: "org/name", Revision: "dev", Quant: "Q8_0"}},
		{"org/name/model-Q4_K_M.gguf", Repo{ID: "org/name", Revision: "main", File: "model-Q4_K_M.gguf"}},
		{"org/name/sub/m.GGUF@" + commitOf("x"), Repo{ID: "org/name", Revision: commitOf("x"), File: "sub/m.GGUF"}},
		{"org/name", Repo{ID: "org/name", Revision: "main"}},
	} {
		got, err := ParseRepo(tc.ref)
		if err != nil || got != tc.want {
			t.Errorf("ParseRepo(%q) = %+v, %v; want %+v", tc.ref, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ ref, want string }{
		{"org/name:", "quantization tag"},
		{"org/name:a/b", "quantization tag"},
		{"org/name/f.gguf:Q4", "both a GGUF file and a quantization tag"},
		{"org/name/../f.gguf", "not a plain file path"},
		{"org/name/f.bin", "exactly one '/'"},
	} {
		if _, err := ParseRepo(tc.ref); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRepo(%q): err = %v, want one containing %q", tc.ref, err, tc.want)
		}
	}
}

// ggufRepoFiles is a GGUF-only repo as the Hub's *-GGUF repos look: several
// quantizations, a projector for a vision tower, a README.
func ggufRepoFiles() map[string]fakeFile {
	return map[string]fakeFile{
		"README.md":               {data: []byte("# tiny GGUF\n")},
		"tiny-Q4_K_M.gguf":        {data: randomBytes(2, 5000), lfs: true},
		"tiny-Q4_K_S.gguf":        {data: randomBytes(3, 4000), lfs: true},
		"tiny-Q8_0.gguf":          {data: randomBytes(4, 9000), lfs: true},
		"sub/tiny-F16.gguf":       {data: randomBytes(5, 100), lfs: true},
		"mmproj-tiny-Q4_K_M.gguf": {data: randomBytes(6, 700), lfs: true},
	}
}

// TestGGUFRepo resolves references to GGUF files of a GGUF-only repo: a
// quantization tag (case-insensitive), a file path, or nothing (Q4_K_M).
// Only the chosen file is downloaded and its snapshot path returned; the
// same references then resolve offline from the cache.
func TestGGUFRepo(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	const id = "acme/tiny-GGUF"
	commit := commitOf("g1")
	files := ggufRepoFiles()
	f.addRepo(id, commit, files)
	cache := t.TempDir()
	snap := filepath.Join(cache, "models--acme--tiny-GGUF", "snapshots", commit)
	cases := []struct{ ref, file string }{
		{id, "tiny-Q4_K_M.gguf"},
		{id + ":q8_0", "tiny-Q8_0.gguf"},
		{id + "@main:Q4_K_S", "tiny-Q4_K_S.gguf"},
		{id + ":F16", "sub/tiny-F16.gguf"},
		{id + "/tiny-Q8_0.gguf", "tiny-Q8_0.gguf"},
	}
	for k, tc := range cases {
		_, _, cdn0 := f.counts()
		got, err := Resolve(context.Background(), tc.ref, testOptions(f, cache))
		if err != nil {
			t.Fatalf("%s: %v", tc.ref, err)
		}
		if want := filepath.Join(snap, filepath.FromSlash(tc.file)); got != want {
			t.Errorf("%s: %s, want %s", tc.ref, got, want)
		}
		if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, files[tc.file].data) {
			t.Errorf("%s: content differs (%v)", tc.ref, err)
		}
		// Each new file costs one CDN request; the fifth is cached already.
		wantCDN := 1
		if k == 4 {
			wantCDN = 0
		}
		if _, _, cdn1 := f.counts(); cdn1-cdn0 != wantCDN {
			t.Errorf("%s: %d CDN requests, want %d", tc.ref, cdn1-cdn0, wantCDN)
		}
	}
	// Only the chosen files are in the snapshot: no README, no projector.
	got := tree(t, snap)
	want := []string{"sub", "sub/tiny-F16.gguf", "tiny-Q4_K_M.gguf", "tiny-Q4_K_S.gguf", "tiny-Q8_0.gguf"}
	if !slices.Equal(got, want) {
		t.Errorf("snapshot %q, want %q", got, want)
	}
	for _, tc := range cases {
		opts := testOptions(f, cache)
		opts.Offline = true
		got, err := Resolve(context.Background(), tc.ref, opts)
		if want := filepath.Join(snap, filepath.FromSlash(tc.file)); err != nil || got != want {
			t.Errorf("offline %s: %s, %v; want %s", tc.ref, got, err, want)
		}
	}
	for _, tc := range []struct{ ref, want string }{
		// Q4_K is in both Q4_K_M and Q4_K_S and stands alone in neither.
		{id + ":Q4_K", `"Q4_K" matches 2 files: tiny-Q4_K_M.gguf, tiny-Q4_K_S.gguf`},
		{id + ":Q5_K_M", `no .gguf file matches the quantization tag "Q5_K_M"; its .gguf files: sub/tiny-F16.gguf, tiny-Q4_K_M.gguf, tiny-Q4_K_S.gguf, tiny-Q8_0.gguf`},
		{id + "/nope.gguf", "no file nope.gguf"},
	} {
		if _, err := Resolve(context.Background(), tc.ref, testOptions(f, cache)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.ref, err, tc.want)
		}
	}
}

// TestGGUFRepoDefault: without a tag a GGUF-only repo gives its only .gguf
// file, or an error listing the files when there are several and none is
// Q4_K_M; a quantization split into shards is refused by name.
func TestGGUFRepoDefault(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	f.addRepo("acme/one-GGUF", commitOf("o"), map[string]fakeFile{
		"one.f16.gguf": {data: randomBytes(7, 300), lfs: true}, "mmproj-one.gguf": {data: randomBytes(8, 30), lfs: true},
	})
	f.addRepo("acme/two-GGUF", commitOf("t"), map[string]fakeFile{
		"two-Q8_0.gguf": {data: randomBytes(9, 300), lfs: true}, "two-F16.gguf": {data: randomBytes(10, 300), lfs: true},
	})
	f.addRepo("acme/split-GGUF", commitOf("s"), map[string]fakeFile{
		"big-Q4_K_M-00001-of-00002.gguf": {data: randomBytes(11, 300), lfs: true},
		"big-Q4_K_M-00002-of-00002.gguf": {data: randomBytes(12, 300), lfs: true},
	})
	cache := t.TempDir()
	got, err := Resolve(context.Background(), "acme/one-GGUF", testOptions(f, cache))
	if want := filepath.Join(cache, "models--acme--one-GGUF", "snapshots", commitOf("o"), "one.f16.gguf"); err != nil || got != want {
		t.Errorf("one-GGUF: %s, %v; want %s", got, err, want)
	}
	for _, tc := range []struct{ ref, want string }{
		{"acme/two-GGUF", "no Q4_K_M file to pick by default; name a quantization as acme/two-GGUF:QUANT or a file as acme/two-GGUF/FILE.gguf; its .gguf files: two-F16.gguf, two-Q8_0.gguf"},
		{"acme/split-GGUF", "split into 2 files"},
	} {
		if _, err := Resolve(context.Background(), tc.ref, testOptions(f, cache)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.ref, err, tc.want)
		}
	}
}

// TestCachedGGUFChoice: "org/name@<commit>" and offline references return
// a cached .gguf file only when the online rules would pick it among the
// repo's files, which the cache does not list: a tag standing alone in the
// file's name, or Q4_K_M by default in a repo marked as having no weights.
// Otherwise the Hub decides, and offline the error names the doubt.
func TestCachedGGUFChoice(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	g := commitOf("g1")
	f.addRepo("acme/g", g, map[string]fakeFile{
		"x-Q4_K.gguf":   {data: randomBytes(3, 1000), lfs: true},
		"x-Q4_K_M.gguf": {data: randomBytes(4, 1000), lfs: true},
	})
	mixed := commitOf("m1")
	files := tinyFiles()
	files["x-Q8_0.gguf"] = fakeFile{data: randomBytes(5, 1000), lfs: true}
	f.addRepo(testRepo, mixed, files)
	f.addRepo("acme/one-GGUF", commitOf("o"), map[string]fakeFile{"one.f16.gguf": {data: randomBytes(7, 300), lfs: true}})
	cache := t.TempDir()
	opts := testOptions(f, cache)
	offline := opts
	offline.Offline = true
	for _, ref := range []string{"acme/g:Q4_K_M", testRepo + "/x-Q8_0.gguf", "acme/one-GGUF"} {
		if _, err := Resolve(context.Background(), ref, opts); err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
	}

	// Only x-Q4_K_M.gguf is cached; the repo's x-Q4_K.gguf is the one for Q4_K.
	for _, ref := range []string{"acme/g@" + g + ":Q4_K", "acme/g@main:Q4_K"} {
		_, err := Resolve(context.Background(), ref, offline)
		if want := "only x-Q4_K_M.gguf, whose name holds Q4_K within a longer tag"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("offline %s: err = %v, want one containing %q", ref, err, want)
		}
	}
	got, err := Resolve(context.Background(), "acme/g@"+g+":Q4_K", opts)
	if err != nil || filepath.Base(got) != "x-Q4_K.gguf" {
		t.Errorf("@commit:Q4_K with x-Q4_K_M.gguf cached: %s, %v; want x-Q4_K.gguf", got, err)
	}
	for _, ref := range []string{"acme/g@" + g + ":Q4_K", "acme/g:q4_k_m"} {
		if _, err := Resolve(context.Background(), ref, offline); err != nil {
			t.Errorf("offline %s, cached: %v", ref, err)
		}
	}

	// A repo with safetensors weights and a .gguf file, only the .gguf cached:
	// the weights are the default.
	_, err = Resolve(context.Background(), testRepo+"@"+mixed, offline)
	if want := "no complete weights"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("offline default, mixed repo with its .gguf cached: err = %v, want one containing %q", err, want)
	}
	got, err = Resolve(context.Background(), testRepo+"@"+mixed, opts)
	if want := filepath.Join(cache, "models--acme--tiny-llm", "snapshots", mixed); err != nil || got != want {
		t.Errorf("@commit default, mixed repo: %s, %v; want the snapshot folder %s", got, err, want)
	}

	// The only .gguf file of a repo is its default, but the cache cannot
	// tell that it is the only one.
	_, err = Resolve(context.Background(), "acme/one-GGUF", offline)
	if want := "name it as acme/one-GGUF/one.f16.gguf"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("offline default, only .gguf file: err = %v, want one containing %q", err, want)
	}
}

// TestForeignCacheNeedsOnlineRun: a GGUF repo cached without .no_exist
// markers (as Python's huggingface_hub or an older loft leaves it) has no
// offline default until one online run, which downloads nothing, writes
// the markers; the documented change of Resolve.
func TestForeignCacheNeedsOnlineRun(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	commit := commitOf("q")
	f.addRepo("acme/q-GGUF", commit, map[string]fakeFile{"q-Q4_K_M.gguf": {data: randomBytes(13, 300), lfs: true}})
	cache := t.TempDir()
	opts := testOptions(f, cache)
	want, err := Resolve(context.Background(), "acme/q-GGUF", opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cache, "models--acme--q-GGUF", ".no_exist")); err != nil {
		t.Fatal(err)
	}
	offline := opts
	offline.Offline = true
	if _, err := Resolve(context.Background(), "acme/q-GGUF", offline); err == nil || !strings.Contains(err.Error(), "which the cache cannot tell") {
		t.Errorf("offline without markers: err = %v, want one saying what the cache cannot tell", err)
	}
	_, _, cdn0 := f.counts()
	if _, err := Resolve(context.Background(), "acme/q-GGUF", opts); err != nil {
		t.Fatal(err)
	}
	if _, _, cdn := f.counts(); cdn != cdn0 {
		t.Errorf("the online run downloaded again: %d CDN requests", cdn-cdn0)
	}
	if got, err := Resolve(context.Background(), "acme/q-GGUF", offline); err != nil || got != want {
		t.Errorf("offline after an online run: %s, %v; want %s", got, err, want)
	}
}

// TestTokenizerOnly: Options.TokenizerOnly fetches the tokenizer files and
// config, never the weights, and works for a repo without weights; offline
// the cached tokenizer files suffice.
func TestTokenizerOnly(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	files := tinyFiles()
	files["tokenizer.json"] = fakeFile{data: []byte(`{"model":{"type":"BPE"}}`)}
	files["added_tokens.json"] = fakeFile{data: []byte(`{"<x>":5}`)}
	files["generation_config.json"] = fakeFile{data: []byte(`{}`)}
	commit := commitOf("c1")
	f.addRepo(testRepo, commit, files)
	f.addRepo("acme/tok-only", commitOf("t"), map[string]fakeFile{"tokenizer.model": {data: []byte("spm")}})
	f.addRepo("acme/no-tok", commitOf("n"), map[string]fakeFile{"config.json": {data: []byte(`{}`)}})
	cache := t.TempDir()
	opts := testOptions(f, cache)
	opts.TokenizerOnly = true
	dir, err := Resolve(context.Background(), testRepo, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "models--acme--tiny-llm", "snapshots", commit); dir != want {
		t.Errorf("dir %s, want %s", dir, want)
	}
	if got, want := tree(t, dir), []string{"added_tokens.json", "config.json", "tokenizer.json", "tokenizer_config.json"}; !slices.Equal(got, want) {
		t.Errorf("snapshot %q, want %q", got, want)
	}
	if _, _, cdn := f.counts(); cdn != 0 {
		t.Errorf("%d CDN (weights) requests, want 0", cdn)
	}
	opts.Offline = true
	if d, err := Resolve(context.Background(), testRepo, opts); err != nil || d != dir {
		t.Errorf("offline: %s, %v; want %s", d, err, dir)
	}
	// Without TokenizerOnly the cache lacks the weights.
	if _, err := Resolve(context.Background(), testRepo, Options{CacheDir: cache, Offline: true}); err == nil || !strings.Contains(err.Error(), "no complete weights") {
		t.Errorf("offline without TokenizerOnly: err = %v", err)
	}
	opts.Offline = false
	if _, err := Resolve(context.Background(), "acme/tok-only", opts); err != nil {
		t.Errorf("repo without weights: %v", err)
	}
	if _, err := Resolve(context.Background(), "acme/no-tok", opts); err == nil || !strings.Contains(err.Error(), "has no tokenizer") {
		t.Errorf("repo without tokenizer: err = %v", err)
	}
}

// TestFullFetchHasTokenizerFiles: a full download fetches every file a
// TokenizerOnly download does, so that loft tokenize and loft generate read
// the same tokenizer (added_tokens.json was fetched by the first only).
func TestFullFetchHasTokenizerFiles(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	files := tinyFiles()
	for _, name := range TokenizerFiles {
		if _, ok := files[name]; !ok {
			files[name] = fakeFile{data: []byte(`{"` + name + `":1}`)}
		}
	}
	f.addRepo(testRepo, commitOf("c1"), files)
	dir, err := Resolve(context.Background(), testRepo, testOptions(f, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range TokenizerFiles {
		if !exists(filepath.Join(dir, name)) {
			t.Errorf("full download lacks %s", name)
		}
	}
}

// TestMistypedGGUFPath: a missing relative .gguf path that reads as a file
// of a repo says it is no local file either.
func TestMistypedGGUFPath(t *testing.T) {
	cleanEnv(t)
	const ref = "models/stories/x.gguf"
	_, err := Resolve(context.Background(), ref, Options{Offline: true})
	if err == nil || !strings.Contains(err.Error(), ref+" is not a local file or folder either") {
		t.Errorf("err = %v", err)
	}
}
