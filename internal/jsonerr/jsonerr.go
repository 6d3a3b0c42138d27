// Package jsonerr turns the errors of encoding/json into messages for the
// person who wrote the file: where the problem is (line and column) and
// what it is, in JSON's words (a field that is "a JSON string, want an
// integer") rather than the Go types encoding/json names, and an empty or
// truncated file said as such.
package jsonerr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// Error is a described decoding error; it wraps encoding/json's.
type Error struct {
	Msg string
	Err error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Describe returns err, which decoding data gave (json.Unmarshal or a
// json.Decoder on data), as such a message (an *Error wrapping err). The
// caller adds the file's name.
func Describe(data []byte, err error) error {
	return &Error{Msg: describe(data, err).Error(), Err: err}
}

// describe is Describe's message.
func describe(data []byte, err error) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("empty file, expected JSON")
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn) && !endOfInput(syn, data):
		return fmt.Errorf("bad JSON at %s: %v", position(data, syn.Offset-1), syn)
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("bad JSON: it ends early, at %s (%d bytes: truncated?)", position(data, int64(len(data))), len(data))
	case errors.As(err, &typ):
		what := "a value" // a map entry's key is not reported
		if typ.Field != "" {
			what = strconv.Quote(typ.Field)
		}
		return fmt.Errorf("bad JSON at %s: %s is a JSON %s, want %s", position(data, typ.Offset-1), what, typ.Value, kind(typ.Type))
	}
	return fmt.Errorf("bad JSON: %v", err)
}

// endOfInput tells whether syn says that data ended inside a value.
// json.Unmarshal gives such an error the offset of the end, as it does a
// bad last character ("{\"a\": 1,}"), and the two differ only in text.
func endOfInput(syn *json.SyntaxError, data []byte) bool {
	return syn.Offset >= int64(len(data)) && strings.Contains(syn.Error(), "end of JSON input")
}

// position writes where the byte at offset off of data is (the end of data
// when off is past it) as "line L, column C", from 1, the column in bytes.
// encoding/json's offsets count the bytes read up to the error, so the byte
// before one is the offending character, or the last of a value of the
// wrong kind (the opening bracket of an object or array).
func position(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

// kind names the JSON kind that decodes into t.
func kind(t reflect.Type) string {
	if t == nil {
		return "another kind"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return kind(t.Elem())
	}
	return "another kind"
}
