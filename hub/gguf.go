package hub

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// defaultQuant is the tag picked from a GGUF-only repo when the reference
// names none, as llama.cpp's -hf and ollama do.
const defaultQuant = "Q4_K_M"

// splitGGUF matches the shards of a GGUF split by llama.cpp's gguf-split.
var splitGGUF = regexp.MustCompile(`-\d{5}-of-\d{5}\.gguf$`)

// ggufNames returns the model .gguf files among names, sorted: multimodal
// projector files (mmproj) are not models.
func ggufNames(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.EqualFold(path.Ext(n), ".gguf") && !strings.Contains(strings.ToLower(path.Base(n)), "mmproj") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// snapshotGGUFs lists the .gguf files of a snapshot folder, slash-separated.
func snapshotGGUFs(dir string) []string {
	var names []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if rel, err := filepath.Rel(dir, p); err == nil {
				names = append(names, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	return ggufNames(names)
}

// selectGGUF picks the file for quant among the repo's .gguf files: the one
// whose name contains the tag, case-insensitively; when several do, the one
// where the tag stands between separators ("x-Q4_K.gguf" for Q4_K, not
// "x-Q4_K_M.gguf"). Without a tag it picks Q4_K_M when present, else the
// only file. The error lists the files to choose from.
func selectGGUF(repo Repo, ggufs []string, quant string) (string, error) {
	tag := quant
	if tag == "" {
		tag = defaultQuant
	}
	var hits, whole []string
	for _, n := range ggufs {
		if !strings.Contains(strings.ToLower(path.Base(n)), strings.ToLower(tag)) {
			continue
		}
		hits = append(hits, n)
		if wholeTag(n, tag) {
			whole = append(whole, n)
		}
	}
	if len(hits) > 1 && len(whole) == 1 {
		hits = whole
	}
	switch {
	case len(hits) == 1:
		if splitGGUF.MatchString(hits[0]) {
			return "", fmt.Errorf("hub: %s: %s is one shard of a split GGUF; loft reads single-file GGUF only (merge it with llama.cpp's gguf-split --merge)", repo.ID, hits[0])
		}
		return hits[0], nil
	case len(hits) > 1:
		if allSplit(hits) {
			return "", fmt.Errorf("hub: %s: quantization %s is split into %d files (%s); loft reads single-file GGUF only (merge them with llama.cpp's gguf-split --merge)", repo.ID, tag, len(hits), strings.Join(hits, ", "))
		}
		return "", fmt.Errorf("hub: %s: quantization tag %q matches %d files: %s; name one as %s/FILE.gguf", repo.ID, tag, len(hits), strings.Join(hits, ", "), repo.ID)
	case quant == "" && len(ggufs) == 1:
		return ggufs[0], nil
	case quant == "":
		return "", fmt.Errorf("hub: %s: no %s file to pick by default; name a quantization as %s:QUANT or a file as %s/FILE.gguf; %s", repo.ID, defaultQuant, repo.ID, repo.ID, ggufList(ggufs))
	}
	return "", fmt.Errorf("hub: %s: no .gguf file matches the quantization tag %q; %s", repo.ID, quant, ggufList(ggufs))
}

// wholeTag reports whether tag (case-insensitively) stands between
// separators in the base name of the file: "x-Q4_K.gguf" for Q4_K, not
// "x-Q4_K_M.gguf".
func wholeTag(name, tag string) bool {
	base, t := strings.ToLower(path.Base(name)), strings.ToLower(tag)
	i := strings.Index(base, t)
	if i < 0 {
		return false
	}
	before := i == 0 || strings.IndexByte("-._", base[i-1]) >= 0
	after := i+len(t) < len(base) && strings.IndexByte("-.", base[i+len(t)]) >= 0
	return before && after
}

// cachedGGUF returns the .gguf file of snapshots/<commit> that selectGGUF
// would pick for quant ("" = the default, Q4_K_M) among all the repo's
// files, when the cache can tell: it holds only the files fetched before,
// so only a file where the tag stands alone is sure to win (a cached
// x-Q4_K_M.gguf is what Q4_K picks online only if the repo has no
// x-Q4_K.gguf). Else it returns "" and what the cache lacks.
func cachedGGUF(c repoCache, repo Repo, commit, quant string) (string, string) {
	snap := c.snapshotDir(commit)
	ggufs := snapshotGGUFs(snap)
	tag := quant
	if tag == "" {
		tag = defaultQuant
	}
	name, err := selectGGUF(repo, ggufs, tag)
	switch {
	case err != nil && quant == "":
		file := "FILE.gguf"
		if len(ggufs) == 1 {
			file = ggufs[0]
		}
		return "", fmt.Sprintf("no %s .gguf file, and whether %s is the repo's only .gguf file is not known from the cache; name it as %s/%s",
			defaultQuant, strings.Join(ggufs, " or "), repo.ID, file)
	case err != nil:
		return "", "no single .gguf file matching " + quant
	case !wholeTag(name, tag):
		return "", fmt.Sprintf("only %s, whose name holds %s within a longer tag (online, a file tagged %s alone would win); name it as %s/%s to use it",
			name, tag, tag, repo.ID, name)
	}
	return filepath.Join(snap, filepath.FromSlash(name)), ""
}

func allSplit(names []string) bool {
	for _, n := range names {
		if !splitGGUF.MatchString(n) {
			return false
		}
	}
	return true
}
