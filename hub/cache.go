package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/loftml/loft/internal/fileio"
	"github.com/loftml/loft/internal/jsonerr"
)

// Weight file names that loft reads from a Hub snapshot.
const (
	weightsFile = "model.safetensors"
	indexFile   = "model.safetensors.index.json"
)

// optionalFiles are fetched when the repo has them; a repo without them is
// fine. They include every one of TokenizerFiles, so that every command
// reads the same tokenizer (tokenizer/load.go reads added_tokens.json).
var optionalFiles = []string{
	"config.json",
	"generation_config.json",
	"tokenizer.json",
	"tokenizer_config.json",
	"tokenizer.model",
	"special_tokens_map.json",
	"added_tokens.json",
	"vocab.json",
	"merges.txt",
	"chat_template.jinja",
}

// TokenizerFiles are the files Options.TokenizerOnly fetches when the repo
// has them: everything a tokenizer or chat template may be read from.
var TokenizerFiles = []string{
	"tokenizer.json",
	"tokenizer_config.json",
	"tokenizer.model",
	"vocab.json",
	"merges.txt",
	"special_tokens_map.json",
	"added_tokens.json",
	"chat_template.jinja",
	"config.json",
}

// tokenizerModels are the files that hold a tokenizer's vocabulary; a
// tokenizer-only snapshot needs one of them.
var tokenizerModels = []string{"tokenizer.json", "tokenizer.model", "vocab.json"}

// CacheDir returns the Hugging Face hub cache folder, looked up as Python's
// huggingface_hub does: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE (legacy),
// else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub. A leading "~/" is expanded.
func CacheDir() (string, error) {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("HUGGINGFACE_HUB_CACHE"); d != "" {
		return expandHome(d)
	}
	home, err := hfHome()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "hub"), nil
}

// hfHome is $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
func hfHome() (string, error) {
	if d := os.Getenv("HF_HOME"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		d, err := expandHome(d)
		return filepath.Join(d, "huggingface"), err
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("hub: no home folder for the default cache ~/.cache/huggingface (set HF_HUB_CACHE or HF_HOME): %w", err)
	}
	return filepath.Join(home, ".cache", "huggingface"), nil
}

func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("hub: cannot expand %q: %w", p, err)
	}
	return filepath.Join(home, strings.TrimPrefix(p[1:], "/")), nil
}

// offlineFromEnv reports whether the environment asks for offline mode, and
// which variable decided, as huggingface_hub reads it: $HF_HUB_OFFLINE, or
// when that is unset $TRANSFORMERS_OFFLINE, is 1, ON, YES or TRUE (so a set
// HF_HUB_OFFLINE=0 wins over TRANSFORMERS_OFFLINE=1).
func offlineFromEnv() (bool, string) {
	name := "HF_HUB_OFFLINE"
	v := os.Getenv(name)
	if v == "" {
		name = "TRANSFORMERS_OFFLINE"
		v = os.Getenv(name)
	}
	switch strings.ToUpper(v) {
	case "1", "ON", "YES", "TRUE":
		return true, name
	}
	return false, name
}

// findToken returns the access token and where it came from, found as
// huggingface_hub's get_token finds it: explicit (Options.Token), else
// $HF_TOKEN, else the legacy $HUGGING_FACE_HUB_TOKEN (read only when
// HF_TOKEN is empty), else the token file; each cleaned by cleanToken.
func findToken(explicit string) (token, from string) {
	if t := cleanToken(explicit); t != "" {
		return t, "Options.Token"
	}
	from = "HF_TOKEN"
	v := os.Getenv(from)
	if v == "" {
		from = "HUGGING_FACE_HUB_TOKEN"
		v = os.Getenv(from)
	}
	if t := cleanToken(v); t != "" {
		return t, from
	}
	return tokenFromFile()
}

// tokenFromFile reads the token that `hf auth login` stores: $HF_TOKEN_PATH,
// else $HF_HOME/token. A missing file means no token. It returns the path
// too, for messages.
func tokenFromFile() (token, path string) {
	p := os.Getenv("HF_TOKEN_PATH")
	if p == "" {
		home, err := hfHome()
		if err != nil {
			return "", ""
		}
		p = filepath.Join(home, "token")
	} else if e, err := expandHome(p); err == nil {
		p = e
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", p
	}
	return cleanToken(string(b)), p
}

// cleanToken removes every \r and \n of a token and the spaces around it,
// as huggingface_hub's _clean_token does: a token pasted from a file or a
// CRLF .env keeps them, and net/http refuses a header holding them.
func cleanToken(t string) string {
	return strings.TrimSpace(strings.NewReplacer("\r", "", "\n", "").Replace(t))
}

// repoCache is one repo's folder inside the cache.
type repoCache struct {
	dir string // <cache>/models--org--name
}

func (c repoCache) snapshotDir(commit string) string {
	return filepath.Join(c.dir, "snapshots", commit)
}

func (c repoCache) blobPath(etag string) string {
	return filepath.Join(c.dir, "blobs", etag)
}

// lockPath is <cache>/.locks/models--org--name/<etag>.lock, the lock file
// Python's huggingface_hub takes while it writes that blob.
func (c repoCache) lockPath(etag string) string {
	return filepath.Join(filepath.Dir(c.dir), ".locks", filepath.Base(c.dir), etag+".lock")
}

func (c repoCache) refPath(rev string) string {
	return filepath.Join(c.dir, "refs", filepath.FromSlash(rev))
}

// readRef returns the commit stored in refs/<rev>, or "" when there is none.
func (c repoCache) readRef(rev string) (string, error) {
	b, err := os.ReadFile(c.refPath(rev))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("hub: read ref: %w", err)
	}
	commit := strings.TrimSpace(string(b))
	if !isCommitHash(commit) {
		return "", fmt.Errorf("hub: %s holds %q, not a commit hash", c.refPath(rev), commit)
	}
	return commit, nil
}

// writeRef stores commit in refs/<rev> (no trailing newline, as Python's
// huggingface_hub writes it), atomically through a temporary file.
func (c repoCache) writeRef(rev, commit string) error {
	p := c.refPath(rev)
	if old, err := os.ReadFile(p); err == nil && string(old) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		return fmt.Errorf("hub: write ref: %w", err)
	}
	if err := fileio.WriteFile(p, []byte(commit)); err != nil {
		return fmt.Errorf("hub: write %w", err)
	}
	return nil
}

// link points snapshots/<commit>/<name> at blobs/<etag> with a relative
// symlink ("../../blobs/<etag>", one more "../" per folder level in name),
// replacing whatever was there through a rename so readers never see a gap.
func (c repoCache) link(commit, name, etag string) error {
	dst := filepath.Join(c.snapshotDir(commit), filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o777); err != nil {
		return fmt.Errorf("hub: link %s: %w", name, err)
	}
	target, err := filepath.Rel(filepath.Dir(dst), c.blobPath(etag))
	if err != nil {
		return fmt.Errorf("hub: link %s: %w", name, err)
	}
	tmp := dst + ".tmp-link-" + strconv.Itoa(os.Getpid())
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("hub: link %s -> %s: %w", dst, target, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("hub: link %s -> %s: %w", dst, target, err)
	}
	return nil
}

// markMissing records that name is absent at commit, as Python's
// huggingface_hub does in .no_exist/<commit>/<name>. Failure is harmless.
func (c repoCache) markMissing(commit, name string) {
	p := c.missingMarker(commit, name)
	if os.MkdirAll(filepath.Dir(p), 0o777) == nil {
		if f, err := os.Create(p); err == nil {
			f.Close()
		}
	}
}

// unmarkMissing removes name's .no_exist marker at commit. Failure is
// harmless: the file is then skipped as before.
func (c repoCache) unmarkMissing(commit, name string) {
	os.Remove(c.missingMarker(commit, name))
}

// markedMissing reports whether markMissing recorded name as absent at
// commit (a commit never changes, so the marker stays true).
func (c repoCache) markedMissing(commit, name string) bool {
	return exists(c.missingMarker(commit, name))
}

// missingMarker is the path of name's .no_exist marker at commit.
func (c repoCache) missingMarker(commit, name string) string {
	return filepath.Join(c.dir, ".no_exist", commit, filepath.FromSlash(name))
}

// exists reports whether p exists, following symlinks: a snapshot link whose
// blob is gone counts as missing.
func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// shardsOf reads a safetensors index and returns the distinct shard file
// names of its weight_map, sorted. Every name must be a plain relative path.
func shardsOf(indexPath string) ([]string, error) {
	b, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("hub: read %s: %w", indexPath, err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("hub: %s: %w", indexPath, jsonerr.Describe(b, err))
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("hub: %s: empty or missing weight_map", indexPath)
	}
	seen := map[string]bool{}
	var shards []string
	for tensor, file := range idx.WeightMap {
		if !isLocalSlashPath(file) {
			return nil, fmt.Errorf("hub: %s: tensor %q maps to %q, not a plain relative file name", indexPath, tensor, file)
		}
		if !seen[file] {
			seen[file] = true
			shards = append(shards, file)
		}
	}
	sort.Strings(shards)
	return shards, nil
}

// complete reports whether snapshots/<commit> holds a full set of weights:
// model.safetensors, or the index and every shard it names.
func (c repoCache) complete(commit string) bool {
	snap := c.snapshotDir(commit)
	if exists(filepath.Join(snap, weightsFile)) {
		return true
	}
	shards, err := shardsOf(filepath.Join(snap, indexFile))
	if err != nil {
		return false
	}
	for _, s := range shards {
		if !exists(filepath.Join(snap, filepath.FromSlash(s))) {
			return false
		}
	}
	return true
}

// hasTokenizer reports whether snapshots/<commit> holds a tokenizer
// vocabulary file (tokenizer.json, tokenizer.model or vocab.json).
func (c repoCache) hasTokenizer(commit string) bool {
	for _, name := range tokenizerModels {
		if exists(filepath.Join(c.snapshotDir(commit), name)) {
			return true
		}
	}
	return false
}
