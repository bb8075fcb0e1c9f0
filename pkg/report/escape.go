package report

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// safeText makes text that came from a repository, a node or an API server
// safe to print on a terminal: control characters (ESC and the sequences it
// starts, which can rewrite the screen or set the clipboard; carriage
// return; backspace; C1 controls), bidirectional overrides, and invalid
// UTF-8 are shown as escapes (\x1b, \u202e). The characters in keep (such as
// a diff's newlines and tabs) are left as they are.
func safeText(s, keep string) string {
	if !needsEscape(s, keep) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r) && !strings.ContainsRune(keep, r):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s, keep string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unsafeRune(r) && !strings.ContainsRune(keep, r) {
			return true
		}
	}
	return false
}

// unsafeRune reports the runes that must not reach a terminal raw.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true // bidirectional embeddings, overrides, isolates and marks
	}
	return false
}

// Printable returns s safe to show on one line of a terminal or a page:
// control characters (newlines included), terminal escape sequences,
// bidirectional overrides and bytes that are not UTF-8 are shown as
// escapes such as \x1b and \u202e.
func Printable(s string) string { return line(s) }

// PrintableBlock is Printable for multi-line text such as a diff or an
// error: newlines and tabs are kept.
func PrintableBlock(s string) string { return block(s) }

// line is safeText for a value shown on one line: newlines are escaped too.
func line(s string) string { return safeText(s, "") }

// block is safeText for multi-line text: newlines and tabs stay.
func block(s string) string { return safeText(s, "\n\t") }

// mdCode renders s as a Markdown code span, inside which Markdown does not
// apply: no links, images, mentions, emphasis or HTML. The fence is longer
// than any run of backticks in s, and a pipe is escaped so that a table cell
// holds.
func mdCode(s string) string {
	s = strings.ReplaceAll(line(s), "|", `\|`)
	if s == "" {
		return ""
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	return fence + " " + s + " " + fence
}
