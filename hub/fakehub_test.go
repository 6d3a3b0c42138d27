package hub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeFile is one file of a fake repo. LFS files are served through a
// redirect to the CDN and identified by the sha256 of their content; regular
// files are served directly and identified by their git blob sha1, as the Hub does.
type fakeFile struct {
	data []byte
	lfs  bool
}

// etag is the blob id the Hub reports for the file.
func (f fakeFile) etag() string {
	if f.lfs {
		s := sha256.Sum256(f.data)
		return hex.EncodeToString(s[:])
	}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(f.data))
	h.Write(f.data)
	return hex.EncodeToString(h.Sum(nil))
}

// fakeRepo maps revisions (branches and commit hashes) to file trees.
type fakeRepo struct {
	refs    map[string]string              // branch -> commit
	commits map[string]map[string]fakeFile // commit -> file name -> file
	gated   bool                           // 401 without the right token, 403 with another one
	hide404 map[string]bool                // listed in siblings but answered 404
}

// fakeHub serves the Hub's URL layout from one httptest server and LFS
// content from a second one (the CDN, another host, as on the real Hub).
type fakeHub struct {
	t        *testing.T
	hub, cdn *httptest.Server

	mu         sync.Mutex
	repos      map[string]*fakeRepo
	token      string          // the token that opens gated repos
	noRange    bool            // the CDN ignores Range and answers 200
	cutAfter   int             // >0: the CDN's next answer stops after this many body bytes and drops the connection
	cutAlways  bool            // with cutAfter: every answer is cut, not only the next
	corrupt    bool            // the CDN flips a byte of every answer
	noSiblings bool            // the API answer lists no files
	unlisted   map[string]bool // files left out of the API's list (a truncated list; all of them: an empty one)
	padList    int             // names of this many more files in the API's list (a large repo)
	hold       chan struct{}
	holdAfter  int // with hold: write this many bytes, signal hold, then wait for the client to go away

	renamed    map[string]string // old repo id -> new one: answered with a relative 307, as the Hub does
	apiStatus  int               // >0: the API answers every call with this status (a Hub outage)
	cdnStatus  int               // >0: the CDN answers every request with this status (an expired signed URL)
	noCodes    bool              // the Hub's 404s for files carry no X-Error-Code (a mirror)
	apiStall   bool              // the API sends nothing until the client goes away
	stalls     int               // the next stalls CDN answers send stallAfter body bytes, then nothing until the client goes away
	stallAfter int

	apiCalls, fileCalls, cdnCalls int
	ranges                        []string // Range header of each CDN request
	hubAuth, cdnAuth              []string // Authorization headers seen
}

func newFakeHub(t *testing.T) *fakeHub {
	f := &fakeHub{t: t, repos: map[string]*fakeRepo{}}
	hubMux := http.NewServeMux()
	// The two URL shapes overlap as mux patterns, so route by hand:
	//   /api/models/{org}/{name}/revision/{rev}    repo info
	//   /{org}/{name}/resolve/{rev}/{file...}      file content
	hubMux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		if to, ok := f.renamedPath(r.URL.Path); ok {
			w.Header().Set("Location", to)
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/api/models/"); ok {
			p := strings.SplitN(rest, "/", 4)
			if len(p) == 4 && p[2] == "revision" {
				r.SetPathValue("org", p[0])
				r.SetPathValue("name", p[1])
				r.SetPathValue("rev", p[3])
				f.serveAPI(w, r)
				return
			}
		} else if p := strings.SplitN(r.URL.Path[1:], "/", 5); len(p) == 5 && p[2] == "resolve" {
			r.SetPathValue("org", p[0])
			r.SetPathValue("name", p[1])
			r.SetPathValue("rev", p[3])
			r.SetPathValue("file", p[4])
			f.serveResolve(w, r)
			return
		}
		http.NotFound(w, r)
	})
	f.hub = httptest.NewServer(hubMux)
	cdnMux := http.NewServeMux()
	cdnMux.HandleFunc("GET /lfs/{sha}", f.serveCDN)
	f.cdn = httptest.NewServer(cdnMux)
	t.Cleanup(f.hub.Close)
	t.Cleanup(f.cdn.Close)
	return f
}

// addRepo registers a repo whose "main" branch points at commit with files.
func (f *fakeHub) addRepo(id, commit string, files map[string]fakeFile) *fakeRepo {
	r := &fakeRepo{
		refs:    map[string]string{"main": commit},
		commits: map[string]map[string]fakeFile{commit: files},
		hide404: map[string]bool{},
	}
	f.mu.Lock()
	f.repos[id] = r
	f.mu.Unlock()
	return r
}

// renamedPath is p with a renamed repo's old id replaced by the new one,
// as a path without the host (the Hub's Location is relative).
func (f *fakeHub) renamedPath(p string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for old, id := range f.renamed {
		for _, prefix := range []string{"/api/models/", "/"} {
			if rest, ok := strings.CutPrefix(p, prefix+old+"/"); ok {
				return prefix + id + "/" + rest, true
			}
		}
	}
	return "", false
}

// counts returns API, resolve and CDN request counts.
func (f *fakeHub) counts() (api, file, cdn int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.apiCalls, f.fileCalls, f.cdnCalls
}

// lookup finds repo and commit; it writes the Hub's error answer and returns
// nil when the repo is unknown, the token is wrong or the revision unknown.
func (f *fakeHub) lookup(w http.ResponseWriter, r *http.Request) (*fakeRepo, string, map[string]fakeFile) {
	id := r.PathValue("org") + "/" + r.PathValue("name")
	repo := f.repos[id]
	if repo == nil {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, `{"error":"Repository not found"}`, http.StatusUnauthorized)
		return nil, "", nil
	}
	if repo.gated {
		switch r.Header.Get("Authorization") {
		case "Bearer " + f.token:
		case "":
			http.Error(w, `{"error":"Access to model `+id+` is restricted. You must have access to it and be authenticated to access it. Please log in."}`, http.StatusUnauthorized)
			return nil, "", nil
		default:
			w.Header().Set("X-Error-Code", "GatedRepo")
			http.Error(w, `{"error":"Access to model `+id+` is restricted and you are not in the authorized list."}`, http.StatusForbidden)
			return nil, "", nil
		}
	}
	rev := r.PathValue("rev")
	commit := rev
	if c, ok := repo.refs[rev]; ok {
		commit = c
	}
	files, ok := repo.commits[commit]
	if !ok {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		http.Error(w, `{"error":"Invalid rev id: `+rev+`"}`, http.StatusNotFound)
		return nil, "", nil
	}
	return repo, commit, files
}

func (f *fakeHub) serveAPI(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.apiStall {
		f.apiCalls++
		f.mu.Unlock()
		<-r.Context().Done()
		return
	}
	defer f.mu.Unlock()
	f.apiCalls++
	f.hubAuth = append(f.hubAuth, r.Header.Get("Authorization"))
	if f.apiStatus > 0 {
		http.Error(w, "<html>"+http.StatusText(f.apiStatus)+"</html>", f.apiStatus)
		return
	}
	_, commit, files := f.lookup(w, r)
	if files == nil {
		return
	}
	type sibling struct {
		RFilename string `json:"rfilename"`
	}
	answer := map[string]any{"id": r.PathValue("org") + "/" + r.PathValue("name"), "sha": commit}
	if !f.noSiblings {
		sib := []sibling{{"README.md"}, {".gitattributes"}}
		for name := range files {
			sib = append(sib, sibling{name})
		}
		for i := range f.padList {
			sib = append(sib, sibling{fmt.Sprintf("data/%05d.txt", i)})
		}
		sib = slices.DeleteFunc(sib, func(s sibling) bool { return f.unlisted[s.RFilename] })
		answer["siblings"] = sib
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

func (f *fakeHub) serveResolve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fileCalls++
	f.hubAuth = append(f.hubAuth, r.Header.Get("Authorization"))
	repo, commit, files := f.lookup(w, r)
	if files == nil {
		return
	}
	name := r.PathValue("file")
	file, ok := files[name]
	w.Header().Set("X-Repo-Commit", commit)
	if !ok || repo.hide404[name] {
		if !f.noCodes {
			w.Header().Set("X-Error-Code", "EntryNotFound")
		}
		http.Error(w, `{"error":"Entry not found"}`, http.StatusNotFound)
		return
	}
	if file.lfs {
		// The Hub's own ETag on the redirect is not the blob id; X-Linked-Etag is.
		w.Header().Set("ETag", `"pointer-etag"`)
		w.Header().Set("X-Linked-Etag", `"`+file.etag()+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(file.data)))
		// A signed URL, as the Hub's: the signature must not leak into messages.
		w.Header().Set("Location", f.cdn.URL+"/lfs/"+file.etag()+"?Signature=secret")
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `W/"`+file.etag()+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(file.data)))
	w.Write(file.data)
}

func (f *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.cdnCalls++
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	f.cdnAuth = append(f.cdnAuth, r.Header.Get("Authorization"))
	var data []byte
	for _, repo := range f.repos {
		for _, files := range repo.commits {
			for _, file := range files {
				if file.lfs && file.etag() == r.PathValue("sha") {
					data = file.data
				}
			}
		}
	}
	if f.corrupt && data != nil {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0xff
	}
	cut := f.cutAfter
	if !f.cutAlways {
		f.cutAfter = 0
	}
	hold, holdAfter := f.hold, f.holdAfter
	f.hold = nil
	noRange := f.noRange
	status := f.cdnStatus
	stall := f.stalls > 0
	if stall {
		f.stalls--
		hold, holdAfter = make(chan struct{}), f.stallAfter
	}
	f.mu.Unlock()

	if status > 0 {
		http.Error(w, "<Error><Code>AccessDenied</Code></Error>", status)
		return
	}
	if data == nil {
		http.NotFound(w, r)
		return
	}
	// The CDN's ETag is an S3-style id that must not be mistaken for the blob id.
	w.Header().Set("ETag", `"cdn-0123"`)
	start := 0
	status = http.StatusOK
	if rng := r.Header.Get("Range"); rng != "" && !noRange {
		s, ok := strings.CutPrefix(rng, "bytes=")
		s = strings.TrimSuffix(s, "-")
		n, err := strconv.Atoi(s)
		if !ok || err != nil {
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		}
		if n >= len(data) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	body := data[start:]
	if cut > 0 {
		// Announce the whole body, send part of it, drop the connection.
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			f.t.Errorf("hijack: %v", err)
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\nETag: \"cdn-0123\"\r\n", status, http.StatusText(status), len(body))
		if status == http.StatusPartialContent {
			fmt.Fprintf(buf, "Content-Range: %s\r\n", w.Header().Get("Content-Range"))
		}
		buf.WriteString("\r\n")
		buf.Write(body[:cut])
		buf.Flush()
		conn.Close()
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if hold != nil {
		w.Write(body[:holdAfter])
		w.(http.Flusher).Flush()
		close(hold)
		<-r.Context().Done()
		return
	}
	w.Write(body)
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// commitOf returns a reproducible 40-hex-digit commit hash.
func commitOf(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// set changes the fake Hub's behaviour under its lock.
func (f *fakeHub) set(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change()
}

// lastRange is the Range header of the latest CDN request.
func (f *fakeHub) lastRange() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ranges) == 0 {
		return "<none>"
	}
	return f.ranges[len(f.ranges)-1]
}

// rangesSeen returns a copy of the Range headers of the CDN requests.
func (f *fakeHub) rangesSeen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ranges)
}

// auths returns copies of the Authorization headers seen by the Hub and the CDN.
func (f *fakeHub) auths() (hub, cdn []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.hubAuth), slices.Clone(f.cdnAuth)
}
