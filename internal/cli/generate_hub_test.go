package cli

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// serveHubRepo serves the files of dir as the Hub repo id at commit, with
// the Hub's URL layout (GET /api/models/{id}/revision/{rev} and
// GET /{id}/resolve/{rev}/{file}), files identified by their git blob sha1
// as the Hub does for non-LFS files. Requests without "Bearer "+token are
// answered 401. It returns the server and a count of file requests.
func serveHubRepo(t *testing.T, dir, id, commit, token string) (*httptest.Server, func() int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if files[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	fileCalls := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("X-Error-Code", "RepoNotFound")
			http.Error(w, `{"error":"Repository not found"}`, http.StatusUnauthorized)
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/api/models/"+id+"/revision/"); ok && (rest == "main" || rest == commit) {
			var sib []map[string]string
			for name := range files {
				sib = append(sib, map[string]string{"rfilename": name})
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"id": id, "sha": commit, "siblings": sib})
			return
		}
		for _, rev := range []string{"main", commit} {
			name, ok := strings.CutPrefix(r.URL.Path, "/"+id+"/resolve/"+rev+"/")
			data, found := files[name]
			if !ok || !found {
				continue
			}
			mu.Lock()
			fileCalls++
			mu.Unlock()
			s := sha1.New()
			fmt.Fprintf(s, "blob %d\x00", len(data))
			s.Write(data)
			w.Header().Set("X-Repo-Commit", commit)
			w.Header().Set("ETag", `"`+hex.EncodeToString(s.Sum(nil))+`"`)
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data)
			return
		}
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.Error(w, `{"error":"Entry not found"}`, http.StatusNotFound)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return fileCalls }
}

// TestGenerateHubDownload runs `loft generate --model org/name` against a
// local server with the Hub's URL layout (HF_ENDPOINT, HF_TOKEN): the model
// lands in HF_HUB_CACHE in huggingface_hub's layout, stdout holds the same
// text as from the local folder and nothing else (the progress goes to
// stderr), and a second run offline reuses the cache without a request.
func TestGenerateHubDownload(t *testing.T) {
	src := writeTinyModel(t, false)
	const id, token = "loft-test/tiny", "hf_secret"
	commit := strings.Repeat("c0", 20)
	srv, fileCalls := serveHubRepo(t, src, id, commit, token)
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_OFFLINE", "0")
	t.Setenv("HF_TOKEN", "")

	args := []string{"--prompt", "Hello", "--max-new-tokens", "10", "--temperature", "0"}
	_, local, _ := run(t, append([]string{"generate", "--model", src}, args...)...)
	if local == "" {
		t.Fatal("the local folder generated nothing")
	}

	// Without the token the server refuses, and the error says so.
	code, out, errOut := run(t, append([]string{"generate", "--model", id}, args...)...)
	if code != ExitError || out != "" || !strings.Contains(errOut, id) || !strings.Contains(errOut, "HF_TOKEN") {
		t.Fatalf("without HF_TOKEN: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	t.Setenv("HF_TOKEN", token)
	code, out, errOut = run(t, append([]string{"generate", "--model", id}, args...)...)
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	if out != local {
		t.Errorf("stdout through the Hub %q, from the folder %q", out, local)
	}
	if !strings.Contains(errOut, "model.safetensors") {
		t.Errorf("stderr shows no download progress for model.safetensors: %q", errOut)
	}
	repo := filepath.Join(cache, "models--loft-test--tiny")
	if ref, err := os.ReadFile(filepath.Join(repo, "refs", "main")); err != nil || string(ref) != commit {
		t.Errorf("refs/main = %q (%v), want %q", ref, err, commit)
	}
	link := filepath.Join(repo, "snapshots", commit, "config.json")
	target, err := os.Readlink(link)
	if err != nil || filepath.IsAbs(target) || !strings.HasPrefix(target, filepath.Join("..", "..", "blobs")+string(filepath.Separator)) {
		t.Errorf("%s -> %q (%v), want a relative link into blobs/", link, target, err)
	}
	calls := fileCalls()

	t.Setenv("HF_HUB_OFFLINE", "1")
	code, out, errOut = run(t, append([]string{"generate", "--model", id}, args...)...)
	if code != ExitOK || out != local {
		t.Errorf("offline from the cache: code %d, stdout %q (want %q), stderr %q", code, out, local, errOut)
	}
	if n := fileCalls(); n != calls {
		t.Errorf("the offline run made %d file requests", n-calls)
	}
}
