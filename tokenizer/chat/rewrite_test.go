package chat

import (
	"math"
	"testing"
)

func TestRewriteTojson(t *testing.T) {
	tests := []struct{ in, want string }{
		{"x|tojson", "loft__tojson(x)"},
		{" tool | tojson ", " loft__tojson(tool) "},
		{"a.b[0].c(1)|tojson(indent=4)", "loft__tojson(a.b[0].c(1), indent=4)"},
		{"'x' ~ t|tojson", "'x' ~ loft__tojson(t)"},
		{"not x|tojson", "not loft__tojson(x)"},
		{"x|default({})|tojson|safe", "loft__tojson(x|default({}))|safe"},
		{"{'a': 1}|tojson", "loft__tojson({'a': 1})"},
		{"f(x|tojson, y|tojson())", "f(loft__tojson(x), loft__tojson(y))"},
		{"'a|tojson'", "'a|tojson'"},
		{"x|tojsonx", "x|tojsonx"},
		{"(a + b)|tojson", "loft__tojson((a + b))"},
		{"1.5|tojson", "loft__tojson(1.5)"},
		{"x if c else y|tojson", "x if c else loft__tojson(y)"},
		{"'s'[1:]|tojson", "loft__tojson('s'[1:])"},
		{"|tojson", "|tojson"},
	}
	for _, tc := range tests {
		if got := rewriteTojson(tc.in); got != tc.want {
			t.Errorf("rewriteTojson(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestPyFloat compares with Python's repr() of the same floats.
func TestPyFloat(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{1, "1.0"}, {0.1, "0.1"}, {1e16, "1e+16"}, {1234567890123456, "1234567890123456.0"},
		{1e-5, "1e-05"}, {0.0001, "0.0001"}, {math.Copysign(0, -1), "-0.0"}, {1.5e-7, "1.5e-07"},
		{1e22, "1e+22"}, {123456789.123, "123456789.123"}, {-2.5, "-2.5"}, {1.0 / 3, "0.3333333333333333"},
		{math.Inf(1), "inf"}, {math.NaN(), "nan"},
	}
	for _, tc := range tests {
		if got := pyFloat(tc.f, false); got != tc.want {
			t.Errorf("pyFloat(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
	if got := pyFloat(math.Inf(-1), true); got != "-Infinity" {
		t.Errorf("JSON -inf = %q", got)
	}
}
