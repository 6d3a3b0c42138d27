package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ardanlabs/jinja"
)

// jsonToValue decodes one JSON document into a template value, keeping the
// order of object keys as written. Python's json.loads keeps that order too,
// and a template's |tojson writes it back, so tool schemas reach the prompt
// exactly as the user wrote them (jinja.FromGoValue would sort the keys).
// Integers stay integers (json.Number), as in Python.
func jsonToValue(data []byte) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return jinja.Undefined(), err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jinja.Undefined(), errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// decodeValue reads the next complete JSON value from dec.
func decodeValue(dec *json.Decoder) (jinja.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return jinja.Undefined(), io.ErrUnexpectedEOF
		}
		return jinja.Undefined(), err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d := jinja.NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jinja.Undefined(), err
				}
				key, ok := kt.(string)
				if !ok {
					return jinja.Undefined(), fmt.Errorf("object key is %v, not a string", kt)
				}
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Undefined(), err
				}
				d.AsDict().Set(key, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return jinja.Undefined(), err
			}
			return d, nil
		case '[':
			items := []jinja.Value{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Undefined(), err
				}
				items = append(items, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return jinja.Undefined(), err
			}
			return jinja.NewList(items), nil
		}
		return jinja.Undefined(), fmt.Errorf("unexpected %v", t)
	default:
		return jinja.FromGoValue(tok), nil
	}
}

// toValue converts a Go value given as an extra template variable. A
// json.RawMessage keeps its key order; everything else goes through
// jinja.FromGoValue (maps get sorted keys there).
func toValue(v any) (jinja.Value, error) {
	switch x := v.(type) {
	case json.RawMessage:
		return jsonToValue(x)
	case jinja.Value:
		return x, nil
	case []json.RawMessage:
		items := make([]jinja.Value, len(x))
		for i, raw := range x {
			iv, err := jsonToValue(raw)
			if err != nil {
				return jinja.Undefined(), fmt.Errorf("item %d: %w", i, err)
			}
			items[i] = iv
		}
		return jinja.NewList(items), nil
	}
	val := jinja.FromGoValue(v)
	if val.IsUndefined() {
		return val, fmt.Errorf("unsupported Go type %T", v)
	}
	return val, nil
}
