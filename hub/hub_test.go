package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const testRepo = "acme/tiny-llm"

// cleanEnv isolates a test from the machine's Hugging Face settings.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
		"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT", "XDG_CACHE_HOME"} {
		t.Setenv(k, "")
	}
	t.Setenv("HF_HOME", t.TempDir())
}

// tinyFiles is a repo with two regular files and one LFS weight file.
func tinyFiles() map[string]fakeFile {
	return map[string]fakeFile{
		"config.json":           {data: []byte(`{"model_type":"llama","hidden_size":8}`)},
		"tokenizer_config.json": {data: []byte(`{"add_bos_token":true}`)},
		"model.safetensors":     {data: randomBytes(1, 300_000), lfs: true},
	}
}

func testOptions(f *fakeHub, cache string) Options {
	return Options{CacheDir: cache, Endpoint: f.hub.URL}
}

// tree lists every path under dir (relative, slash-separated, symlinks not followed).
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestFreshDownloadLayout(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	files := tinyFiles()
	commit := commitOf("c1")
	f.addRepo(testRepo, commit, files)
	cache := t.TempDir()
	var progress bytes.Buffer
	opts := testOptions(f, cache)
	opts.Progress = &progress

	dir, err := Resolve(context.Background(), testRepo, opts)
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(cache, "models--acme--tiny-llm")
	if want := filepath.Join(repoDir, "snapshots", commit); dir != want {
		t.Fatalf("dir = %s, want %s", dir, want)
	}
	ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main"))
	if err != nil || string(ref) != commit {
		t.Fatalf("refs/main = %q (%v), want %q without newline", ref, err, commit)
	}
	want := []string{"blobs", "refs", "refs/main", "snapshots", "snapshots/" + commit, ".no_exist", ".no_exist/" + commit}
	for name, file := range files {
		want = append(want, "blobs/"+file.etag(), "snapshots/"+commit+"/"+name)
	}
	// Files loft may fetch that the API did not list are marked missing.
	for _, name := range []string{"added_tokens.json", "chat_template.jinja", "generation_config.json", "merges.txt",
		"model.safetensors.index.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "vocab.json"} {
		want = append(want, ".no_exist/"+commit+"/"+name)
	}
	slices.Sort(want)
	if got := tree(t, repoDir); !slices.Equal(got, want) {
		t.Fatalf("cache tree:\n got %q\nwant %q", got, want)
	}
	for name, file := range files {
		p := filepath.Join(dir, name)
		target, err := os.Readlink(p)
		if err != nil {
			t.Fatalf("%s is not a symlink: %v", name, err)
		}
		if wantT := "../../blobs/" + file.etag(); target != wantT {
			t.Errorf("%s -> %s, want %s", name, target, wantT)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, file.data) {
			t.Errorf("%s: content differs (%d bytes, want %d, err %v)", name, len(got), len(file.data), err)
		}
	}
	if api, file, cdn := f.counts(); api != 1 || file != 3 || cdn != 1 {
		t.Errorf("requests: api %d, resolve %d, cdn %d; want 1, 3, 1", api, file, cdn)
	}
	if !strings.Contains(progress.String(), "model.safetensors") || !strings.Contains(progress.String(), "300 kB") {
		t.Errorf("progress output lacks the file name or its size: %q", progress.String())
	}
}

func TestSecondResolveMakesNoFileRequests(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	commit := commitOf("c1")
	f.addRepo(testRepo, commit, tinyFiles())
	opts := testOptions(f, t.TempDir())
	first, err := Resolve(context.Background(), testRepo, opts)
	if err != nil {
		t.Fatal(err)
	}
	api0, file0, cdn0 := f.counts()
	second, err := Resolve(context.Background(), testRepo, opts)
	if err != nil {
		t.Fatal(err)
	}
	api1, file1, cdn1 := f.counts()
	if second != first || api1 != api0+1 || file1 != file0 || cdn1 != cdn0 {
		t.Errorf("second Resolve: dir %s (first %s), api +%d, resolve +%d, cdn +%d; want same dir, +1, +0, +0",
			second, first, api1-api0, file1-file0, cdn1-cdn0)
	}
	// A commit hash never moves: a complete snapshot needs no request at all.
	third, err := Resolve(context.Background(), testRepo+"@"+commit, opts)
	if err != nil {
		t.Fatal(err)
	}
	if api2, file2, cdn2 := f.counts(); third != first || api2 != api1 || file2 != file1 || cdn2 != cdn1 {
		t.Errorf("Resolve @commit: dir %s, api +%d, resolve +%d, cdn +%d; want %s and no requests", third, api2-api1, file2-file1, cdn2-cdn1, first)
	}
}

func TestOffline(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	commit := commitOf("c1")
	f.addRepo(testRepo, commit, tinyFiles())
	cache := t.TempDir()
	opts := testOptions(f, cache)

	t.Setenv("HF_HUB_OFFLINE", "1")
	_, err := Resolve(context.Background(), testRepo, opts)
	if err == nil || !strings.Contains(err.Error(), testRepo) || !strings.Contains(err.Error(), filepath.Join(cache, "models--acme--tiny-llm")) {
		t.Fatalf("offline without cache: err = %v, want one naming the repo and the cache folder", err)
	}
	if api, file, cdn := f.counts(); api+file+cdn != 0 {
		t.Fatalf("offline made %d requests", api+file+cdn)
	}

	t.Setenv("HF_HUB_OFFLINE", "")
	online, err := Resolve(context.Background(), testRepo, opts)
	if err != nil {
		t.Fatal(err)
	}
	api0, file0, cdn0 := f.counts()
	for _, env := range []string{"1", "true", "YES"} {
		t.Setenv("HF_HUB_OFFLINE", env)
		dir, err := Resolve(context.Background(), testRepo, opts)
		if err != nil || dir != online {
			t.Errorf("HF_HUB_OFFLINE=%s: %s, %v; want %s", env, dir, err, online)
		}
	}
	t.Setenv("HF_HUB_OFFLINE", "")
	opts.Offline = true
	if dir, err := Resolve(context.Background(), testRepo, opts); err != nil || dir != online {
		t.Errorf("Options.Offline: %s, %v; want %s", dir, err, online)
	}
	if _, err := Resolve(context.Background(), testRepo+"@dev", opts); err == nil || !strings.Contains(err.Error(), `"dev"`) {
		t.Errorf("offline, uncached branch: err = %v, want one naming the revision", err)
	}
	if api, file, cdn := f.counts(); api != api0 || file != file0 || cdn != cdn0 {
		t.Errorf("offline Resolve made requests")
	}
}

// TestResumeAfterCut: a download whose connection drops midway is resumed
// at once from its partial file with Range (or whole, when the server
// ignores Range), as huggingface_hub's http_get resumes it.
func TestResumeAfterCut(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noRange   bool
		wantRange string
	}{
		{name: "range", wantRange: "bytes=100000-"},
		{name: "server ignores range", noRange: true, wantRange: "bytes=100000-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			f := newFakeHub(t)
			files := tinyFiles()
			f.addRepo(testRepo, commitOf("c1"), files)
			f.set(func() { f.cutAfter, f.noRange = 100_000, tc.noRange })
			cache := t.TempDir()
			opts := testOptions(f, cache)
			opts.retryWait = time.Millisecond
			var notes lockedBuffer
			opts.Progress = &notes
			dir, err := Resolve(context.Background(), testRepo, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(notes.String(), "\nhub: acme/tiny-llm: download of model.safetensors interrupted after 100000 of 300000 bytes") || !strings.Contains(notes.String(), "; resuming") {
				t.Errorf("no note about the cut and the resume: %q", notes.String())
			}
			if got := f.lastRange(); got != tc.wantRange {
				t.Errorf("resume sent Range %q, want %q", got, tc.wantRange)
			}
			got, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
			if err != nil || !bytes.Equal(got, files["model.safetensors"].data) {
				t.Fatalf("resumed file differs: %d bytes, err %v", len(got), err)
			}
			blob := filepath.Join(cache, "models--acme--tiny-llm", "blobs", files["model.safetensors"].etag())
			if _, err := os.Stat(blob + ".incomplete"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("partial file left behind: %v", err)
			}
		})
	}
}

// TestResumeNeedsProgress: a cut download is resumed only while its partial
// file grows. A server that ignores Range and cuts every answer at the same
// byte sends bytes each time but gets no further, so after maxResumes
// resumes without growth the partial file is kept and the error returned
// (it was resumed without end, more than 1000 requests in 3 s).
func TestResumeNeedsProgress(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	f.addRepo(testRepo, commitOf("c1"), tinyFiles())
	f.set(func() { f.noRange, f.cutAfter, f.cutAlways = true, 100_000, true })
	opts := testOptions(f, t.TempDir())
	opts.retryWait = time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Resolve(ctx, testRepo, opts)
	if err == nil || !strings.Contains(err.Error(), "interrupted after 100000 of 300000 bytes") {
		t.Errorf("err = %v, want the cut after 100000 bytes", err)
	}
	// The first cut grows the partial file from nothing; the next
	// maxResumes answers, each cut at the same byte, do not.
	if _, _, cdn := f.counts(); cdn != 1+maxResumes {
		t.Errorf("%d CDN requests, want %d", cdn, 1+maxResumes)
	}
}

// TestLocalWriteError: a download that cannot be written (here the disk is
// full: the partial file is a link to /dev/full) fails at once, naming the
// file, instead of being resumed as if the connection had been cut.
func TestLocalWriteError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	f, files := tinyHub(t)
	cache := t.TempDir()
	blobs := filepath.Join(cache, "models--acme--tiny-llm", "blobs")
	partial := filepath.Join(blobs, files["model.safetensors"].etag()+".incomplete")
	if err := os.MkdirAll(blobs, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", partial); err != nil {
		t.Fatal(err)
	}
	opts := testOptions(f, cache)
	opts.retryWait = time.Millisecond
	var notes lockedBuffer
	opts.Progress = &notes
	_, err := Resolve(context.Background(), testRepo, opts)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), partial) {
		t.Errorf("err = %v, want ENOSPC naming %s", err, partial)
	}
	if _, _, cdn := f.counts(); cdn != 1 || strings.Contains(notes.String(), "resuming") {
		t.Errorf("%d CDN requests, notes %q; want 1 and no resume", cdn, notes.String())
	}
}

// TestStalledServer: a server that sends nothing for the timeout
// ($HF_HUB_ETAG_TIMEOUT for the API call, $HF_HUB_DOWNLOAD_TIMEOUT for a
// file) fails the request instead of hanging: the API call then counts as an
// unreachable Hub (a cached snapshot stands in), and a download that stalls
// midway is resumed, up to 5 times in a row without progress, after which
// its partial file is kept for the next run. Only what is meant to stall
// gets a short timeout, and the checks hold if a busy machine makes another
// read wait that long too (one more resume).
func TestStalledServer(t *testing.T) {
	f, files := tinyHub(t)
	cache := t.TempDir()
	opts := testOptions(f, cache)
	opts.retryWait = time.Millisecond
	var notes lockedBuffer
	opts.Progress = &notes

	// Stalls midway once: resumed where it stopped.
	t.Setenv("HF_HUB_DOWNLOAD_TIMEOUT", "0.5")
	f.set(func() { f.stalls, f.stallAfter = 1, 100_000 })
	dir, err := Resolve(context.Background(), testRepo, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimPrefix(f.cdn.URL, "http://") + " sent nothing for 500ms (HF_HUB_DOWNLOAD_TIMEOUT sets the timeout in seconds)"
	if ranges := f.rangesSeen(); !strings.Contains(notes.String(), want) || !slices.Contains(ranges, "bytes=100000-") {
		t.Errorf("stall midway: note %q, Ranges %q; want a note containing %q and bytes=100000-", notes.String(), ranges, want)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, files["model.safetensors"].data) {
		t.Error("content differs after a resumed stall")
	}

	// The API stalls: with the snapshot cached, it stands in.
	t.Setenv("HF_HUB_ETAG_TIMEOUT", "0.2")
	f.set(func() { f.apiStall = true })
	start := time.Now()
	if d, err := Resolve(context.Background(), testRepo, opts); err != nil || d != dir {
		t.Errorf("API stalled, snapshot cached: %s, %v; want %s", d, err, dir)
	}
	_, err = Resolve(context.Background(), "acme/other", opts)
	if want := "sent nothing for 200ms (HF_HUB_ETAG_TIMEOUT"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("API stalled, nothing cached: err = %v, want one containing %q", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("two stalled API calls took %v", d)
	}
	f.set(func() { f.apiStall = false })
	t.Setenv("HF_HUB_ETAG_TIMEOUT", "")

	// Stalls before any byte, every time: 1 try and 5 resumes, then the
	// partial file is kept.
	t.Setenv("HF_HUB_DOWNLOAD_TIMEOUT", "0.2")
	cache2 := t.TempDir()
	opts.CacheDir = cache2
	_, _, cdn0 := f.counts()
	f.set(func() { f.stalls, f.stallAfter = 100, 0 })
	_, err = Resolve(context.Background(), testRepo, opts)
	if err == nil || !strings.Contains(err.Error(), "sent nothing") || !strings.Contains(err.Error(), "is kept and resumed next time") {
		t.Errorf("stalled every time: err = %v", err)
	}
	if _, _, cdn := f.counts(); cdn-cdn0 != 1+maxResumes {
		t.Errorf("stalled every time: %d CDN requests, want %d", cdn-cdn0, 1+maxResumes)
	}
	if _, err := os.Stat(filepath.Join(cache2, "models--acme--tiny-llm", "blobs", files["model.safetensors"].etag()+".incomplete")); err != nil {
		t.Errorf("partial file not kept: %v", err)
	}

	t.Setenv("HF_HUB_DOWNLOAD_TIMEOUT", "ten")
	if _, err := Resolve(context.Background(), testRepo, opts); err == nil || !strings.Contains(err.Error(), `HF_HUB_DOWNLOAD_TIMEOUT="ten"`) {
		t.Errorf("bad timeout: err = %v, want one naming HF_HUB_DOWNLOAD_TIMEOUT", err)
	}
}

func TestCancelKeepsPartial(t *testing.T) {
	f, files := tinyHub(t)
	f.set(func() { f.hold, f.holdAfter = make(chan struct{}), 120_000 })
	cache := t.TempDir()
	partial := filepath.Join(cache, "models--acme--tiny-llm", "blobs", files["model.safetensors"].etag()+".incomplete")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the download has written something; the server then
		// holds the connection open with the rest of the body unsent.
		for range 500 {
			if fi, err := os.Stat(partial); err == nil && fi.Size() > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	_, err := Resolve(ctx, testRepo, testOptions(f, cache))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	fi, err := os.Stat(partial)
	if err != nil || fi.Size() == 0 || fi.Size() > 120_000 {
		t.Fatalf("partial file after cancel: %v, %v; want 1..120000 bytes", fi, err)
	}
	n := fi.Size()
	dir, err := Resolve(context.Background(), testRepo, testOptions(f, cache))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.lastRange(), "bytes="+itoa(n)+"-"; got != want {
		t.Errorf("resume sent Range %q, want %q", got, want)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if !bytes.Equal(got, files["model.safetensors"].data) {
		t.Errorf("resumed file differs")
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestSHA256Mismatch(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	files := tinyFiles()
	commit := commitOf("c1")
	f.addRepo(testRepo, commit, files)
	f.set(func() { f.corrupt = true })
	cache := t.TempDir()
	_, err := Resolve(context.Background(), testRepo, testOptions(f, cache))
	if err == nil || !strings.Contains(err.Error(), "sha256") || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("err = %v, want a sha256 mismatch naming the file", err)
	}
	repoDir := filepath.Join(cache, "models--acme--tiny-llm")
	etag := files["model.safetensors"].etag()
	for _, p := range []string{"blobs/" + etag, "blobs/" + etag + ".incomplete", "snapshots/" + commit + "/model.safetensors"} {
		if _, err := os.Lstat(filepath.Join(repoDir, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after a failed check", p)
		}
	}
}

func TestShardedSafetensors(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	index, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"total_size": 500},
		"weight_map": map[string]string{
			"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
			"model.norm.weight":         "model-00002-of-00002.safetensors",
			"lm_head.weight":            "model-00002-of-00002.safetensors",
		},
	})
	files := map[string]fakeFile{
		"config.json":                      {data: []byte(`{}`)},
		indexFile:                          {data: index},
		"model-00001-of-00002.safetensors": {data: randomBytes(2, 70_000), lfs: true},
		"model-00002-of-00002.safetensors": {data: randomBytes(3, 50_000), lfs: true},
	}
	commit := commitOf("sharded")
	r := f.addRepo(testRepo, commit, files)
	cache := t.TempDir()
	dir, err := Resolve(context.Background(), testRepo, testOptions(f, cache))
	if err != nil {
		t.Fatal(err)
	}
	for name, file := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, file.data) {
			t.Errorf("%s: %d bytes, err %v", name, len(got), err)
		}
	}
	if !(repoCache{dir: filepath.Join(cache, "models--acme--tiny-llm")}).complete(commit) {
		t.Error("complete() = false for a fully downloaded sharded snapshot")
	}

	// An index naming a shard the repo lacks is an error naming the shard.
	commit2 := commitOf("broken")
	files2 := map[string]fakeFile{indexFile: files[indexFile], "model-00001-of-00002.safetensors": files["model-00001-of-00002.safetensors"]}
	f.set(func() {
		r.commits[commit2] = files2
		r.refs["broken"] = commit2
	})
	_, err = Resolve(context.Background(), testRepo+"@broken", testOptions(f, cache))
	if err == nil || !strings.Contains(err.Error(), "model-00002-of-00002.safetensors") {
		t.Errorf("missing shard: err = %v", err)
	}
}

// tinyHub cleans the environment and starts a fake Hub that holds
// tinyFiles as testRepo at commit "c1".
func tinyHub(t *testing.T) (*fakeHub, map[string]fakeFile) {
	cleanEnv(t)
	f := newFakeHub(t)
	files := tinyFiles()
	f.addRepo(testRepo, commitOf("c1"), files)
	return f, files
}

// gatedHub cleans the environment and starts a fake Hub that holds
// testRepo as a gated repo, open to token.
func gatedHub(t *testing.T, token string) *fakeHub {
	cleanEnv(t)
	f := newFakeHub(t)
	f.set(func() { f.token = token })
	gated := f.addRepo(testRepo, commitOf("c1"), tinyFiles())
	f.set(func() { gated.gated = true })
	return f
}

func TestTokenAndGatedRepo(t *testing.T) {
	f := gatedHub(t, "hf_secret")
	cache := t.TempDir()

	_, err := Resolve(context.Background(), testRepo, testOptions(f, cache))
	if err == nil || !strings.Contains(err.Error(), "HF_TOKEN") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("no token: err = %v, want a 401 error mentioning HF_TOKEN", err)
	}
	t.Setenv("HF_TOKEN", "hf_wrong")
	_, err = Resolve(context.Background(), testRepo, testOptions(f, cache))
	if err == nil || !strings.Contains(err.Error(), "gated") || !strings.Contains(err.Error(), "403") {
		t.Fatalf("wrong token: err = %v, want a 403 gated-repo error", err)
	}
	t.Setenv("HF_TOKEN", "hf_secret")
	if _, err := Resolve(context.Background(), testRepo, testOptions(f, cache)); err != nil {
		t.Fatal(err)
	}
	hubAuth, cdnAuth := f.auths()
	if last := hubAuth[len(hubAuth)-1]; last != "Bearer hf_secret" {
		t.Errorf("Authorization = %q, want Bearer hf_secret", last)
	}
	if len(cdnAuth) == 0 {
		t.Error("no CDN request seen")
	}
	for _, a := range cdnAuth {
		if a != "" {
			t.Errorf("the token was sent to the CDN: %q", a)
		}
	}
}

func TestTokenFile(t *testing.T) {
	f := gatedHub(t, "hf_from_file")
	if err := os.WriteFile(filepath.Join(os.Getenv("HF_HOME"), "token"), []byte("hf_from_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(context.Background(), testRepo, testOptions(f, t.TempDir())); err != nil {
		t.Fatalf("token from $HF_HOME/token: %v", err)
	}
}

// TestTokenFromEnv: the token is found and cleaned as huggingface_hub's
// get_token does: $HF_TOKEN, else the legacy $HUGGING_FACE_HUB_TOKEN, else
// the token file, each with \r and \n removed and spaces trimmed (a token
// pasted from a CRLF file was sent as is, refused by net/http, and reported
// as an unreachable Hub). A token no header may carry is an error naming
// its variable, not a network error, and only when it would be sent.
func TestTokenFromEnv(t *testing.T) {
	f := gatedHub(t, "hf_secret")
	cache := t.TempDir()
	tokenFile := filepath.Join(os.Getenv("HF_HOME"), "token")
	for _, tc := range []struct{ hfToken, legacy, file string }{
		{hfToken: " hf_secret\r\n"},
		{hfToken: "hf_sec\r\nret"},
		{legacy: "hf_secret\n"},
		{hfToken: "\r\n", legacy: "hf_wrong", file: "hf_secret\r\n"},
	} {
		t.Setenv("HF_TOKEN", tc.hfToken)
		t.Setenv("HUGGING_FACE_HUB_TOKEN", tc.legacy)
		os.Remove(tokenFile)
		if tc.file != "" {
			os.WriteFile(tokenFile, []byte(tc.file), 0o600)
		}
		if _, err := Resolve(context.Background(), testRepo, testOptions(f, cache)); err != nil {
			t.Errorf("HF_TOKEN %q, HUGGING_FACE_HUB_TOKEN %q, file %q: %v", tc.hfToken, tc.legacy, tc.file, err)
		}
	}

	// The snapshot is cached now, yet a bad token is no outage to work around.
	os.Remove(tokenFile)
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_TOKEN", "hf_\x7fsecret")
	_, err := Resolve(context.Background(), testRepo, testOptions(f, cache))
	if want := "the token from HF_TOKEN holds byte 0x7f"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("token with a DEL: err = %v, want one containing %q", err, want)
	}
	opts := testOptions(f, cache)
	opts.Offline = true
	if _, err := Resolve(context.Background(), testRepo, opts); err != nil {
		t.Errorf("offline, token with a DEL: %v", err)
	}
}

// TestTransformersOffline: $TRANSFORMERS_OFFLINE turns offline mode on when
// $HF_HUB_OFFLINE is unset, as huggingface_hub reads them
// (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE: a set HF_HUB_OFFLINE wins).
func TestTransformersOffline(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	f.addRepo(testRepo, commitOf("c1"), tinyFiles())
	t.Setenv("TRANSFORMERS_OFFLINE", "1")
	_, err := Resolve(context.Background(), testRepo, testOptions(f, t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "offline mode (TRANSFORMERS_OFFLINE)") {
		t.Errorf("TRANSFORMERS_OFFLINE=1: err = %v, want an offline error naming it", err)
	}
	if api, _, _ := f.counts(); api != 0 {
		t.Errorf("TRANSFORMERS_OFFLINE=1: %d API calls", api)
	}
	t.Setenv("HF_HUB_OFFLINE", "0")
	if _, err := Resolve(context.Background(), testRepo, testOptions(f, t.TempDir())); err != nil {
		t.Errorf("HF_HUB_OFFLINE=0 beside TRANSFORMERS_OFFLINE=1: %v", err)
	}
}

func TestEndpointFromEnv(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	f.addRepo(testRepo, commitOf("c1"), tinyFiles())
	t.Setenv("HF_ENDPOINT", f.hub.URL+"/")
	if _, err := Resolve(context.Background(), testRepo, Options{CacheDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if api, _, _ := f.counts(); api != 1 {
		t.Errorf("HF_ENDPOINT not used: %d API calls", api)
	}
	t.Setenv("HF_ENDPOINT", "ftp://example")
	if _, err := Resolve(context.Background(), testRepo, Options{CacheDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "HF_ENDPOINT") {
		t.Errorf("bad HF_ENDPOINT: err = %v", err)
	}
}

// TestRedirectedAPI: the Hub answers the old id of a renamed repo with a
// relative 307 to the new id, for the API call as for resolve/; both are
// followed (as requests follows them for huggingface_hub), with the token,
// since they stay on the Hub's host. An API call redirected to another host
// is followed without the token; a redirect loop ends with an error naming
// the URL.
func TestRedirectedAPI(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	gated := f.addRepo(testRepo, commitOf("c1"), tinyFiles())
	f.set(func() {
		f.token = "hf_secret"
		gated.gated = true
		f.renamed = map[string]string{"acme/old-name": testRepo}
	})
	opts := testOptions(f, t.TempDir())
	opts.Token = "hf_secret"
	dir, err := Resolve(context.Background(), "acme/old-name", opts)
	if err != nil {
		t.Fatalf("renamed repo: %v", err)
	}
	if want := filepath.Join(opts.CacheDir, "models--acme--old-name", "snapshots", commitOf("c1")); dir != want {
		t.Errorf("renamed repo: %s, want %s (the cache folder of the id asked for, as huggingface_hub)", dir, want)
	}
	hubAuth, _ := f.auths()
	for i, a := range hubAuth {
		if a != "Bearer hf_secret" {
			t.Errorf("Hub request %d after a same-host redirect: Authorization %q", i, a)
		}
	}

	// An endpoint whose API answers redirect to another host.
	public := newFakeHub(t)
	public.addRepo(testRepo, commitOf("c2"), tinyFiles())
	var loop bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case loop:
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/api/"):
			http.Redirect(w, r, public.hub.URL+r.URL.Path, http.StatusTemporaryRedirect)
		default:
			public.hub.Config.Handler.ServeHTTP(w, r)
		}
	}))
	defer front.Close()
	opts = Options{CacheDir: t.TempDir(), Endpoint: front.URL, Token: "hf_secret"}
	if _, err := Resolve(context.Background(), testRepo, opts); err != nil {
		t.Fatalf("API redirected to another host: %v", err)
	}
	if hubAuth, _ := public.auths(); hubAuth[0] != "" {
		t.Errorf("the token went to another host: %q", hubAuth[0])
	}
	loop = true
	_, err = Resolve(context.Background(), testRepo, Options{CacheDir: t.TempDir(), Endpoint: front.URL})
	if want := "more than 10 redirects from " + front.URL + "/api/models/" + testRepo; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("redirect loop: err = %v, want one containing %q", err, want)
	}
}

// TestRedirectedAPIErrors: errors about an API call redirected to another
// host print its URL without the query (which may hold a signature), and an
// error answer from that host is reported at once as that host's, without
// reading its body for the Hub's message (a body that never came hung the
// call until the timeout).
func TestRedirectedAPIErrors(t *testing.T) {
	cleanEnv(t)
	var answer string
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch answer {
		case "403 without a body":
			w.WriteHeader(http.StatusForbidden)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "bad sha":
			fmt.Fprint(w, `{"sha":"main"}`)
		default:
			fmt.Fprint(w, `{"sha":`)
		}
	}))
	defer back.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	target := back.URL
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.Path+"?Signature=secret", http.StatusTemporaryRedirect)
	}))
	defer front.Close()
	for _, tc := range []struct{ answer, target, want string }{
		{"bad JSON", back.URL, "bad API answer from " + back.URL + "/api/models/"},
		{"bad sha", back.URL, "API answer from " + back.URL + "/api/models/"},
		{"unreachable", gone.URL, "cannot reach " + gone.URL + "/api/models/"},
		{"403 without a body", back.URL, "answered HTTP 403 for " + back.URL + "/api/models/"},
	} {
		answer, target = tc.answer, tc.target
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := Resolve(ctx, testRepo, Options{CacheDir: t.TempDir(), Endpoint: front.URL})
		if ctx.Err() != nil {
			t.Errorf("%s: still waiting after 2 s", tc.answer)
		}
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: err = %v, want one containing %q and no query", tc.answer, err, tc.want)
		}
	}
}

func TestCacheDirPrecedence(t *testing.T) {
	home := t.TempDir()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"HF_HUB_CACHE wins", map[string]string{"HF_HUB_CACHE": "/c/hub", "HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HOME": "/h", "XDG_CACHE_HOME": "/x"}, "/c/hub"},
		{"legacy HUGGINGFACE_HUB_CACHE", map[string]string{"HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HOME": "/h", "XDG_CACHE_HOME": "/x"}, "/legacy"},
		{"HF_HOME", map[string]string{"HF_HOME": "/h", "XDG_CACHE_HOME": "/x"}, "/h/hub"},
		{"XDG_CACHE_HOME", map[string]string{"XDG_CACHE_HOME": "/x"}, "/x/huggingface/hub"},
		{"home", nil, filepath.Join(home, ".cache", "huggingface", "hub")},
		{"tilde", map[string]string{"HF_HOME": "~/hf"}, filepath.Join(home, "hf", "hub")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"} {
				t.Setenv(k, tc.env[k])
			}
			t.Setenv("HOME", home)
			got, err := CacheDir()
			if err != nil || got != tc.want {
				t.Errorf("CacheDir() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}

	// End to end: with no CacheDir option, files land in $HF_HOME/hub.
	cleanEnv(t)
	f := newFakeHub(t)
	f.addRepo(testRepo, commitOf("c1"), tinyFiles())
	dir, err := Resolve(context.Background(), testRepo, Options{Endpoint: f.hub.URL})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(os.Getenv("HF_HOME"), "hub", "models--acme--tiny-llm", "snapshots", commitOf("c1")); dir != want {
		t.Errorf("dir = %s, want %s", dir, want)
	}
}

func TestBadReferences(t *testing.T) {
	cleanEnv(t)
	local := t.TempDir()
	gguf := filepath.Join(local, "m.gguf")
	other := filepath.Join(local, "notes.txt")
	os.WriteFile(gguf, []byte("GGUF"), 0o644)
	os.WriteFile(other, []byte("x"), 0o644)
	for _, ref := range []string{local, gguf} {
		if got, err := Resolve(context.Background(), ref, Options{Offline: true}); err != nil || got != ref {
			t.Errorf("Resolve(%q) = %q, %v; want it back unchanged", ref, got, err)
		}
	}
	for _, tc := range []struct{ ref, want string }{
		{"", "empty model reference"},
		{"a/b/c", "stat a/b/c: no such file or directory (a Hub repo id would be org/name)"},
		{filepath.Join(local, "no", "such", "model"), "no such file or directory"},
		{"./model", "stat ./model: no such file"},
		{"~/models/x", "no such file"},
		{"models/stories/", "stat models/stories/: no such file"},
		{"org/name/x@main", "no such file"},
		{"gpt2", "exactly one '/' (one-part ids such as gpt2 now live under an organisation: openai-community/gpt2"},
		{"org/", "empty part"},
		{"org/name@", "empty revision"},
		{"org/name@../../etc", "not a valid branch"},
		{"org/na me", "not allowed"},
		{"org/a--b", "'--'"},
		{"org/-name", "start or end"},
		{other, "not a .gguf file"},
		{filepath.Join(local, "missing.gguf"), "does not exist"},
	} {
		_, err := Resolve(context.Background(), tc.ref, Options{Offline: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Resolve(%q): err = %v, want one containing %q", tc.ref, err, tc.want)
		}
	}
}

// TestMistypedLocalPath: a reference that is no local path but reads as a
// repo id, offline or with the Hub unreachable, gets an error saying it is
// not a local path either, so a mistyped folder is not mistaken for a
// network problem.
func TestMistypedLocalPath(t *testing.T) {
	cleanEnv(t)
	const ref = "models/stories"
	for _, opts := range []Options{{Offline: true}, {Endpoint: "http://127.0.0.1:1"}} {
		_, err := Resolve(context.Background(), ref, opts)
		if err == nil || !strings.Contains(err.Error(), ref+" is not a local file or folder either") {
			t.Errorf("offline %v: err = %v", opts.Offline, err)
		}
	}
}

func TestRevisionBranch(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	r := f.addRepo(testRepo, commitOf("c1"), tinyFiles())
	dev := commitOf("dev")
	devFiles := tinyFiles()
	devFiles["config.json"] = fakeFile{data: []byte(`{"model_type":"llama","hidden_size":16}`)}
	f.set(func() {
		r.commits[dev] = devFiles
		r.refs["dev"] = dev
	})
	cache := t.TempDir()
	dir, err := Resolve(context.Background(), testRepo+"@dev", testOptions(f, cache))
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(cache, "models--acme--tiny-llm")
	if dir != filepath.Join(repoDir, "snapshots", dev) {
		t.Errorf("dir = %s, want the dev commit's snapshot", dir)
	}
	if ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "dev")); err != nil || string(ref) != dev {
		t.Errorf("refs/dev = %q, %v; want %s", ref, err, dev)
	}
	if _, err := os.Stat(filepath.Join(repoDir, "refs", "main")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refs/main written for @dev")
	}
	// main shares the weights blob: it is linked, not downloaded again.
	_, _, cdn0 := f.counts()
	if _, err := Resolve(context.Background(), testRepo, testOptions(f, cache)); err != nil {
		t.Fatal(err)
	}
	if _, _, cdn1 := f.counts(); cdn1 != cdn0 {
		t.Errorf("shared blob downloaded again (%d CDN requests)", cdn1-cdn0)
	}
	if _, err := Resolve(context.Background(), testRepo+"@nope", testOptions(f, cache)); err == nil || !strings.Contains(err.Error(), `revision "nope" not found`) {
		t.Errorf("unknown revision: err = %v", err)
	}
}

func TestRepoNotFoundAndNoWeights(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	f.addRepo("acme/no-weights", commitOf("nw"), map[string]fakeFile{"config.json": {data: []byte(`{}`)}})
	_, err := Resolve(context.Background(), "acme/missing", testOptions(f, t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "acme/missing not found") {
		t.Errorf("unknown repo: err = %v", err)
	}
	_, err = Resolve(context.Background(), "acme/no-weights", testOptions(f, t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "acme/no-weights") || !strings.Contains(err.Error(), "no safetensors weights") {
		t.Errorf("no weights: err = %v", err)
	}
}

func TestOptional404AndUnlistedFiles(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	commit := commitOf("c1")
	r := f.addRepo(testRepo, commit, tinyFiles())
	f.set(func() { r.hide404["tokenizer_config.json"] = true }) // listed, yet 404
	cache := t.TempDir()
	dir, err := Resolve(context.Background(), testRepo, testOptions(f, cache))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cache, "models--acme--tiny-llm", ".no_exist", commit, "tokenizer_config.json")); err != nil {
		t.Errorf("no .no_exist marker: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "tokenizer_config.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("404 file linked in the snapshot")
	}

	// Without a file list, every candidate is tried and 404s are skipped.
	f.set(func() { f.noSiblings = true })
	cache2 := t.TempDir()
	if _, err := Resolve(context.Background(), testRepo, testOptions(f, cache2)); err != nil {
		t.Fatal(err)
	}
	// Every optional name but config.json (tokenizer_config.json is hidden);
	// the index is not tried once model.safetensors is there.
	want := []string{"added_tokens.json", "chat_template.jinja", "generation_config.json", "merges.txt", "special_tokens_map.json",
		"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.json"}
	if got := tree(t, filepath.Join(cache2, "models--acme--tiny-llm", ".no_exist", commit)); !slices.Equal(got, want) {
		t.Errorf(".no_exist markers %q, want %q", got, want)
	}
	// The markers are read back: a second run asks for none of those files.
	_, before, _ := f.counts()
	if _, err := Resolve(context.Background(), testRepo, testOptions(f, cache2)); err != nil {
		t.Fatal(err)
	}
	if _, after, _ := f.counts(); after != before {
		t.Errorf("second run with .no_exist markers: %d file requests, want 0", after-before)
	}
}

// TestUntrustedFileList: .no_exist markers come only from an API file list
// that can be trusted to be whole (not empty, at most 1000 names, holding
// the weights or a .gguf file), as huggingface_hub's snapshot_download
// trusts "siblings" only then; a file that such a list lacks is tried, and
// skipped on the Hub's 404. A list that names a file removes its stale
// marker, so that a list truncated once does not hide the file for good.
func TestUntrustedFileList(t *testing.T) {
	commit := commitOf("c1")
	all := map[string]bool{"README.md": true, ".gitattributes": true}
	for name := range tinyFiles() {
		all[name] = true
	}
	for _, tc := range []struct {
		name     string
		unlisted map[string]bool
		pad      int
	}{
		{name: "empty list", unlisted: all},
		{name: "over 1000 names", unlisted: map[string]bool{"config.json": true}, pad: 1000},
		{name: "no weights listed", unlisted: map[string]bool{"model.safetensors": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			f := newFakeHub(t)
			f.addRepo(testRepo, commit, tinyFiles())
			f.set(func() { f.unlisted, f.padList = tc.unlisted, tc.pad })
			cache := t.TempDir()
			dir, err := Resolve(context.Background(), testRepo, testOptions(f, cache))
			if err != nil {
				t.Fatal(err)
			}
			for name := range tinyFiles() {
				if !exists(filepath.Join(dir, name)) {
					t.Errorf("%s not fetched", name)
				}
				if exists(filepath.Join(cache, "models--acme--tiny-llm", ".no_exist", commit, name)) {
					t.Errorf(".no_exist marker written for %s, which the repo has", name)
				}
			}
		})
	}

	// A short list with the weights is trusted: config.json is marked
	// missing. Once the list names it, the marker goes and it is fetched.
	cleanEnv(t)
	f := newFakeHub(t)
	f.addRepo(testRepo, commit, tinyFiles())
	f.set(func() { f.unlisted = map[string]bool{"config.json": true} })
	cache := t.TempDir()
	marker := filepath.Join(cache, "models--acme--tiny-llm", ".no_exist", commit, "config.json")
	if _, err := Resolve(context.Background(), testRepo, testOptions(f, cache)); err != nil || !exists(marker) {
		t.Fatalf("truncated list: err %v, marker written %v; want nil, true", err, exists(marker))
	}
	f.set(func() { f.unlisted = nil })
	dir, err := Resolve(context.Background(), testRepo, testOptions(f, cache))
	if err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(dir, "config.json")) || exists(marker) {
		t.Errorf("whole list: config.json fetched %v, marker left %v; want true, false", exists(filepath.Join(dir, "config.json")), exists(marker))
	}
}

// TestDownloadServerErrors: an error answer from the CDN (another host than
// the Hub) is reported with its status, host and URL, never with the Hub's
// meanings of 403 and 404 (gated repo, no such repo), and writes no
// .no_exist marker: huggingface_hub writes one only for the Hub's
// EntryNotFound, and a 404 without that code from the Hub (a mirror) skips
// an optional file without one. No message shows a signed URL's signature.
func TestDownloadServerErrors(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	commit := commitOf("c1")
	f.addRepo(testRepo, commit, tinyFiles())
	f.set(func() { f.noSiblings = true }) // every file optional, as in the audit's case
	cdnHost := strings.TrimPrefix(f.cdn.URL, "http://")
	for _, code := range []int{403, 404, 500} {
		f.set(func() { f.cdnStatus = code })
		cache := t.TempDir()
		_, err := Resolve(context.Background(), testRepo, testOptions(f, cache))
		want := fmt.Sprintf("file model.safetensors: the download server %s answered HTTP %d for %s/lfs/", cdnHost, code, f.cdn.URL)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CDN %d: err = %v, want one containing %q", code, err, want)
		} else if msg := err.Error(); strings.Contains(msg, "gated") || strings.Contains(msg, "not found") || strings.Contains(msg, "secret") {
			t.Errorf("CDN %d: err = %v: a Hub meaning, or the URL's signature", code, err)
		}
		if exists(filepath.Join(cache, "models--acme--tiny-llm", ".no_exist", commit, "model.safetensors")) {
			t.Errorf("CDN %d: .no_exist marker written for model.safetensors", code)
		}
	}

	f.set(func() { f.cdnStatus, f.noCodes = 0, true })
	cache := t.TempDir()
	if _, err := Resolve(context.Background(), testRepo, testOptions(f, cache)); err != nil {
		t.Fatalf("404s without X-Error-Code: %v", err)
	}
	if exists(filepath.Join(cache, "models--acme--tiny-llm", ".no_exist")) {
		t.Errorf(".no_exist written for 404s without X-Error-Code")
	}

	// The CDN unreachable: net/http's error quotes the URL, less its query.
	f.cdn.Close()
	_, err := Resolve(context.Background(), testRepo, testOptions(f, t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), f.cdn.URL+"/lfs/") || strings.Contains(err.Error(), "secret") {
		t.Errorf("CDN unreachable: err = %v, want one quoting the URL without its signature", err)
	}
}

func TestUnreachableHubUsesCache(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	f.addRepo(testRepo, commitOf("c1"), tinyFiles())
	cache := t.TempDir()
	opts := testOptions(f, cache)
	first, err := Resolve(context.Background(), testRepo, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.hub.Close()
	var notes lockedBuffer
	opts.Progress = &notes
	dir, err := Resolve(context.Background(), testRepo, opts)
	if err != nil || dir != first {
		t.Fatalf("Hub down: %s, %v; want the cached %s", dir, err, first)
	}
	if !strings.Contains(notes.String(), "cached snapshot") {
		t.Errorf("no note about using the cache: %q", notes.String())
	}
	if _, err := Resolve(context.Background(), "acme/other", opts); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("Hub down, nothing cached: err = %v", err)
	}
}

// TestHubServerErrorUsesCache: a 5xx answer from the API says nothing about
// the repo, so a complete cached snapshot is used, with a note, as when the
// Hub cannot be reached (huggingface_hub's snapshot_download goes to the
// local files on any HTTP error but repo or revision not found and gated).
func TestHubServerErrorUsesCache(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	f.addRepo(testRepo, commitOf("c1"), tinyFiles())
	opts := testOptions(f, t.TempDir())
	first, err := Resolve(context.Background(), testRepo, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{429, 500, 502, 503, 504} {
		f.set(func() { f.apiStatus = code })
		var notes lockedBuffer
		opts.Progress = &notes
		dir, err := Resolve(context.Background(), testRepo, opts)
		if err != nil || dir != first {
			t.Errorf("HTTP %d: %s, %v; want the cached %s", code, dir, err, first)
		}
		if want := fmt.Sprintf("HTTP %d; using the cached snapshot", code); !strings.Contains(notes.String(), want) {
			t.Errorf("HTTP %d: note %q, want one containing %q", code, notes.String(), want)
		}
		if _, err := Resolve(context.Background(), "acme/other", opts); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", code)) {
			t.Errorf("HTTP %d, nothing cached: err = %v", code, err)
		}
	}
}

// cacheFiles puts names of files into snapshots/<commit> of c, as another
// tool (Python's hf_hub_download) would have left them.
func cacheFiles(t *testing.T, c repoCache, commit string, files map[string]fakeFile, names ...string) {
	t.Helper()
	for _, name := range names {
		f := files[name]
		if err := os.MkdirAll(filepath.Join(c.dir, "blobs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.blobPath(f.etag()), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := c.link(commit, name, f.etag()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCommitShortcutNeedsWholeSnapshot: "org/name@<commit>" is answered from
// the cache without a request only when the snapshot holds every file an
// online resolve would fetch, or a .no_exist marker for it. A snapshot with
// the weights alone (left by Python's hf_hub_download of one file) is
// completed online, and offline it is an error naming config.json; offline,
// a snapshot that Python's snapshot_download left (no markers) is used.
func TestCommitShortcutNeedsWholeSnapshot(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	commit := commitOf("c1")
	files := tinyFiles()
	f.addRepo(testRepo, commit, files)
	cache := t.TempDir()
	c := repoCache{dir: filepath.Join(cache, "models--acme--tiny-llm")}
	cacheFiles(t, c, commit, files, "model.safetensors")
	opts := testOptions(f, cache)

	offline := opts
	offline.Offline = true
	_, err := Resolve(context.Background(), testRepo+"@"+commit, offline)
	if err == nil || !strings.Contains(err.Error(), "has no config.json") {
		t.Errorf("offline, weights alone: err = %v, want one naming config.json", err)
	}

	dir, err := Resolve(context.Background(), testRepo+"@"+commit, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"config.json", "tokenizer_config.json"} {
		if !exists(filepath.Join(dir, name)) {
			t.Errorf("@commit over a weights-only snapshot: no %s", name)
		}
	}
	if api, _, _ := f.counts(); api != 1 {
		t.Errorf("@commit over a weights-only snapshot: %d API calls, want 1", api)
	}
	// The file list left .no_exist markers for the rest: now no request.
	api0, file0, cdn0 := f.counts()
	if d, err := Resolve(context.Background(), testRepo+"@"+commit, opts); err != nil || d != dir {
		t.Errorf("second @commit: %s, %v; want %s", d, err, dir)
	}
	if api, file, cdn := f.counts(); api != api0 || file != file0 || cdn != cdn0 {
		t.Errorf("second @commit made %d requests, want 0", api+file+cdn-api0-file0-cdn0)
	}

	// What Python's snapshot_download leaves: every file, no markers.
	cache2 := t.TempDir()
	c2 := repoCache{dir: filepath.Join(cache2, "models--acme--tiny-llm")}
	cacheFiles(t, c2, commit, files, "config.json", "tokenizer_config.json", "model.safetensors")
	offline.CacheDir = cache2
	if d, err := Resolve(context.Background(), testRepo+"@"+commit, offline); err != nil || d != c2.snapshotDir(commit) {
		t.Errorf("offline, Python's snapshot: %s, %v; want %s", d, err, c2.snapshotDir(commit))
	}
}

func TestLinkIsRelative(t *testing.T) {
	c := repoCache{dir: t.TempDir()}
	os.MkdirAll(filepath.Join(c.dir, "blobs"), 0o755)
	os.WriteFile(c.blobPath("abc"), []byte("hi"), 0o644)
	commit := commitOf("x")
	for name, want := range map[string]string{
		"config.json":        "../../blobs/abc",
		"sub/dir/weights.st": "../../../../blobs/abc",
	} {
		if err := c.link(commit, name, "abc"); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(c.snapshotDir(commit), filepath.FromSlash(name))
		if got, _ := os.Readlink(p); got != want {
			t.Errorf("%s -> %s, want %s", name, got, want)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != "hi" {
			t.Errorf("%s does not resolve: %q, %v", name, b, err)
		}
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string]string{`"abc"`: "abc", `W/"abc"`: "abc", "abc": "abc", ` "abc" `: "abc"} {
		if got := normalizeETag(in); got != want {
			t.Errorf("normalizeETag(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 100-299/300", 100, 300, true},
		{"bytes 0-9/*", 0, -1, true},
		{"bytes */300", 0, 0, false},
		{"items 1-2/3", 0, 0, false},
	} {
		s, tot, ok := parseContentRange(tc.in)
		if s != tc.start || tot != tc.total || ok != tc.ok {
			t.Errorf("parseContentRange(%q) = %d, %d, %v; want %d, %d, %v", tc.in, s, tot, ok, tc.start, tc.total, tc.ok)
		}
	}
	for _, e := range []string{"", "../x", ".hidden", "a/b"} {
		if validETag(e) {
			t.Errorf("validETag(%q) = true", e)
		}
	}
	for _, p := range []string{"../x", "/abs", "a//b", "a/./b", `a\b`, ""} {
		if isLocalSlashPath(p) {
			t.Errorf("isLocalSlashPath(%q) = true", p)
		}
	}
	if got := escapePath("sub dir/a#b.json"); got != "sub%20dir/a%23b.json" {
		t.Errorf("escapePath = %q", got)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestStalePartialFiles(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	files := tinyFiles()
	model := files["model.safetensors"]
	f.addRepo(testRepo, commitOf("c1"), files)

	// A partial file as long as the blob: the CDN answers 416, the download starts over.
	cache := t.TempDir()
	partial := filepath.Join(cache, "models--acme--tiny-llm", "blobs", model.etag()+".incomplete")
	os.MkdirAll(filepath.Dir(partial), 0o755)
	os.WriteFile(partial, make([]byte, len(model.data)+5), 0o644)
	dir, err := Resolve(context.Background(), testRepo, testOptions(f, cache))
	if err != nil {
		t.Fatalf("after 416: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, model.data) {
		t.Error("content differs after a 416 restart")
	}

	// A partial file with wrong bytes: resumed, the sha256 fails, the partial
	// file is removed, and the next call downloads it whole.
	cache = t.TempDir()
	partial = filepath.Join(cache, "models--acme--tiny-llm", "blobs", model.etag()+".incomplete")
	os.MkdirAll(filepath.Dir(partial), 0o755)
	bad := append([]byte(nil), model.data[:1000]...)
	bad[10] ^= 1
	os.WriteFile(partial, bad, 0o644)
	_, err = Resolve(context.Background(), testRepo, testOptions(f, cache))
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("corrupt partial: err = %v, want a sha256 mismatch", err)
	}
	if f.lastRange() != "bytes=1000-" {
		t.Errorf("Range %q, want bytes=1000-", f.lastRange())
	}
	if _, err := os.Stat(partial); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("corrupt partial kept: %v", err)
	}
	if _, err := Resolve(context.Background(), testRepo, testOptions(f, cache)); err != nil {
		t.Fatal(err)
	}
}

// TestCompletePartialIsUsed: a .incomplete file as long as the blob (a run
// stopped between its last write and the rename) is checked against the
// blob's sha256 and moved into place without a download; when the check
// fails it is removed and the file downloaded whole. It was asked for with
// a Range past its end, answered 416, and downloaded whole every time.
func TestCompletePartialIsUsed(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	files := tinyFiles()
	model := files["model.safetensors"]
	f.addRepo(testRepo, commitOf("c1"), files)
	for _, tc := range []struct {
		name    string
		partial []byte
		cdn     int
	}{
		{"whole blob", model.data, 0},
		{"same size, other bytes", randomBytes(9, len(model.data)), 1},
	} {
		cache := t.TempDir()
		partial := filepath.Join(cache, "models--acme--tiny-llm", "blobs", model.etag()+".incomplete")
		os.MkdirAll(filepath.Dir(partial), 0o755)
		os.WriteFile(partial, tc.partial, 0o644)
		_, _, cdn0 := f.counts()
		dir, err := Resolve(context.Background(), testRepo, testOptions(f, cache))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if _, _, cdn := f.counts(); cdn-cdn0 != tc.cdn {
			t.Errorf("%s: %d CDN requests, want %d", tc.name, cdn-cdn0, tc.cdn)
		}
		if tc.cdn > 0 && f.lastRange() != "" {
			t.Errorf("%s: Range %q, want none", tc.name, f.lastRange())
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(got, model.data) {
			t.Errorf("%s: content differs", tc.name)
		}
		if _, err := os.Stat(partial); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: partial file left behind: %v", tc.name, err)
		}
	}
}

// TestLateStallTimer: a watchdog timer that fires as its read returns, and
// whose function runs only after disarm, does not cancel the requests: the
// read got its answer. A wait still going on does.
func TestLateStallTimer(t *testing.T) {
	w := newWatchdog(context.Background(), time.Hour, "HF_HUB_DOWNLOAD_TIMEOUT")
	defer w.stop()
	w.arm()
	wait := w.wait
	w.disarm()
	w.expire(wait) // what the timer's function does when it runs late
	if err := context.Cause(w.ctx); err != nil {
		t.Errorf("a late timer after disarm cancelled the requests: %v", err)
	}
	w.arm()
	w.expire(w.wait)
	if err := context.Cause(w.ctx); !errors.Is(err, errStalled) {
		t.Errorf("a wait still going on: cause %v, want errStalled", err)
	}
}
