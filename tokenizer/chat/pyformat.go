package chat

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ardanlabs/jinja"
)

// Python's formatting of template values, for the two places where
// ardanlabs/jinja v1.8.0 differs from Jinja2 in ways that change prompts:
// printing a value ({{ x }} is str(x): None prints "None", 2.0 prints
// "2.0") and the tojson filter (json.dumps as transformers calls it: key
// order kept with indent too, 2.0 stays 2.0). prepareSource routes every
// {{ }} through printFunc and every |tojson through tojsonFunc.

// Names of the functions prepareSource calls.
const (
	printFunc  = "loft__print"
	tojsonFunc = "loft__tojson"
	genFunc    = "loft__generation"
)

// pyStr is Python's str() of a template value; undefined prints nothing,
// as Jinja2's default Undefined does.
func pyStr(v jinja.Value) string {
	switch {
	case v.IsUndefined():
		return ""
	case v.IsString():
		return v.AsString()
	}
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

// writeRepr writes Python's repr() of v.
func writeRepr(b *strings.Builder, v jinja.Value) {
	switch {
	case v.IsUndefined():
		// Jinja2 would fail for most uses; print nothing.
	case v.IsNone():
		b.WriteString("None")
	case v.IsBool():
		if v.AsBool() {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case v.IsInt():
		b.WriteString(strconv.FormatInt(v.AsInt(), 10))
	case v.IsFloat():
		b.WriteString(pyFloat(v.AsFloat(), false))
	case v.IsString():
		writeStrRepr(b, v.AsString())
	case v.IsList():
		b.WriteByte('[')
		for i, it := range v.AsList().Items {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, it)
		}
		b.WriteByte(']')
	case v.IsDict():
		d := v.AsDict()
		b.WriteByte('{')
		for i, k := range d.Keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeStrRepr(b, k)
			b.WriteString(": ")
			writeRepr(b, d.Data[k])
		}
		b.WriteByte('}')
	default:
		b.WriteString(v.String())
	}
}

// writeStrRepr writes Python's repr() of a string: single quotes unless
// the text has ' and no ", escapes for backslash, the quote, \n \r \t and
// other non-printable characters.
func writeStrRepr(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\' || r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError || unicode.IsPrint(r) || r == ' ':
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			fmt.Fprintf(b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
}

// pyFloat is Python's repr() of a float (json selects the JSON spellings
// of the non-finite values): the shortest digits that read back the same,
// in positional form for exponents -4..15 and with ".0" when integral,
// else d.ddde±XX.
func pyFloat(f float64, json bool) string {
	switch {
	case math.IsNaN(f):
		if json {
			return "NaN"
		}
		return "nan"
	case math.IsInf(f, 1):
		if json {
			return "Infinity"
		}
		return "inf"
	case math.IsInf(f, -1):
		if json {
			return "-Infinity"
		}
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp < -4 || exp >= 16 {
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		return fmt.Sprintf("%se%s%02d", mant, sign, exp)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// jsonOptions are the keyword arguments of transformers' tojson filter.
type jsonOptions struct {
	indent     *string // nil: one line
	itemSep    string
	keySep     string
	sortKeys   bool
	ensureASCI bool
}

// tojson implements tojson(x, ensure_ascii=False, indent=None,
// separators=None, sort_keys=False) as json.dumps does it.
func tojson(args []jinja.Value, kwargs map[string]jinja.Value) (jinja.Value, error) {
	names := []string{"x", "ensure_ascii", "indent", "separators", "sort_keys"}
	if len(args) > len(names) {
		return jinja.Undefined(), fmt.Errorf("tojson: too many arguments")
	}
	arg := map[string]jinja.Value{}
	for i, a := range args {
		arg[names[i]] = a
	}
	for k, v := range kwargs {
		if _, dup := arg[k]; dup {
			return jinja.Undefined(), fmt.Errorf("tojson: %s given twice", k)
		}
		arg[k] = v
	}
	x, ok := arg["x"]
	if !ok {
		return jinja.Undefined(), errors.New("tojson: no value")
	}
	o := jsonOptions{itemSep: ", ", keySep: ": "}
	if v, ok := arg["indent"]; ok && !v.IsNone() && !v.IsUndefined() {
		var ind string
		switch {
		case v.IsInt():
			ind = strings.Repeat(" ", max(0, int(v.AsInt())))
		case v.IsString():
			ind = v.AsString()
		default:
			return jinja.Undefined(), fmt.Errorf("tojson: indent must be an integer or a string")
		}
		o.indent, o.itemSep = &ind, ","
	}
	if v, ok := arg["separators"]; ok && !v.IsNone() && !v.IsUndefined() {
		if !v.IsList() || v.AsList().Len() != 2 || !v.AsList().Items[0].IsString() || !v.AsList().Items[1].IsString() {
			return jinja.Undefined(), fmt.Errorf("tojson: separators must be two strings")
		}
		o.itemSep, o.keySep = v.AsList().Items[0].AsString(), v.AsList().Items[1].AsString()
	}
	o.sortKeys = arg["sort_keys"].IsTruthy()
	o.ensureASCI = arg["ensure_ascii"].IsTruthy()
	var b strings.Builder
	if err := writeJSON(&b, x, &o, 0); err != nil {
		return jinja.Undefined(), fmt.Errorf("tojson: %w", err)
	}
	return jinja.NewString(b.String()), nil
}

// writeJSON writes v as Python's json.dumps does.
func writeJSON(b *strings.Builder, v jinja.Value, o *jsonOptions, depth int) error {
	newline := func(d int) {
		if o.indent != nil {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(*o.indent, d))
		}
	}
	switch {
	case v.IsNone():
		b.WriteString("null")
	case v.IsBool():
		if v.AsBool() {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case v.IsInt():
		b.WriteString(strconv.FormatInt(v.AsInt(), 10))
	case v.IsFloat():
		b.WriteString(pyFloat(v.AsFloat(), true))
	case v.IsString():
		writeJSONString(b, v.AsString(), o.ensureASCI)
	case v.IsList():
		items := v.AsList().Items
		if len(items) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, it := range items {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			newline(depth + 1)
			if err := writeJSON(b, it, o, depth+1); err != nil {
				return err
			}
		}
		newline(depth)
		b.WriteByte(']')
	case v.IsDict():
		d := v.AsDict()
		if len(d.Keys) == 0 {
			b.WriteString("{}")
			return nil
		}
		keys := d.Keys
		if o.sortKeys {
			keys = append([]string(nil), keys...)
			sort.Strings(keys)
		}
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			newline(depth + 1)
			writeJSONString(b, k, o.ensureASCI)
			b.WriteString(o.keySep)
			if err := writeJSON(b, d.Data[k], o, depth+1); err != nil {
				return err
			}
		}
		newline(depth)
		b.WriteByte('}')
	case v.IsUndefined():
		return errors.New("an undefined value is not JSON serializable")
	default:
		return fmt.Errorf("%s is not JSON serializable", v.String())
	}
	return nil
}

// writeJSONString writes s quoted as Python's json module does: \" \\ \n
// \r \t \b \f, other control characters as \u00XX, and with ensureASCII
// every non-ASCII character as \uXXXX (surrogate pairs past U+FFFF).
func writeJSONString(b *strings.Builder, s string, ensureASCII bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		case ensureASCII && r > 0x7e:
			if r >= 0x10000 {
				r -= 0x10000
				fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				fmt.Fprintf(b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
