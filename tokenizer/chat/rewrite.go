package chat

import "strings"

// rewriteTojson turns every "X | tojson" or "X | tojson(ARGS)" in the
// expression text s into a call "loft__tojson(X)" / "loft__tojson(X, ARGS)",
// so the Python-exact tojson of pyformat.go replaces the engine's filter.
// X is found by walking back over a postfix chain as Jinja2's grammar
// binds filters: names, literals and bracket groups, joined by ".",
// calls, subscripts and earlier filters. An occurrence whose operand
// cannot be delimited is left to the engine.
func rewriteTojson(s string) string {
	for range 64 { // a tag holds few filters; the bound only guards the loop
		idx := indexExpr(s)
		pipe, nameEnd := -1, -1
		for _, p := range idx.pipes {
			j := skipSpace(s, p+1)
			if strings.HasPrefix(s[j:], "tojson") && (j+6 == len(s) || !isIdentByte(s[j+6])) {
				pipe, nameEnd = p, j+6
				break
			}
		}
		if pipe < 0 {
			return s
		}
		start, ok := operandStart(s, pipe, idx)
		if !ok {
			return s
		}
		operand := strings.TrimRight(s[start:pipe], " \t\n")
		end, args := nameEnd, ""
		if j := skipSpace(s, nameEnd); j < len(s) && s[j] == '(' {
			close, ok := idx.close[j]
			if !ok {
				return s
			}
			if a := strings.TrimSpace(s[j+1 : close]); a != "" {
				args = ", " + a
			}
			end = close + 1
		}
		s = s[:start] + tojsonFunc + "(" + operand + args + ")" + s[end:]
	}
	return s
}

// exprIndex records the structure rewriteTojson walks: the filter pipes
// outside strings, the opening bracket of each closing one (and the
// reverse), and the opening quote of each string's closing quote.
type exprIndex struct {
	pipes    []int
	open     map[int]int
	close    map[int]int
	strStart map[int]int
}

func indexExpr(s string) exprIndex {
	idx := exprIndex{open: map[int]int{}, close: map[int]int{}, strStart: map[int]int{}}
	var stack []int
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '"':
			k := i + 1
			for k < len(s) && s[k] != c {
				if s[k] == '\\' {
					k++
				}
				k++
			}
			if k >= len(s) {
				return idx // unterminated: the engine reports it
			}
			idx.strStart[k] = i
			i = k
		case '(', '[', '{':
			stack = append(stack, i)
		case ')', ']', '}':
			if n := len(stack); n > 0 {
				idx.open[i] = stack[n-1]
				idx.close[stack[n-1]] = i
				stack = stack[:n-1]
			}
		case '|':
			idx.pipes = append(idx.pipes, i)
		}
	}
	return idx
}

// keywords that can stand before a bracket group without calling it.
var exprKeywords = map[string]bool{"not": true, "and": true, "or": true, "in": true, "is": true, "if": true, "else": true}

// operandStart returns where the operand of the filter at pipe starts.
func operandStart(s string, pipe int, idx exprIndex) (int, bool) {
	i := skipSpaceBack(s, pipe)
	for {
		if i == 0 {
			return 0, false
		}
		c := s[i-1]
		switch {
		case c == ')' || c == ']' || c == '}':
			o, ok := idx.open[i-1]
			if !ok {
				return 0, false
			}
			i = o
			if c != '}' {
				// A call or subscript applies to what stands before.
				k := skipSpaceBack(s, i)
				if k > 0 {
					p := s[k-1]
					if p == ')' || p == ']' || p == '\'' || p == '"' {
						i = k
						continue
					}
					if isIdentByte(p) {
						w := k
						for w > 0 && isIdentByte(s[w-1]) {
							w--
						}
						if !exprKeywords[s[w:k]] {
							i = k
							continue
						}
					}
				}
			}
		case c == '\'' || c == '"':
			o, ok := idx.strStart[i-1]
			if !ok {
				return 0, false
			}
			i = o
		case isIdentByte(c):
			w := i
			for w > 0 && isIdentByte(s[w-1]) {
				w--
			}
			if exprKeywords[s[w:i]] {
				return 0, false
			}
			i = w
		default:
			return 0, false
		}
		k := skipSpaceBack(s, i)
		if k > 0 && (s[k-1] == '.' || s[k-1] == '|') {
			i = skipSpaceBack(s, k-1)
			continue
		}
		return i, true
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
		i++
	}
	return i
}

func skipSpaceBack(s string, i int) int {
	for i > 0 && (s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n') {
		i--
	}
	return i
}
