package ckpt

import (
	"errors"
	"fmt"
	"strings"

	"github.com/loftml/loft/format/gguf"
)

// GGUFMeta reads one architecture's metadata keys (Prefix + "." + key) from
// a GGUF file and collects every problem, so that one error names each
// missing or malformed key and the file once.
type GGUFMeta struct {
	F      *gguf.File
	Prefix string
	errs   []string
}

// fail records problem msg.
func (m *GGUFMeta) fail(msg string) { m.errs = append(m.errs, msg) }

// Failf records a problem of the caller's own.
func (m *GGUFMeta) Failf(format string, args ...any) { m.fail(fmt.Sprintf(format, args...)) }

// problem records err unless it is a missing optional key.
func (m *GGUFMeta) problem(key string, err error, required bool) {
	switch {
	case errors.Is(err, gguf.ErrMissingKey):
		if required {
			m.fail(fmt.Sprintf("missing key %q", key))
		}
	default:
		// The accessors name the file; the combined error names it once.
		m.fail(strings.TrimPrefix(err.Error(), "gguf "+m.F.Path()+": "))
	}
}

// Uint reads a non-negative integer key into dst; a required key must be
// present and positive. An absent optional key leaves dst as it is.
func (m *GGUFMeta) Uint(key string, dst *int, required bool) {
	key = m.Prefix + "." + key
	v, err := m.F.Uint(key)
	switch {
	case err != nil:
		m.problem(key, err, required)
	case required && v == 0:
		m.fail(fmt.Sprintf("%s is 0", key))
	default:
		*dst = int(v)
	}
}

// Float reads a floating-point key into dst, as Uint does.
func (m *GGUFMeta) Float(key string, dst *float64, required bool) {
	key = m.Prefix + "." + key
	if v, err := m.F.Float(key); err != nil {
		m.problem(key, err, required)
	} else {
		*dst = v
	}
}

// Rows sets dst to the number of rows of the 2-D tensor name (GGUF lists
// dimensions innermost first, so its second).
func (m *GGUFMeta) Rows(name string, dst *int) {
	switch ti, ok := m.F.Tensor(name); {
	case !ok:
		m.fail(fmt.Sprintf("tensor %s is missing", name))
	case len(ti.Dims) != 2:
		m.fail(fmt.Sprintf("tensor %s has dimensions %v, want 2", name, ti.Dims))
	default:
		*dst = ti.Dims[1]
	}
}

// Err returns every problem recorded, in one error naming the file, or
// nil.
func (m *GGUFMeta) Err() error {
	if len(m.errs) == 0 {
		return nil
	}
	return fmt.Errorf("gguf %s: %s", m.F.Path(), strings.Join(m.errs, "; "))
}
