package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/loftml/loft/internal/fileio"
)

// stepLine is one --metrics JSON line per optimizer step.
type stepLine struct {
	Step         int     `json:"step"`
	Loss         float64 `json:"loss"`
	LR           float64 `json:"lr"`
	GradNorm     float64 `json:"grad_norm"`
	Tokens       int64   `json:"tokens"`       // cumulative counted tokens
	TokensPerSec float64 `json:"tokens_per_s"` // this step's counted tokens per second
	ElapsedS     float64 `json:"elapsed_s"`    // training seconds since the run began (resumes included)
}

// valLine is a --metrics JSON line with the validation loss after a step.
type valLine struct {
	Step    int       `json:"step"`
	ValLoss float64   `json:"val_loss"`
	ValPPL  jsonFloat `json:"val_ppl"` // exp(val_loss): null where it overflows
}

// jsonFloat is a float64 written as null when it is not finite (JSON has
// no NaN or Inf).
type jsonFloat float64

// MarshalJSON writes the number, or null.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// metricsWriter appends JSON lines to the metrics file; with no file it
// does nothing.
type metricsWriter struct {
	f    *os.File
	path string
}

// openMetrics opens path: truncated for a new run (resumeStep 0); for a
// run resumed at resumeStep, the lines of later steps (written by the
// run after the checkpoint it resumes, before it stopped) are dropped
// and new lines are appended, so every step appears once. "" gives a
// writer that drops everything.
func openMetrics(path string, resumeStep int) (*metricsWriter, error) {
	if path == "" {
		return &metricsWriter{}, nil
	}
	// --metrics often names a file inside --out, which the run creates.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if resumeStep > 0 {
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		if err := dropLinesAfter(path, resumeStep); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &metricsWriter{f: f, path: path}, nil
}

// dropLinesAfter rewrites the JSON-lines file path (atomically) without
// the lines whose "step" is above step; other lines stay as they are. A
// missing file is left missing.
func dropLinesAfter(path string, step int) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var kept []byte
	dropped := false
	for line := range bytes.Lines(data) {
		var v struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(line, &v) == nil && v.Step != nil && *v.Step > step {
			dropped = true
			continue
		}
		kept = append(kept, line...)
	}
	if !dropped {
		return nil
	}
	return fileio.WriteFile(path, kept)
}

func (m *metricsWriter) write(v any) error {
	if m.f == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("metrics %s: %w", m.path, err)
	}
	if _, err := m.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("metrics %s: %w", m.path, err)
	}
	return nil
}

// Close closes the file.
func (m *metricsWriter) Close() error {
	if m.f == nil {
		return nil
	}
	return m.f.Close()
}

// bar is the progress bar on stderr: steps done, loss, tokens/s, time left.
// When stderr is not a terminal (a log file, CI), redrawing a bar would fill
// the log with carriage returns, so it prints a plain line every ten
// seconds and at the last step instead.
type bar struct {
	pb    *progressbar.ProgressBar
	w     io.Writer
	total int

	plain     bool      // no terminal: periodic lines
	start     time.Time // plain: when the bar started
	lastPrint time.Time // plain: when the last line was printed
	done      int       // plain: steps done when the bar started
}

// plainEvery is how often a bar without a terminal prints a line.
const plainEvery = 10 * time.Second

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newBar(w io.Writer, total, done int) *bar {
	if w == nil {
		return &bar{}
	}
	if !isTerminal(w) {
		now := time.Now()
		return &bar{w: w, total: total, plain: true, start: now, lastPrint: now, done: done}
	}
	// A resumed run's bar counts only the steps left, so that the time left
	// comes from this process's speed.
	pb := progressbar.NewOptions(total-done,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("train"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &bar{pb: pb, w: w, total: total}
}

func (b *bar) step(st StepStats, tps float64) {
	if b.plain {
		now := time.Now()
		if now.Sub(b.lastPrint) < plainEvery && st.Step < b.total {
			return
		}
		b.lastPrint = now
		left := ""
		if n := st.Step - b.done; n > 0 && st.Step < b.total {
			per := now.Sub(b.start) / time.Duration(n)
			left = fmt.Sprintf(" | %s left", (per * time.Duration(b.total-st.Step)).Round(time.Second))
		}
		fmt.Fprintf(b.w, "train: step %d/%d loss %.4f | %.0f tok/s%s\n", st.Step, b.total, st.Loss, tps, left)
		return
	}
	if b.pb == nil {
		return
	}
	b.pb.Describe(fmt.Sprintf("step %d/%d loss %.4f | %.0f tok/s", st.Step, b.total, st.Loss, tps))
	b.pb.Add(1)
}

// note prints a line above the bar.
func (b *bar) note(s string) {
	if b.plain {
		fmt.Fprintln(b.w, s)
		return
	}
	if b.pb == nil {
		return
	}
	b.pb.Clear()
	fmt.Fprintln(b.w, s)
}

func (b *bar) finish() {
	if b.pb == nil {
		return
	}
	b.pb.Finish()
	fmt.Fprintln(b.w)
	b.pb = nil
}
