package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultEndpoint is the Hub used when neither Options.Endpoint nor
// $HF_ENDPOINT names another.
const DefaultEndpoint = "https://huggingface.co"

// Options configures Resolve. Empty fields fall back to the environment
// variables Python's huggingface_hub reads, so both tools agree.
type Options struct {
	CacheDir string       // cache root; "" = CacheDir() ($HF_HUB_CACHE, $HF_HOME/hub, ...)
	Endpoint string       // Hub URL; "" = $HF_ENDPOINT, else DefaultEndpoint
	Token    string       // access token; "" = $HF_TOKEN, else $HUGGING_FACE_HUB_TOKEN, else the file `hf auth login` wrote
	Offline  bool         // never use the network; also on when $HF_HUB_OFFLINE (if unset, $TRANSFORMERS_OFFLINE) is 1/ON/YES/TRUE
	Progress io.Writer    // progress bars and notes; nil = silent
	Client   *http.Client // nil = a client with http.DefaultTransport

	// TokenizerOnly fetches only the tokenizer files (TokenizerFiles) of a
	// safetensors repo and needs no weights; from a GGUF-only repo it still
	// fetches the one .gguf file, which holds the tokenizer.
	TokenizerOnly bool

	// retryWait is the pause before a cut download is resumed; 0 = 1 s,
	// as huggingface_hub waits. Tests shorten it.
	retryWait time.Duration
}

// settings are Options with the environment applied.
type settings struct {
	cache      string
	endpoint   string
	token      string
	offline    bool
	offlineVar string // what turned offline mode on, for messages
	progress   io.Writer
	client     *http.Client
	tokOnly    bool

	// How long the API call and a file download may wait for the server:
	// $HF_HUB_ETAG_TIMEOUT and $HF_HUB_DOWNLOAD_TIMEOUT (watchdog).
	apiTimeout, fileTimeout time.Duration
	retryWait               time.Duration
}

func (o Options) settings() (s settings, err error) {
	s = settings{cache: o.CacheDir, endpoint: o.Endpoint, token: o.Token, offline: o.Offline, progress: o.Progress, tokOnly: o.TokenizerOnly}
	if s.cache == "" {
		d, err := CacheDir()
		if err != nil {
			return s, err
		}
		s.cache = d
	}
	if s.endpoint == "" {
		s.endpoint = os.Getenv("HF_ENDPOINT")
	}
	if s.endpoint == "" {
		s.endpoint = DefaultEndpoint
	}
	s.endpoint = strings.TrimRight(s.endpoint, "/")
	if u, err := url.Parse(s.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return s, fmt.Errorf("hub: endpoint %q (HF_ENDPOINT) is not an http(s) URL", s.endpoint)
	}
	s.offlineVar = "Options.Offline"
	if !s.offline {
		s.offline, s.offlineVar = offlineFromEnv()
	}
	token, from := findToken(s.token)
	if i := strings.IndexFunc(token, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }); i >= 0 && !s.offline {
		// net/http refuses such a header, which would read as a network error.
		return s, fmt.Errorf("hub: the token from %s holds byte 0x%02x at %d, which no HTTP header may carry", from, token[i], i)
	}
	s.token = token
	if s.apiTimeout, err = timeoutFromEnv("HF_HUB_ETAG_TIMEOUT"); err != nil {
		return s, err
	}
	if s.fileTimeout, err = timeoutFromEnv("HF_HUB_DOWNLOAD_TIMEOUT"); err != nil {
		return s, err
	}
	s.retryWait = o.retryWait
	if s.retryWait == 0 {
		s.retryWait = time.Second
	}
	s.client = o.Client
	if s.client == nil {
		s.client = &http.Client{}
	}
	// Redirects are followed by hand (repoInfo, download) so that the Hub's own
	// headers are read before the CDN's and the token never leaves the Hub.
	c := *s.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.client = &c
	return s, nil
}

// Resolve turns a model reference into a local path:
//   - an existing folder or .gguf file is returned as is;
//   - a Hub repo id "org/name[@revision]" is made present in the cache
//     (config, tokenizer files and safetensors weights, single or sharded;
//     the tokenizer files alone with Options.TokenizerOnly) and the snapshot
//     folder <cache>/models--org--name/snapshots/<commit> is returned;
//   - a GGUF file of a repo, "org/name:QUANT" (the .gguf file whose name
//     contains QUANT, case-insensitively) or "org/name/file.gguf", or a
//     repo without safetensors weights whose .gguf files include a Q4_K_M
//     one or just one, is downloaded alone and the path of that file in the
//     snapshot is returned.
//
// Files already in the snapshot are not downloaded again. Offline (see
// Options), the revision resolves through refs/ in the cache.
//
// What a repo lacks, the cache knows only from the .no_exist markers that
// an online resolve writes (from the Hub's file list and its 404s). Two
// shortcuts need them: offline (or with the Hub unavailable), "org/name" of
// a repo without safetensors weights picks its default .gguf file only when
// the weights (with TokenizerOnly, the tokenizer files) are marked missing,
// and online, "org/name@<commit>" skips the Hub only when every file an
// online resolve fetches is in the snapshot or marked missing. A cache that
// Python's huggingface_hub or an older loft filled has no markers from the
// file list, so such a reference needs one online run first: until then,
// offline it fails with an error that names what the cache cannot tell,
// and @commit asks the Hub.
//
// When the Hub cannot be reached or its API answers a server error (5xx)
// or 429, a complete cached snapshot of the revision is used. A server
// that sends nothing for 10 s ($HF_HUB_ETAG_TIMEOUT for the API call,
// $HF_HUB_DOWNLOAD_TIMEOUT for a file) fails the request; a download cut
// midway is resumed at once, up to 5 times in a row without progress, as
// huggingface_hub does.
// Cancelling ctx stops a download and keeps its partial file for resuming.
func Resolve(ctx context.Context, ref string, opts Options) (string, error) {
	var statErr error
	if ref != "" {
		fi, err := os.Stat(ref)
		statErr = err
		if err == nil {
			if fi.IsDir() || strings.EqualFold(filepath.Ext(ref), ".gguf") {
				return ref, nil
			}
			return "", fmt.Errorf("hub: %s is a file but not a .gguf file: want a model folder, a .gguf file or a Hub repo id org/name", ref)
		}
	}
	repo, err := ParseRepo(ref)
	if strings.EqualFold(filepath.Ext(ref), ".gguf") && (err != nil || repo.File == "") {
		return "", fmt.Errorf("hub: GGUF file %s does not exist", ref)
	}
	if err != nil {
		if statErr != nil && looksLikePath(ref) {
			return "", fmt.Errorf("hub: %v (a Hub repo id would be org/name)", statErr)
		}
		return "", err
	}
	s, err := opts.settings()
	if err != nil {
		return "", err
	}
	dir, err := s.snapshot(ctx, repo)
	var netErr *networkError
	if err != nil && ctx.Err() == nil && (s.offline || errors.As(err, &netErr) || repo.File != "") {
		// "models/stories" is a mistyped local path as often as a repo id:
		// say that it was looked for on disk too.
		return "", fmt.Errorf("%w (%s is not a local file or folder either)", err, ref)
	}
	return dir, err
}

// looksLikePath reports whether ref, which is no repo id, was meant as a
// path: absolute, starting with '.' or '~' (a repo id part may start with
// neither), or with more than one separator before any '@revision' (as a
// tab-completed "models/stories/" has).
func looksLikePath(ref string) bool {
	id, _, _ := strings.Cut(ref, "@")
	return filepath.IsAbs(ref) || strings.HasPrefix(ref, ".") || strings.HasPrefix(ref, "~") ||
		strings.Count(filepath.ToSlash(id), "/") > 1 || strings.ContainsRune(id, '\\')
}

// snapshot makes the files of repo present in the cache and returns the
// snapshot folder, or the path of the GGUF file the reference selects.
func (s settings) snapshot(ctx context.Context, repo Repo) (string, error) {
	c := repoCache{dir: filepath.Join(s.cache, repo.folderName())}
	if s.offline {
		return s.cached(c, repo, "offline mode ("+s.offlineVar+")")
	}
	// A commit hash never moves: a complete snapshot of it needs no network.
	if isCommitHash(repo.Revision) {
		if p, lack := s.local(c, repo, repo.Revision, true); lack == "" {
			return p, nil
		}
	}
	info, err := s.repoInfo(ctx, repo)
	if err != nil {
		var netErr *networkError
		if errors.As(err, &netErr) && ctx.Err() == nil {
			dir, cerr := s.cached(c, repo, "the Hub is unavailable")
			if cerr == nil {
				s.note("hub: %v; using the cached snapshot %s\n", netErr.err, dir)
				return dir, nil
			}
		}
		return "", err
	}
	if repo.Revision != info.SHA {
		if err := c.writeRef(repo.Revision, info.SHA); err != nil {
			return "", err
		}
	}
	d := downloader{s: s, repo: repo, cache: c, commit: info.SHA}
	return d.fetchModel(ctx, info.siblings())
}

// local returns what snapshot would return for repo at commit when the
// cache alone can tell, else "" and what the snapshot lacks ("no ...").
// A cached .gguf file is returned only where the online rules would pick
// it among the repo's files (cachedGGUF).
//
// A snapshot folder needs its weights (with TokenizerOnly, a tokenizer
// file). strict, for a commit asked for online, also needs every file an
// online resolve fetches, present or marked missing in .no_exist, so that
// skipping the Hub returns the same folder: a snapshot that Python's
// hf_hub_download left with the weights alone gets its config and
// tokenizer first. Offline, or with the Hub unavailable, what is cached has
// to do, since a snapshot that Python's snapshot_download left marks no
// absent file; only config.json, without which no model loads, is needed.
func (s settings) local(c repoCache, repo Repo, commit string, strict bool) (path, lack string) {
	snap := c.snapshotDir(commit)
	switch {
	case repo.File != "":
		p := filepath.Join(snap, filepath.FromSlash(repo.File))
		if !exists(p) {
			return "", "no " + repo.File
		}
		return p, ""
	case repo.Quant != "":
		return cachedGGUF(c, repo, commit, repo.Quant)
	}
	have := c.complete(commit)
	lack = "no complete weights (model.safetensors or the index and all its shards)"
	need := []string{"config.json"}
	if strict {
		need = optionalFiles
	}
	if s.tokOnly {
		have, lack, need = c.hasTokenizer(commit), "no tokenizer files", nil
		if strict {
			need = TokenizerFiles
		}
	}
	if have {
		for _, name := range need {
			if !exists(filepath.Join(snap, name)) && !c.markedMissing(commit, name) {
				return "", "no " + name
			}
		}
		return snap, ""
	}
	// Online, a .gguf file is the default only in a repo without
	// safetensors weights (with TokenizerOnly, without a tokenizer file):
	// the cache knows that from .no_exist markers.
	ggufDefault, without := c.markedMissing(commit, weightsFile) && c.markedMissing(commit, indexFile), "safetensors weights"
	if s.tokOnly {
		ggufDefault, without = true, "tokenizer file"
		for _, name := range tokenizerModels {
			ggufDefault = ggufDefault && c.markedMissing(commit, name)
		}
	}
	if ggufs := snapshotGGUFs(snap); len(ggufs) > 0 {
		if !ggufDefault {
			return "", fmt.Sprintf("%s; its .gguf files (%s) are the default only when the repo has no %s, which the cache cannot tell: name one as %s/FILE.gguf",
				lack, strings.Join(ggufs, ", "), without, repo.ID)
		}
		return cachedGGUF(c, repo, commit, "")
	}
	return "", lack
}

// cached returns the snapshot of repo's revision without any network access.
func (s settings) cached(c repoCache, repo Repo, why string) (string, error) {
	commit := repo.Revision
	if !isCommitHash(commit) {
		var err error
		commit, err = c.readRef(repo.Revision)
		if err != nil {
			return "", err
		}
		if commit == "" {
			return "", fmt.Errorf("hub: %s: %s, and revision %q is not in the cache %s (no refs/%s); run once online to download it",
				repo.ID, why, repo.Revision, c.dir, repo.Revision)
		}
	}
	p, lack := s.local(c, repo, commit, false)
	if lack == "" {
		return p, nil
	}
	return "", fmt.Errorf("hub: %s: %s, and the cached snapshot %s has %s; run once online to finish the download",
		repo.ID, why, c.snapshotDir(commit), lack)
}

func (s settings) note(format string, args ...any) {
	if s.progress != nil {
		fmt.Fprintf(s.progress, format, args...)
	}
}

// networkError marks a failure to get an answer about the repo from the Hub
// at all: no connection, or a server error (5xx) or 429 of the API, as opposed to
// an answer such as "not found". A cached snapshot may then stand in.
type networkError struct{ err error }

func (e *networkError) Error() string { return e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }

// repoInfo is the part of GET /api/models/{repo}/revision/{rev} that loft uses.
type repoInfo struct {
	SHA      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
	} `json:"siblings"`
}

// siblings returns the set of file names in the repo, or nil when the API
// did not list them (then every candidate file is tried and 404s skipped).
func (r repoInfo) siblings() map[string]bool {
	if r.Siblings == nil {
		return nil
	}
	m := make(map[string]bool, len(r.Siblings))
	for _, f := range r.Siblings {
		m[f.RFilename] = true
	}
	return m
}

// repoInfo asks the Hub API for the commit a revision points to and the
// repo's file list. Redirects are followed, as requests follows them for
// huggingface_hub: the Hub answers the old id of a renamed repo with a
// relative 307 to the new one. The token goes only where setHeaders allows.
// Messages print a URL without its query: a redirect may carry a signature.
func (s settings) repoInfo(ctx context.Context, repo Repo) (repoInfo, error) {
	first := s.endpoint + "/api/models/" + repo.ID + "/revision/" + url.PathEscape(repo.Revision)
	u := first
	w := newWatchdog(ctx, s.apiTimeout, "HF_HUB_ETAG_TIMEOUT")
	defer w.stop()
	var resp *http.Response
	for hop := 0; ; hop++ {
		if hop > maxRedirects {
			return repoInfo{}, fmt.Errorf("hub: %s: more than %d redirects from %s", repo.ID, maxRedirects, first)
		}
		req, err := http.NewRequestWithContext(w.ctx, http.MethodGet, u, nil)
		if err != nil {
			return repoInfo{}, fmt.Errorf("hub: %s: %w", repo.ID, err)
		}
		s.setHeaders(req)
		resp, err = w.do(s.client, req)
		if err != nil {
			if ctx.Err() != nil {
				return repoInfo{}, fmt.Errorf("hub: %s: %w", repo.ID, ctx.Err())
			}
			return repoInfo{}, &networkError{fmt.Errorf("hub: %s: cannot reach %s: %w", repo.ID, withoutQuery(u), err)}
		}
		if !isRedirect(resp.StatusCode) {
			break
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		next, err := req.URL.Parse(loc)
		if err != nil || loc == "" {
			return repoInfo{}, fmt.Errorf("hub: %s: GET %s: redirect %d without a usable Location", repo.ID, withoutQuery(u), resp.StatusCode)
		}
		u = next.String()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Only the Hub's answer is read for its message (statusError
		// reads the body): another host's is reported as its own.
		var err error
		if s.sameHost(resp.Request.URL) {
			err = s.statusError(repo, "", resp)
		} else {
			err = hostError(repo, "", resp)
		}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			// The Hub (or a proxy before it) is down, overloaded or
			// rate-limiting, which says nothing about the repo:
			// huggingface_hub's snapshot_download then uses the local
			// files too.
			return repoInfo{}, &networkError{err}
		}
		return repoInfo{}, err
	}
	var info repoInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&info); err != nil {
		if errors.Is(err, errStalled) {
			return repoInfo{}, &networkError{fmt.Errorf("hub: %s: reading %s: %w", repo.ID, withoutQuery(u), err)}
		}
		return repoInfo{}, fmt.Errorf("hub: %s: bad API answer from %s: %w", repo.ID, withoutQuery(u), err)
	}
	if !isCommitHash(info.SHA) {
		return repoInfo{}, fmt.Errorf("hub: %s: API answer from %s has sha %q, not a 40-digit commit hash", repo.ID, withoutQuery(u), info.SHA)
	}
	return info, nil
}

// setHeaders adds the User-Agent and, for requests to the Hub itself, the token.
func (s settings) setHeaders(req *http.Request) {
	req.Header.Set("User-Agent", "loft (+https://github.com/loftml/loft)")
	if s.token != "" && s.sameHost(req.URL) {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
}

func (s settings) sameHost(u *url.URL) bool {
	e, err := url.Parse(s.endpoint)
	return err == nil && strings.EqualFold(e.Host, u.Host) && e.Scheme == u.Scheme
}

// statusError turns an HTTP error answer of the Hub into an error that says
// what to do. file is "" for the API call. The Hub names the cause in
// X-Error-Code.
func (s settings) statusError(repo Repo, file string, resp *http.Response) error {
	what := repo.ID
	if file != "" {
		what = fmt.Sprintf("%s: file %s", repo.ID, file)
	}
	msg := hubMessage(resp)
	switch code := resp.Header.Get("X-Error-Code"); {
	case code == "GatedRepo" || resp.StatusCode == http.StatusForbidden:
		hint := "set HF_TOKEN to a token of an account with access"
		if s.token != "" {
			hint = "the token (HF_TOKEN) has no access: accept the repo's conditions on its Hub page or use another token"
		}
		return fmt.Errorf("hub: %s: access denied (HTTP %d%s): gated or private repo; %s", what, resp.StatusCode, msg, hint)
	case code == "RevisionNotFound":
		return fmt.Errorf("hub: %s: revision %q not found (HTTP %d%s)", what, repo.Revision, resp.StatusCode, msg)
	case code == "EntryNotFound":
		return fmt.Errorf("hub: %s: not found at revision %q (HTTP %d%s)", what, repo.Revision, resp.StatusCode, msg)
	case code == "RepoNotFound" || resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusUnauthorized:
		hint := "check the repo id; if the repo is private or gated, set HF_TOKEN"
		if s.token != "" {
			hint = "check the repo id; the token (HF_TOKEN) was rejected or has no access"
		}
		if resp.StatusCode == http.StatusUnauthorized && code != "RepoNotFound" {
			return fmt.Errorf("hub: %s: authentication required (HTTP 401%s): private or gated repo, or no such repo; %s", what, msg, hint)
		}
		return fmt.Errorf("hub: repo %s not found on %s (HTTP %d%s); %s", repo.ID, s.endpoint, resp.StatusCode, msg, hint)
	default:
		return fmt.Errorf("hub: %s: %s %s: HTTP %d%s", what, resp.Request.Method, resp.Request.URL, resp.StatusCode, msg)
	}
}

// hostError reports an error answer from a host other than the Hub's (the
// CDN a file is redirected to): the Hub's meanings of 401, 403 and 404
// (private, gated, no such repo or file) do not hold there, so it says who
// answered what. The URL's query, the signature of a signed CDN link, is
// left out.
func hostError(repo Repo, file string, resp *http.Response) error {
	what := repo.ID
	if file != "" {
		what = fmt.Sprintf("%s: file %s", repo.ID, file)
	}
	u := *resp.Request.URL
	u.RawQuery, u.Fragment = "", ""
	hint := ""
	if resp.StatusCode == http.StatusForbidden {
		hint = "; a signed link expires (or the clock is off): run again for a new one"
	}
	return fmt.Errorf("hub: %s: the download server %s answered HTTP %d for %s%s", what, u.Host, resp.StatusCode, u.String(), hint)
}

// hubMessage returns ": <message>" from the Hub's JSON error body
// ({"error": "..."}) or X-Error-Message header, or "".
func hubMessage(resp *http.Response) string {
	if m := resp.Header.Get("X-Error-Message"); m != "" {
		return ": " + m
	}
	var body struct {
		Error string `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		return ": " + body.Error
	}
	return ""
}
