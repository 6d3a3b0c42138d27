package hub

import (
	"fmt"
	"path"
	"strings"
)

// DefaultRevision is the branch used when a reference names no revision.
const DefaultRevision = "main"

// maxRepoIDLen is the Hub's limit on the length of "org/name".
const maxRepoIDLen = 96

// Repo is a parsed Hub model reference.
type Repo struct {
	ID       string // "org/name"
	Revision string // branch, tag or commit hash; DefaultRevision when the reference names none
	Quant    string // "org/name:Q4_K_M": pick the .gguf file whose name contains this tag
	File     string // "org/name/path/file.gguf": that .gguf file of the repo
}

// ParseRepo parses "org/name" or "org/name@revision", optionally naming one
// GGUF file of the repo: "org/name:QUANT" (as llama.cpp's -hf and ollama's
// hf.co/ references; the tag may also follow the revision) or
// "org/name/path/file.gguf". It accepts only the two-part repo ids the Hub
// uses today; the error quotes the reference and says which part is wrong.
func ParseRepo(ref string) (Repo, error) {
	if ref == "" {
		return Repo{}, fmt.Errorf("hub: empty model reference: want a local folder, a .gguf file or a Hub repo id org/name[@revision]")
	}
	id, rev, hasRev := strings.Cut(ref, "@")
	// Git forbids ':' in ref names, so a ':' starts the quantization tag.
	var quant string
	var hasQuant bool
	if hasRev {
		rev, quant, hasQuant = strings.Cut(rev, ":")
	}
	if !hasQuant {
		id, quant, hasQuant = strings.Cut(id, ":")
	}
	if hasQuant && (quant == "" || strings.ContainsAny(quant, ":/@\\")) {
		return Repo{}, fmt.Errorf("hub: model reference %q: want a quantization tag such as Q4_K_M after ':', got %q", ref, quant)
	}
	if hasRev {
		if err := checkRevision(rev); err != nil {
			return Repo{}, fmt.Errorf("hub: model reference %q: %w", ref, err)
		}
	} else {
		rev = DefaultRevision
	}
	var file string
	if parts := strings.SplitN(id, "/", 3); len(parts) == 3 && strings.EqualFold(path.Ext(parts[2]), ".gguf") && checkRepoID(parts[0]+"/"+parts[1]) == nil {
		if !isLocalSlashPath(parts[2]) {
			return Repo{}, fmt.Errorf("hub: model reference %q: %q is not a plain file path inside the repo", ref, parts[2])
		}
		if hasQuant {
			return Repo{}, fmt.Errorf("hub: model reference %q names both a GGUF file and a quantization tag", ref)
		}
		id, file = parts[0]+"/"+parts[1], parts[2]
	}
	if err := checkRepoID(id); err != nil {
		return Repo{}, fmt.Errorf("hub: model reference %q is neither an existing local path nor a Hub repo id: %w", ref, err)
	}
	return Repo{ID: id, Revision: rev, Quant: quant, File: file}, nil
}

// checkRepoID follows the Hub's rules for repo ids: two parts, each made of
// letters, digits, '-', '_' and '.', not starting or ending with '-' or '.',
// without "--" or "..", at most 96 characters in all.
func checkRepoID(id string) error {
	parts := strings.Split(id, "/")
	switch {
	case len(parts) == 1:
		// The Hub moved its one-part ids under organisations and
		// redirects the old names; loft asks for the current one.
		return fmt.Errorf("want org/name with exactly one '/' (one-part ids such as gpt2 now live under an organisation: openai-community/gpt2, google-bert/bert-base-uncased)")
	case len(parts) != 2:
		return fmt.Errorf("want org/name with exactly one '/', got %d '/'", len(parts)-1)
	}
	if len(id) > maxRepoIDLen {
		return fmt.Errorf("repo id is %d characters long, the Hub allows %d", len(id), maxRepoIDLen)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("want org/name, got an empty part")
		}
		for _, c := range p {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
			if !ok {
				return fmt.Errorf("character %q is not allowed in a repo id (letters, digits, '-', '_', '.')", c)
			}
		}
		if strings.Contains(p, "--") || strings.Contains(p, "..") {
			return fmt.Errorf("%q: '--' and '..' are not allowed in a repo id", p)
		}
		if strings.ContainsAny(p[:1], "-.") || strings.ContainsAny(p[len(p)-1:], "-.") {
			return fmt.Errorf("%q: a repo id part may not start or end with '-' or '.'", p)
		}
	}
	return nil
}

// checkRevision rejects revisions that cannot be stored as refs/<revision>
// inside the cache (a revision may contain '/', as in "refs/pr/1").
func checkRevision(rev string) error {
	if rev == "" {
		return fmt.Errorf("empty revision after '@'")
	}
	if !isLocalSlashPath(rev) {
		return fmt.Errorf("revision %q is not a valid branch, tag or commit name", rev)
	}
	return nil
}

// isLocalSlashPath reports whether p is a clean relative slash-separated path
// that stays inside its root: no "..", no leading '/', no empty or "." parts,
// no backslashes. Names coming from the network (shard names in an index,
// revisions) must pass it before they become file paths.
func isLocalSlashPath(p string) bool {
	if p == "" || strings.ContainsAny(p, "\\\x00") || path.IsAbs(p) || path.Clean(p) != p {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// isCommitHash reports whether s is a full 40-hex-digit git commit hash.
func isCommitHash(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// folderName is the cache folder of a model repo: "models--org--name".
func (r Repo) folderName() string {
	return "models--" + strings.ReplaceAll(r.ID, "/", "--")
}
