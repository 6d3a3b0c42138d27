package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// defaultTimeout is huggingface_hub's DEFAULT_ETAG_TIMEOUT and
// DEFAULT_DOWNLOAD_TIMEOUT (constants.py).
const defaultTimeout = 10 * time.Second

// maxResumes is how many times in a row a download cut midway is resumed
// without its partial file growing in between; huggingface_hub's http_get
// allows 5 and counts again from 5 after each chunk it receives (loft
// counts growth instead, so that a server ignoring Range cannot loop it).
const maxResumes = 5

// timeoutFromEnv reads a timeout in seconds from the environment variable
// name as huggingface_hub does (HF_HUB_ETAG_TIMEOUT, HF_HUB_DOWNLOAD_TIMEOUT:
// unset, empty or 0 means 10 s); a fraction of a second is accepted too.
func timeoutFromEnv(name string) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return defaultTimeout, nil
	}
	sec, err := strconv.ParseFloat(v, 64)
	if err != nil || sec < 0 || sec > 1e6 {
		return 0, fmt.Errorf("hub: %s=%q: want a timeout in seconds", name, v)
	}
	if sec == 0 {
		return defaultTimeout, nil
	}
	return time.Duration(sec * float64(time.Second)), nil
}

// errStalled is the cause a watchdog cancels its requests with.
var errStalled = errors.New("stalled")

// watchdog cancels the requests made with its context when the server
// sends nothing for d while the client waits: neither the headers of an
// answer nor a byte of its body. requests, which huggingface_hub uses, gives
// each socket read the same timeout, so a stalled server fails instead of
// hanging. The time between reads (disk writes, hashing) does not count.
type watchdog struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	d      time.Duration
	env    string // the variable that sets d, for messages

	mu    sync.Mutex
	timer *time.Timer
	wait  int // counts arm and disarm: a timer's wait is over once it changed
}

func newWatchdog(ctx context.Context, d time.Duration, env string) *watchdog {
	ctx, cancel := context.WithCancelCause(ctx)
	return &watchdog{ctx: ctx, cancel: cancel, d: d, env: env}
}

// arm starts a wait of d; disarm ends it.
func (w *watchdog) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wait++
	wait := w.wait
	w.timer = time.AfterFunc(w.d, func() { w.expire(wait) })
}

func (w *watchdog) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wait++
	if w.timer != nil {
		w.timer.Stop()
	}
}

// expire cancels the requests if wait, the wait its timer was started
// for, is still going on. A timer that fires as its read returns runs
// expire after disarm (Stop cannot stop a function already started): the
// read got its answer, so it was no stall.
func (w *watchdog) expire(wait int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wait == w.wait {
		w.cancel(errStalled)
	}
}

// stop releases the context; requests made with it end.
func (w *watchdog) stop() {
	w.disarm()
	w.cancel(nil)
}

// explain returns err, or when the watchdog cut the wait an error that says
// so, naming the host and the variable that sets the timeout.
func (w *watchdog) explain(err error, host string) error {
	if errors.Is(context.Cause(w.ctx), errStalled) {
		return fmt.Errorf("%s sent nothing for %v (%s sets the timeout in seconds): %w", host, w.d, w.env, errStalled)
	}
	return err
}

// do sends req, made with w.ctx, and waits up to d for the answer; each
// read of the answer's body may wait up to d too. A signed URL's query
// (its signature) is left out of the error.
func (w *watchdog) do(c *http.Client, req *http.Request) (*http.Response, error) {
	w.arm()
	resp, err := c.Do(req)
	w.disarm()
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = withoutQuery(ue.URL)
		}
		return nil, w.explain(err, req.URL.Host)
	}
	resp.Body = watchedBody{ReadCloser: resp.Body, w: w, host: req.URL.Host}
	return resp, nil
}

type watchedBody struct {
	io.ReadCloser
	w    *watchdog
	host string
}

func (b watchedBody) Read(p []byte) (int, error) {
	b.w.arm()
	n, err := b.ReadCloser.Read(p)
	b.w.disarm()
	if err != nil && err != io.EOF {
		err = b.w.explain(err, b.host)
	}
	return n, err
}

// withoutQuery returns the URL u without its query and fragment.
func withoutQuery(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.RawQuery, p.Fragment = "", ""
	return p.String()
}
