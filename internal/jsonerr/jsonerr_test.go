package jsonerr

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	type inner struct {
		Flag bool `json:"flag"`
	}
	type doc struct {
		N     int              `json:"n"`
		Name  string           `json:"name"`
		Rate  *float64         `json:"rate"`
		List  []int            `json:"list"`
		Inner inner            `json:"inner"`
		Map   map[string]int   `json:"map"`
		Any   map[string]inner `json:"any"`
	}
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "empty file, expected JSON"},
		{"blank", " \n\t\n", "empty file, expected JSON"},
		{"truncated", "{\n  \"n\": 1,\n  \"name\": \"a", "bad JSON: it ends early, at line 3, column 13 (24 bytes: truncated?)"},
		{"syntax", "{\n  \"n\": 1,\n  \"name\" \"a\"}", "bad JSON at line 3, column 10: invalid character '\"' after object key"},
		{"bad last character", "{\n\"n\": 1,\n}", "bad JSON at line 3, column 1: invalid character '}' looking for beginning of object key string"},
		{"integer", "{\"n\": \"7\"}", `bad JSON at line 1, column 9: "n" is a JSON string, want an integer`},
		{"fraction for an integer", "{\n\"n\": 1.5}", `bad JSON at line 2, column 8: "n" is a JSON number 1.5, want an integer`},
		{"pointer", "{\"rate\": true}", `bad JSON at line 1, column 13: "rate" is a JSON bool, want a number`},
		{"array", "{\"list\": {}}", `bad JSON at line 1, column 10: "list" is a JSON object, want an array`},
		{"nested", "{\"inner\": {\"flag\": 1}}", `bad JSON at line 1, column 20: "inner.flag" is a JSON number, want true or false`},
		{"object", "{\"inner\": []}", `bad JSON at line 1, column 11: "inner" is a JSON array, want an object`},
		{"map value", "{\"map\": {\"a\": \"x\"}}", `bad JSON at line 1, column 17: "map" is a JSON string, want an integer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.data)
			var v doc
			err := json.Unmarshal(data, &v)
			if err == nil {
				t.Fatal("the test's JSON decoded")
			}
			d := Describe(data, err)
			if got := d.Error(); got != tc.want {
				t.Errorf("Unmarshal: got  %q\nwant %q", got, tc.want)
			}
			if !errors.Is(d, err) {
				t.Errorf("%v does not wrap %v", d, err)
			}
			// A json.Decoder reports a truncated file as io.ErrUnexpectedEOF
			// and an empty one as io.EOF, without an offset: the same text.
			v = doc{}
			if err := json.NewDecoder(bytes.NewReader(data)).Decode(&v); err == nil {
				t.Fatal("the decoder took the test's JSON")
			} else if got := Describe(data, err).Error(); got != tc.want {
				t.Errorf("Decoder: got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDescribeOtherErrors(t *testing.T) {
	data := []byte(`{"a": 1}`)
	if got, want := Describe(data, errors.New("odd")).Error(), "bad JSON: odd"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// An offset outside the data (a caller that described the wrong
	// buffer) is clamped, not a panic.
	for _, off := range []int64{0, 99} {
		err := &json.UnmarshalTypeError{Value: "string", Offset: off, Field: "a"}
		want := map[int64]string{0: "column 1", 99: "column 9"}[off]
		if got := Describe(data, err).Error(); !strings.Contains(got, want) {
			t.Errorf("offset %d: got %q, want %s", off, got, want)
		}
	}
}
