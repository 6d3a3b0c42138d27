package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// maxRedirects bounds the redirect chain of one file (Hub, renamed repo, CDN).
const maxRedirects = 10

// errMissing is returned (wrapped) for an optional file the Hub answers 404 for.
var errMissing = errors.New("not in the repo")

// errRestart asks fetch to start a file over once: the server refused the
// range we asked for, or answered a different one.
var errRestart = errors.New("restart download")

// downloader fetches the files of one repo at one commit into the cache.
type downloader struct {
	s      settings
	repo   Repo
	cache  repoCache
	commit string
}

// fetchModel fetches what the reference asks for and returns its path: the
// named or selected .gguf file alone; with tokOnly, the tokenizer files of
// the repo (the snapshot folder); a repo without safetensors weights but
// with .gguf files, its Q4_K_M or only .gguf file; else config, tokenizer
// and weights (fetchAll; the snapshot folder). siblings is the API's file
// list, nil or empty when it listed none: then no .gguf file can be chosen
// by tag.
func (d downloader) fetchModel(ctx context.Context, siblings map[string]bool) (string, error) {
	snap := d.cache.snapshotDir(d.commit)
	var names []string
	for n := range siblings {
		names = append(names, n)
	}
	ggufs := ggufNames(names)
	whole := wholeList(siblings, ggufs)
	d.syncMarkers(siblings, whole)
	// A list that may lack files says what the repo has, never what it
	// lacks: the files it does not name are tried as without a list.
	known := siblings
	if !whole {
		known = nil
	}
	gguf := func(quant string) (string, error) {
		name, err := selectGGUF(d.repo, ggufs, quant)
		if err != nil {
			return "", err
		}
		if err := d.fetch(ctx, name, false); err != nil {
			return "", err
		}
		return filepath.Join(snap, filepath.FromSlash(name)), nil
	}
	switch {
	case d.repo.File != "":
		if known != nil && !known[d.repo.File] {
			return "", fmt.Errorf("hub: %s: no file %s at revision %q (commit %s); %s", d.repo.ID, d.repo.File, d.repo.Revision, d.commit, ggufList(ggufs))
		}
		if err := d.fetch(ctx, d.repo.File, false); err != nil {
			return "", err
		}
		return filepath.Join(snap, filepath.FromSlash(d.repo.File)), nil
	case d.repo.Quant != "":
		if len(siblings) == 0 {
			return "", fmt.Errorf("hub: %s: the Hub listed no files, so no .gguf file can be chosen by the tag %q; name it as %s/FILE.gguf", d.repo.ID, d.repo.Quant, d.repo.ID)
		}
		return gguf(d.repo.Quant)
	case d.s.tokOnly:
		for _, name := range TokenizerFiles {
			if known != nil && !known[name] {
				continue
			}
			err := d.fetch(ctx, name, true)
			if err != nil && !errors.Is(err, errMissing) {
				return "", err
			}
		}
		if d.cache.hasTokenizer(d.commit) {
			return snap, nil
		}
		if len(ggufs) > 0 {
			return gguf("")
		}
		return "", fmt.Errorf("hub: repo %s (revision %q, commit %s) has no tokenizer: none of %s", d.repo.ID, d.repo.Revision, d.commit, strings.Join(tokenizerModels, ", "))
	case siblings != nil && !siblings[weightsFile] && !siblings[indexFile] && len(ggufs) > 0:
		return gguf("")
	}
	if err := d.fetchAll(ctx, known); err != nil {
		return "", err
	}
	return snap, nil
}

// largeRepoThreshold is the most names an API file list may hold and be
// trusted to be whole: the Hub truncates longer "siblings" lists when its
// caches misbehave, so huggingface_hub's snapshot_download lists the repo's
// tree instead (LARGE_REPO_THRESHOLD, 1000 since its PR #3565).
const largeRepoThreshold = 1000

// wholeList reports whether the API's file list can be trusted to name
// every file of the commit, so that a file it lacks may be marked missing
// for good. huggingface_hub trusts a list that is neither empty (PR #3241:
// the Hub sometimes sends none) nor over largeRepoThreshold names; loft
// also wants the weights or a .gguf file in it, since a list without
// anything loft could load says more about the list than about the repo.
func wholeList(siblings map[string]bool, ggufs []string) bool {
	return len(siblings) > 0 && len(siblings) <= largeRepoThreshold &&
		(siblings[weightsFile] || siblings[indexFile] || len(ggufs) > 0)
}

// syncMarkers brings the .no_exist markers of the files loft may fetch in
// line with the API's list for this commit. A whole list marks each file it
// lacks, as a 404 would have, so that the cache alone can later tell that a
// snapshot holds everything an online resolve fetches (local, for
// "org/name@<commit>"). Any list that names a file removes its marker: the
// marker is stale, left by a truncated list that an older loft trusted, and
// would otherwise hide the file from fetch and from transformers for good.
func (d downloader) syncMarkers(siblings map[string]bool, whole bool) {
	for _, names := range [][]string{optionalFiles, TokenizerFiles, {weightsFile, indexFile}} {
		for _, name := range names {
			marked := d.cache.markedMissing(d.commit, name)
			switch {
			case siblings[name] && marked:
				d.s.note("hub: %s: the Hub lists %s at commit %s; removing its stale .no_exist marker\n", d.repo.ID, name, d.commit)
				d.cache.unmarkMissing(d.commit, name)
			case whole && !siblings[name] && !marked:
				d.cache.markMissing(d.commit, name)
			}
		}
	}
}

func ggufList(ggufs []string) string {
	if len(ggufs) == 0 {
		return "the repo has no .gguf files"
	}
	return "its .gguf files: " + strings.Join(ggufs, ", ")
}

// fetchAll fetches the optional files the repo has, then the weights:
// model.safetensors when present (transformers prefers it too), else
// model.safetensors.index.json and every shard it names. siblings is the
// repo's file list, or nil when the API gave none or one that may lack files
// (wholeList; then candidates are tried and 404s skipped).
func (d downloader) fetchAll(ctx context.Context, siblings map[string]bool) error {
	listed := func(name string) bool { return siblings == nil || siblings[name] }
	for _, name := range optionalFiles {
		if !listed(name) {
			continue
		}
		if err := d.fetch(ctx, name, true); err != nil && !errors.Is(err, errMissing) {
			return err
		}
	}
	if listed(weightsFile) {
		err := d.fetch(ctx, weightsFile, siblings == nil)
		if !errors.Is(err, errMissing) {
			return err
		}
	}
	if listed(indexFile) {
		err := d.fetch(ctx, indexFile, siblings == nil)
		if errors.Is(err, errMissing) {
			return d.noWeights()
		}
		if err != nil {
			return err
		}
		shards, err := shardsOf(filepath.Join(d.cache.snapshotDir(d.commit), indexFile))
		if err != nil {
			return err
		}
		for _, sh := range shards {
			if siblings != nil && !siblings[sh] {
				return fmt.Errorf("hub: %s: %s names shard %s, which the repo does not have at commit %s", d.repo.ID, indexFile, sh, d.commit)
			}
			if err := d.fetch(ctx, sh, false); err != nil {
				return err
			}
		}
		return nil
	}
	return d.noWeights()
}

func (d downloader) noWeights() error {
	return fmt.Errorf("hub: repo %s (revision %q, commit %s) has no safetensors weights: neither %s nor %s; loft reads safetensors, or pass a local .gguf file",
		d.repo.ID, d.repo.Revision, d.commit, weightsFile, indexFile)
}

// fetch makes snapshots/<commit>/<name> present. A file already in the
// snapshot costs no request, and so does an optional file that an earlier
// run found missing at this commit (its .no_exist marker). An optional file
// that the Hub does not have yields an error wrapping errMissing.
func (d downloader) fetch(ctx context.Context, name string, optional bool) error {
	if !isLocalSlashPath(name) {
		return fmt.Errorf("hub: %s: file name %q is not a plain relative path", d.repo.ID, name)
	}
	if exists(filepath.Join(d.cache.snapshotDir(d.commit), filepath.FromSlash(name))) {
		return nil
	}
	if optional && d.cache.markedMissing(d.commit, name) {
		return fmt.Errorf("hub: %s: file %s: %w (recorded in .no_exist)", d.repo.ID, name, errMissing)
	}
	restarted, left, largest := false, maxResumes, int64(0)
	for {
		err := d.download(ctx, name, optional)
		var cut *cutError
		switch {
		case errors.Is(err, errRestart) && !restarted:
			restarted = true
			continue
		case errors.Is(err, errRestart):
			return fmt.Errorf("hub: %s: file %s: the server keeps answering a different byte range than asked for", d.repo.ID, name)
		case !errors.As(err, &cut) || ctx.Err() != nil:
			return err
		}
		// Resume at once, as huggingface_hub's http_get does, up to
		// maxResumes times in a row without progress. Progress is the
		// partial file growing past its largest size so far, not bytes
		// received: a server that ignores Range and cuts at the same
		// byte every time sends bytes but gets no further.
		if cut.size > largest {
			largest, left = cut.size, maxResumes
		}
		if left == 0 {
			return err
		}
		left--
		d.s.note("%v; resuming\n", err) // err says "hub: <repo>: ..."
		select {
		case <-ctx.Done():
			return fmt.Errorf("hub: %s: file %s: %w", d.repo.ID, name, ctx.Err())
		case <-time.After(d.s.retryWait):
		}
	}
}

// cutError is a download that stopped midway and kept its partial file,
// which fetch resumes. size is the partial file's size after the attempt.
type cutError struct {
	err  error
	size int64
}

func (e *cutError) Error() string { return e.err.Error() }
func (e *cutError) Unwrap() error { return e.err }

// fileMeta is what the Hub's response headers say about a file.
type fileMeta struct {
	etag string // blob id: sha256 for LFS files, git blob sha1 otherwise
	size int64  // X-Linked-Size, or -1
}

// download GETs {endpoint}/{repo}/resolve/{commit}/{name}, following
// redirects by hand. The blob id and commit are read from the Hub's answers
// (X-Linked-Etag wins over ETag, and once an LFS redirect is seen the CDN's
// own headers are ignored); the token goes only to the Hub's host. With a
// known blob id, an existing blobs/<etag>.incomplete is resumed with Range.
//
// Waiting for an answer, and for each read of its body, is bounded by
// $HF_HUB_DOWNLOAD_TIMEOUT (watchdog).
func (d downloader) download(ctx context.Context, name string, optional bool) error {
	u := d.s.endpoint + "/" + d.repo.ID + "/resolve/" + d.commit + "/" + escapePath(name)
	w := newWatchdog(ctx, d.s.fileTimeout, "HF_HUB_DOWNLOAD_TIMEOUT")
	defer w.stop()
	meta := fileMeta{size: -1}
	locked := false // metadata final: LFS headers seen, or the chain left the Hub
	var (
		resp    *http.Response
		partial string
		offset  int64
	)
	// Hold the blob's lock from the moment its id is known, so that the
	// partial file measured for Range is not changed by another process.
	unlock, lockedFor := func() {}, ""
	defer func() { unlock() }()
	relock := func() error {
		if meta.etag == "" || meta.etag == lockedFor {
			return nil
		}
		unlock()
		unlock, lockedFor = func() {}, ""
		release, err := lockFile(ctx, d.cache.lockPath(meta.etag), func() {
			d.s.note("hub: %s: waiting for another download of %s (lock %s)\n", d.repo.ID, name, d.cache.lockPath(meta.etag))
		})
		if err != nil {
			return err
		}
		unlock, lockedFor = release, meta.etag
		return nil
	}
	for hop := 0; ; hop++ {
		if hop > maxRedirects {
			return fmt.Errorf("hub: %s: file %s: more than %d redirects", d.repo.ID, name, maxRedirects)
		}
		req, err := http.NewRequestWithContext(w.ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("hub: %s: file %s: %w", d.repo.ID, name, err)
		}
		d.s.setHeaders(req)
		// Plain bytes: Range offsets and sizes then refer to the file itself.
		req.Header.Set("Accept-Encoding", "identity")
		offset = 0
		if meta.etag != "" {
			partial = d.cache.blobPath(meta.etag) + ".incomplete"
			fi, err := os.Stat(partial)
			if err == nil && fi.Size() == meta.size && isSHA256(meta.etag) {
				// A run stopped between its last write and the rename:
				// check the bytes instead of asking for none (a 416).
				if done, err := d.adoptPartial(name, partial, meta); done || err != nil {
					return err
				}
			} else if err == nil && fi.Size() > 0 {
				offset = fi.Size()
				req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
			}
		}
		resp, err = w.do(d.s.client, req)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("hub: %s: file %s: %w", d.repo.ID, name, ctx.Err())
			}
			return fmt.Errorf("hub: %s: file %s: %w", d.repo.ID, name, err)
		}
		if !locked && d.s.sameHost(req.URL) {
			if err := d.readMeta(&meta, &locked, name, resp); err != nil {
				resp.Body.Close()
				return err
			}
		}
		if !isRedirect(resp.StatusCode) {
			break
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := relock(); err != nil {
			return err
		}
		next, err := req.URL.Parse(resp.Header.Get("Location"))
		if err != nil || resp.Header.Get("Location") == "" {
			return fmt.Errorf("hub: %s: file %s: redirect %d without a usable Location", d.repo.ID, name, resp.StatusCode)
		}
		u = next.String()
		if !d.s.sameHost(next) {
			locked = true
		}
		// The same content may already be cached under another revision.
		if meta.etag != "" && exists(d.cache.blobPath(meta.etag)) {
			return d.cache.link(d.commit, name, meta.etag)
		}
	}
	defer resp.Body.Close()

	switch code := resp.Header.Get("X-Error-Code"); {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent:
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && offset > 0:
		os.Remove(partial)
		return errRestart
	case !d.s.sameHost(resp.Request.URL):
		return hostError(d.repo, name, resp)
	case resp.StatusCode == http.StatusNotFound && optional && (code == "EntryNotFound" || code == ""):
		// Only the Hub's own word that the file is absent is kept, as
		// huggingface_hub keeps it; a 404 without a code (a mirror) only
		// skips the file this time.
		if code == "EntryNotFound" {
			d.cache.markMissing(d.commit, name)
		}
		return fmt.Errorf("hub: %s: file %s: %w", d.repo.ID, name, errMissing)
	default:
		return d.s.statusError(d.repo, name, resp)
	}
	if meta.etag == "" {
		return fmt.Errorf("hub: %s: file %s: the server sent neither X-Linked-Etag nor ETag, so the file has no blob id", d.repo.ID, name)
	}
	if err := relock(); err != nil {
		return err
	}
	blob := d.cache.blobPath(meta.etag)
	if exists(blob) {
		return d.cache.link(d.commit, name, meta.etag)
	}
	if p := blob + ".incomplete"; p != partial {
		partial, offset = p, 0 // the blob id was learnt from this very answer
	}

	if resp.StatusCode == http.StatusPartialContent {
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			os.Remove(partial)
			return errRestart
		}
		if total >= 0 {
			if meta.size >= 0 && meta.size != total {
				return fmt.Errorf("hub: %s: file %s: the Hub says %d bytes, the download server %d", d.repo.ID, name, meta.size, total)
			}
			meta.size = total
		}
	} else {
		offset = 0 // no Range sent, or the server ignored it: start over
		if meta.size < 0 && resp.ContentLength >= 0 {
			meta.size = resp.ContentLength
		}
	}
	return d.save(ctx, name, meta, partial, offset, resp.Body)
}

// readMeta takes the blob id, commit and size from a Hub response.
func (d downloader) readMeta(meta *fileMeta, locked *bool, name string, resp *http.Response) error {
	if c := resp.Header.Get("X-Repo-Commit"); c != "" && c != d.commit {
		return fmt.Errorf("hub: %s: file %s: asked for commit %s, the Hub answered for %s", d.repo.ID, name, d.commit, c)
	}
	etag := resp.Header.Get("X-Linked-Etag")
	if etag != "" {
		*locked = true
	} else {
		etag = resp.Header.Get("ETag")
	}
	if etag != "" {
		etag = normalizeETag(etag)
		if !validETag(etag) {
			return fmt.Errorf("hub: %s: file %s: blob id %q is not usable as a file name", d.repo.ID, name, etag)
		}
		meta.etag = etag
	}
	if s := resp.Header.Get("X-Linked-Size"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("hub: %s: file %s: bad X-Linked-Size %q", d.repo.ID, name, s)
		}
		meta.size = n
	}
	return nil
}

// save appends body to partial (which holds offset bytes already), checks
// the size and, for a sha256 blob id, the content hash, then moves the blob
// into place and links it from the snapshot. An interrupted or cancelled
// copy keeps partial for the next call to resume; only a cut body (read
// error or short body) is a cutError, which fetch resumes at once, while a
// failed write fails. A wrong size or hash removes partial.
func (d downloader) save(ctx context.Context, name string, meta fileMeta, partial string, offset int64, body io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(partial), 0o777); err != nil {
		return fmt.Errorf("hub: %s: file %s: %w", d.repo.ID, name, err)
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if offset > 0 {
		flags = os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(partial, flags, 0o644)
	if err != nil {
		return fmt.Errorf("hub: %s: file %s: %w", d.repo.ID, name, err)
	}
	var h hash.Hash
	if isSHA256(meta.etag) {
		h = sha256.New()
		if offset > 0 {
			if err := hashPrefix(h, partial, offset); err != nil {
				f.Close()
				return fmt.Errorf("hub: %s: file %s: %w", d.repo.ID, name, err)
			}
		}
	}
	writers := []io.Writer{f}
	if h != nil {
		writers = append(writers, h)
	}
	bar := d.progressBar(name, meta.size, offset)
	if bar != nil {
		writers = append(writers, barWriter{bar})
	}
	if meta.size >= 0 {
		// One byte more than expected is enough to see that the server lies.
		body = io.LimitReader(body, meta.size-offset+1)
	}
	src := &bodyReader{r: body}
	n, err := io.Copy(io.MultiWriter(writers...), src)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	total := offset + n
	if err != nil {
		if bar != nil {
			bar.Exit()
		}
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("hub: %s: download of %s stopped after %d bytes (%w); %s is kept and resumed next time",
				d.repo.ID, name, total, ctx.Err(), partial)
		case src.err == nil:
			// Writing failed (disk full, file too large, I/O error):
			// asking the server again would not help. os's error names
			// the partial file.
			return fmt.Errorf("hub: %s: download of %s failed after %d bytes: %w; the partial file is kept and resumed next time",
				d.repo.ID, name, total, err)
		}
		return &cutError{fmt.Errorf("hub: %s: download of %s interrupted after %d of %s bytes: %w; %s is kept and resumed next time",
			d.repo.ID, name, total, sizeString(meta.size), src.err, partial), total}
	}
	if bar != nil {
		bar.Finish()
	}
	if meta.size >= 0 && total != meta.size {
		if total > meta.size {
			os.Remove(partial)
			return fmt.Errorf("hub: %s: file %s: got more than the announced %d bytes; removed the download", d.repo.ID, name, meta.size)
		}
		return &cutError{fmt.Errorf("hub: %s: file %s: the connection ended after %d of %d bytes; %s is kept and resumed next time",
			d.repo.ID, name, total, meta.size, partial), total}
	}
	if h != nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != meta.etag {
			os.Remove(partial)
			return fmt.Errorf("hub: %s: file %s: sha256 of the download is %s, the Hub says %s; removed the download", d.repo.ID, name, got, meta.etag)
		}
	}
	return d.install(name, partial, meta.etag)
}

// install moves a checked partial file into blobs/ and links it from the
// snapshot.
func (d downloader) install(name, partial, etag string) error {
	if err := os.Rename(partial, d.cache.blobPath(etag)); err != nil {
		return fmt.Errorf("hub: %s: file %s: %w", d.repo.ID, name, err)
	}
	return d.cache.link(d.commit, name, etag)
}

// bodyReader keeps the error of reading the answer's body, so that save
// tells a cut connection (resumed) from a failed write (not resumed).
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// adoptPartial moves a partial file that holds meta.size bytes into place
// when its sha256 is the blob id, and reports whether it did; one that is
// not the blob is removed, so that the download starts over.
func (d downloader) adoptPartial(name, partial string, meta fileMeta) (bool, error) {
	h := sha256.New()
	if err := hashPrefix(h, partial, meta.size); err != nil {
		return false, fmt.Errorf("hub: %s: file %s: %w", d.repo.ID, name, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != meta.etag {
		d.s.note("hub: %s: %s has the size of %s but not its sha256; downloading it again\n", d.repo.ID, partial, name)
		if err := os.Remove(partial); err != nil {
			return false, fmt.Errorf("hub: %s: file %s: %w", d.repo.ID, name, err)
		}
		return false, nil
	}
	return true, d.install(name, partial, meta.etag)
}

// hashPrefix feeds the first n bytes of the file at p into h.
func hashPrefix(h hash.Hash, p string, n int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(h, f, n); err != nil {
		return fmt.Errorf("hash the partial download %s: %w", p, err)
	}
	return nil
}

// progressBar draws bytes, rate and time left of one file, or returns nil
// when progress is silent. A resumed download counts only the missing bytes
// so that the rate is the real one.
func (d downloader) progressBar(name string, size, offset int64) *progressbar.ProgressBar {
	w := d.s.progress
	if w == nil {
		return nil
	}
	max := int64(-1)
	if size > offset {
		max = size - offset
	}
	desc := name
	if offset > 0 {
		desc = fmt.Sprintf("%s (resuming after %d bytes)", name, offset)
	}
	return progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		// No background spinner goroutine: every write happens inside save.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

// barWriter feeds a progress bar from io.Copy; drawing errors never stop a download.
type barWriter struct{ b *progressbar.ProgressBar }

func (w barWriter) Write(p []byte) (int, error) {
	w.b.Add64(int64(len(p)))
	return len(p), nil
}

func sizeString(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return strconv.FormatInt(n, 10)
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// escapePath escapes each segment of a slash-separated file name for a URL.
func escapePath(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// normalizeETag strips a weak-validator "W/" prefix and the quotes.
func normalizeETag(e string) string {
	e = strings.TrimSpace(e)
	e = strings.TrimPrefix(e, "W/")
	return strings.Trim(e, `"`)
}

// validETag accepts blob ids that are safe as a file name in blobs/.
func validETag(e string) bool {
	if e == "" || len(e) > 128 || e[0] == '.' {
		return false
	}
	for _, c := range e {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isSHA256 reports whether a blob id is a sha256 (64 lowercase hex digits),
// the id of an LFS file, which is then checked against the content.
func isSHA256(e string) bool {
	if len(e) != 64 {
		return false
	}
	for _, c := range e {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// parseContentRange parses "bytes start-end/total" (total may be "*", -1).
func parseContentRange(v string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	s, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(s, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		total, err = strconv.ParseInt(tot, 10, 64)
		if err != nil || total < 0 {
			return 0, 0, false
		}
	}
	return start, total, true
}
