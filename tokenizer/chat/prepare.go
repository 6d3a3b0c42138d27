package chat

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// prepareSource resolves Jinja2's whitespace control on src, as transformers
// configures it (trim_blocks, lstrip_blocks, keep_trailing_newline off), and
// returns an equivalent template for the engine in which every piece of
// literal text has become a {{ '...' }} expression.
//
// Why: ardanlabs/jinja v1.8.0 applies trim_blocks and lstrip_blocks to the
// nearest text segment even when another tag stands between, so
// "{% if x %}{{ a }}\nb" loses the newline that Jinja2 keeps. With no text
// segments left, the engine's own trimming has nothing to act on, and the
// rules below, written from Jinja2's lexer, decide alone:
//
//   - Newlines (\r\n, \r, \n) become "\n"; one trailing newline is dropped.
//   - "{%-", "{#-", "{{-" strip all whitespace before the tag; "-%}", "-#}",
//     "-}}" all whitespace after it.
//   - lstrip_blocks: before a block or comment tag without "-" or "+",
//     spaces and tabs back to the previous newline are removed when nothing
//     else stands there and the tag starts a line (after a newline, at the
//     template start, or after a tag whose end swallowed a newline).
//   - trim_blocks: one "\n" right after a block or comment tag without "-"
//     or "+" is removed.
//   - "{% raw %}...{% endraw %}" content is literal text.
//
// Two expression rewrites make the output Python's: each {{ X }} becomes
// {{ loft__print((X)) }} (str(): None prints "None", 2.0 prints "2.0"),
// and each X|tojson(...) becomes loft__tojson(X, ...) (json.dumps with key
// order kept, also with indent); see pyformat.go.
//
// Line numbers are kept: newlines removed from the text are put back as
// whitespace inside no-op tags, so the engine's errors point at the source
// line.
func prepareSource(src string) (string, error) {
	if strings.Contains(src, "\r") {
		src = strings.ReplaceAll(src, "\r\n", "\n")
		src = strings.ReplaceAll(src, "\r", "\n")
	}
	src = strings.TrimSuffix(src, "\n")

	var out strings.Builder
	out.Grow(len(src) + len(src)/4)
	lineStarting := true // Jinja2's line_starting: the last match ended with "\n"
	pos := 0
	line := 1 // line of src[pos]
	for pos < len(src) {
		i := nextTagStart(src, pos)
		if i < 0 {
			emitText(&out, src[pos:], "")
			break
		}
		data := src[pos:i]
		kind := src[i+1]
		j := i + 2
		var sign byte
		if j < len(src) && (src[j] == '-' || src[j] == '+') {
			sign = src[j]
			j++
		}
		tagLine := line + strings.Count(data, "\n")

		// Whitespace before the tag.
		kept := data
		switch {
		case sign == '-':
			kept = strings.TrimRightFunc(data, isPySpace)
		case sign != '+' && kind != '{':
			lpos := strings.LastIndexByte(data, '\n') + 1
			if (lpos > 0 || lineStarting) && strings.Trim(data[lpos:], " \t") == "" {
				kept = data[:lpos]
			}
		}
		emitText(&out, kept, data[len(kept):])

		if kind == '%' {
			if m := rawBeginRE.FindStringSubmatchIndex(src[i:]); m != nil {
				end, err := emitRaw(&out, src, src[i:i+m[1]], i+m[1], tagLine)
				if err != nil {
					return "", err
				}
				line = tagLine + strings.Count(src[i:end], "\n")
				pos = end
				lineStarting = strings.HasSuffix(src[i:end], "\n")
				continue
			}
		}

		inner, endSign, after, err := scanTag(src, j, kind)
		if err != nil {
			return "", fmt.Errorf("line %d: %v", tagLine, err)
		}
		switch kind {
		case '{':
			out.WriteString("{{ ")
			if strings.TrimSpace(inner) == "" {
				out.WriteString(inner)
			} else {
				// Printed as Python's str(), tojson as json.dumps.
				out.WriteString(printFunc + "((")
				out.WriteString(rewriteTojson(inner))
				out.WriteString("))")
			}
			out.WriteString(" }}")
		case '%':
			switch strings.TrimSpace(inner) {
			case "generation", "endgeneration":
				// transformers' AssistantTracker blocks: markers that
				// RenderGeneration turns into spans.
				out.WriteString("{{ " + genFunc + "('" + strings.TrimSpace(inner) + "') }}")
			default:
				out.WriteString("{% ")
				out.WriteString(rewriteTojson(inner))
				out.WriteString(" %}")
			}
		case '#':
			emitNewlines(&out, strings.Count(inner, "\n"))
		}

		// Whitespace after the tag, swallowed by the tag's end as in
		// Jinja2's lexer.
		end := after
		switch {
		case endSign == '-':
			rest := src[after:]
			end = after + len(rest) - len(strings.TrimLeftFunc(rest, isPySpace))
		case endSign != '+' && kind != '{' && after < len(src) && src[after] == '\n':
			end = after + 1
		}
		emitNewlines(&out, strings.Count(src[after:end], "\n"))
		lineStarting = end > after && src[end-1] == '\n'
		line = tagLine + strings.Count(src[i:end], "\n")
		pos = end
	}
	return out.String(), nil
}

// Raw blocks, as Jinja2's lexer matches them: the begin tag takes no
// trailing newline; the end tag ends like any block.
var (
	rawBeginRE = regexp.MustCompile(`^\{%([-+]?)\s*raw\s*(?:-%\}\s*|%\})`)
	rawEndRE   = regexp.MustCompile(`\{%([-+]?)\s*endraw\s*(\+%\}|-%\}\s*|%\}\n?)`)
)

// emitRaw writes the literal content of a raw block whose begin tag is
// begin and whose content starts at start, and returns the offset after
// its end tag.
func emitRaw(out *strings.Builder, src, begin string, start int, line int) (int, error) {
	// A "-%}" begin tag swallowed the whitespace after it (part of begin).
	emitNewlines(out, strings.Count(begin, "\n"))
	m := rawEndRE.FindStringSubmatchIndex(src[start:])
	if m == nil {
		return 0, fmt.Errorf("line %d: unclosed raw block", line)
	}
	data := src[start : start+m[0]]
	kept := data
	switch sign := src[start+m[2] : start+m[3]]; sign {
	case "-":
		kept = strings.TrimRightFunc(data, isPySpace)
	case "":
		lpos := strings.LastIndexByte(data, '\n') + 1
		if (lpos > 0 || strings.HasSuffix(begin, "\n")) && strings.Trim(data[lpos:], " \t") == "" {
			kept = data[:lpos]
		}
	}
	emitText(out, kept, data[len(kept):])
	emitNewlines(out, strings.Count(src[start+m[0]:start+m[1]], "\n"))
	return start + m[1], nil
}

// nextTagStart returns the offset of the next "{{", "{%" or "{#" at or
// after pos, or -1.
func nextTagStart(src string, pos int) int {
	for {
		k := strings.IndexByte(src[pos:], '{')
		if k < 0 || pos+k+1 >= len(src) {
			return -1
		}
		i := pos + k
		if c := src[i+1]; c == '{' || c == '%' || c == '#' {
			return i
		}
		pos = i + 1
	}
}

// scanTag finds the end of a tag whose content starts at j. It returns the
// content (without a "-" or "+" before the closer), that sign, and the
// offset after the closer. Inside expressions and statements, quoted strings
// and brackets are skipped as Jinja2's lexer does, so "}}" inside a dict
// literal does not end the tag; such a "}}" is returned as "} }" so that the
// engine's simpler scanner does not stop there either.
func scanTag(src string, j int, kind byte) (inner string, sign byte, after int, err error) {
	closer := map[byte]string{'{': "}}", '%': "%}", '#': "#}"}[kind]
	if kind == '#' {
		k := strings.Index(src[j:], closer)
		if k < 0 {
			return "", 0, 0, fmt.Errorf("unclosed comment")
		}
		inner = src[j : j+k]
		if n := len(inner); n > 0 && (inner[n-1] == '-' || inner[n-1] == '+') {
			sign, inner = inner[n-1], inner[:n-1]
		}
		return inner, sign, j + k + 2, nil
	}
	var b strings.Builder
	depth := 0
	for i := j; i < len(src); {
		c := src[i]
		switch {
		case c == '\'' || c == '"':
			k := i + 1
			for k < len(src) && src[k] != c {
				if src[k] == '\\' {
					k++
				}
				k++
			}
			if k >= len(src) {
				return "", 0, 0, fmt.Errorf("unterminated string")
			}
			b.WriteString(src[i : k+1])
			i = k + 1
			continue
		case depth == 0 && (c == '-' || c == '+') && strings.HasPrefix(src[i+1:], closer) && (c == '-' || kind == '%'):
			return b.String(), c, i + 1 + len(closer), nil
		case depth == 0 && strings.HasPrefix(src[i:], closer):
			return b.String(), 0, i + len(closer), nil
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			if depth > 0 {
				depth--
			}
			if c == '}' && i+1 < len(src) && src[i+1] == '}' {
				b.WriteString("} ")
				i++
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	name := map[byte]string{'{': "expression {{ }}", '%': "statement {% %}"}[kind]
	return "", 0, 0, fmt.Errorf("unclosed %s", name)
}

// emitText writes literal text as a string expression, followed by the
// newlines of dropped (the whitespace removed after it) to keep lines.
func emitText(out *strings.Builder, kept, dropped string) {
	if kept != "" {
		out.WriteString("{{ '")
		for k := 0; k < len(kept); k++ {
			if kept[k] == '\\' || kept[k] == '\'' {
				out.WriteByte('\\')
			}
			out.WriteByte(kept[k])
		}
		out.WriteString("' }}")
	}
	emitNewlines(out, strings.Count(dropped, "\n"))
}

// emitNewlines writes n newlines inside a tag that renders nothing.
func emitNewlines(out *strings.Builder, n int) {
	if n > 0 {
		out.WriteString("{{ ''")
		out.WriteString(strings.Repeat("\n", n))
		out.WriteString("}}")
	}
}

// isPySpace is Python's str.isspace for one character, which Jinja2's
// rstrip and \s use.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}
