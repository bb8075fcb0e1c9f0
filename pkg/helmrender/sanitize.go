package helmrender

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/driftd/driftd/pkg/manifest"
	"github.com/driftd/driftd/pkg/repofs"
)

// minRedacted is the shortest supplied value that is removed from errors:
// shorter ones (true, 80, web) are no secret, and removing them would
// garble the message.
const minRedacted = 4

// redactor removes supplied values from error messages. Helm's errors may
// quote them: tpl quotes its template (often a value), schema validation
// quotes values that fail a pattern, and fail or required messages may
// include them. Values files and inline values may hold secrets, so every
// supplied string is replaced by "(value)" wherever it appears, except
// inside a longer name the message needs (a template, the chart, a key).
type redactor struct {
	secrets []string
	keep    []string
}

// keepWords are words of helm's and Go's error messages that a short value
// must not garble.
var keepWords = []string{"string", "interface", "float64", "int64", "bool", "slice", "nil pointer", "evaluating", "executing", "template", "Values", "Release", "Chart", "Capabilities", "Files"}

// add records a supplied string, its quoted form (as %q writes it) and its
// base64 form (as b64enc writes it, for a Secret's data).
func (r *redactor) add(s string) {
	if len(s) < minRedacted {
		return
	}
	r.secrets = append(r.secrets, s, base64.StdEncoding.EncodeToString([]byte(s)))
	if q := strconv.Quote(s); q[1:len(q)-1] != s {
		r.secrets = append(r.secrets, q[1:len(q)-1])
	}
}

// addValues records every string in a values tree, and keeps its keys
// readable.
func (r *redactor) addValues(v any) {
	switch v := v.(type) {
	case string:
		r.add(v)
	case map[string]any:
		for k, e := range v {
			r.keep = append(r.keep, k)
			r.addValues(e)
		}
	case []any:
		for _, e := range v {
			r.addValues(e)
		}
	}
}

// protect records a name that must stay readable in messages.
func (r *redactor) protect(s ...string) { r.keep = append(r.keep, s...) }

// clean returns msg without supplied values.
func (r *redactor) clean(msg string) string {
	if r == nil || len(r.secrets) == 0 {
		return msg
	}
	type pair struct {
		old, new string
		keep     bool
	}
	pairs := make([]pair, 0, len(r.secrets)+len(r.keep)+len(keepWords))
	for _, k := range slices.Concat(r.keep, keepWords) {
		if k != "" {
			pairs = append(pairs, pair{k, k, true})
		}
	}
	for _, s := range r.secrets {
		pairs = append(pairs, pair{s, "(value)", false})
	}
	// strings.Replacer takes, at each position, the first of its
	// arguments that matches there: longest first, so that a name never
	// shields a longer value it is part of, and a name before an equal
	// value.
	slices.SortStableFunc(pairs, func(a, b pair) int {
		if len(a.old) != len(b.old) {
			return len(b.old) - len(a.old)
		}
		if a.keep != b.keep {
			if a.keep {
				return -1
			}
			return 1
		}
		return 0
	})
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.old, p.new)
	}
	return strings.NewReplacer(args...).Replace(msg)
}

var (
	// quotedValue matches what YAML decoders quote of a document in
	// their errors.
	quotedValue = regexp.MustCompile("`[^`]*`")
	// tplQuote finds where the tpl function quotes its template text.
	tplQuote = regexp.MustCompile(`(cannot parse template |error during tpl function execution for )"`)
	// lineBreak matches helm's multi-line error layout.
	lineBreak = regexp.MustCompile(`\s*\n\s*`)
)

// sanitize turns an error from the rendering of req into one for a report:
// it names the request, has no supplied value, no template text quoted by
// tpl, no line breaks and no control characters.
func sanitize(req Request, red *redactor, err error) error {
	msg := err.Error()
	msg = stripTplText(msg)
	msg = quotedValue.ReplaceAllString(msg, "(value)")
	msg = red.clean(msg)
	msg = lineBreak.ReplaceAllString(strings.TrimSpace(msg), " ")
	msg = escapeControl(msg)
	return &renderError{msg: req.String() + ": " + msg, err: err}
}

// stripTplText replaces the template text that helm's tpl function quotes
// in its errors.
func stripTplText(msg string) string {
	var b strings.Builder
	for {
		loc := tplQuote.FindStringIndex(msg)
		if loc == nil {
			b.WriteString(msg)
			return b.String()
		}
		start := loc[1] - 1 // the opening quote
		b.WriteString(msg[:start])
		q, err := strconv.QuotedPrefix(msg[start:])
		if err != nil {
			b.WriteString("(template text)")
			return b.String()
		}
		b.WriteString("(template text)")
		msg = msg[start+len(q):]
	}
}

// escapeControl escapes control characters, so that names carrying escape
// sequences or line breaks cannot bend a report or a terminal.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// renderError is a sanitized error: its message is safe to report, and it
// still matches the sentinel errors of the original with errors.Is.
type renderError struct {
	msg string
	err error
}

func (e *renderError) Error() string { return e.msg }

// Is matches the sentinels of the original error without exposing its
// message through Unwrap.
func (e *renderError) Is(target error) bool {
	for _, s := range sentinels {
		if target == s && errors.Is(e.err, s) {
			return true
		}
	}
	return false
}

// sentinels are the errors that survive sanitizing and the process
// boundary of RenderIsolated.
var sentinels = []error{ErrRemoteRefused, ErrOCI, ErrTooLarge, ErrNotVendored, ErrDigest, ErrAliasBomb, ErrTimeout, ErrCrashed, repofs.ErrOutside, repofs.ErrTooLarge, repofs.ErrDirSymlink, repofs.ErrNotRegular, context.Canceled, context.DeadlineExceeded}

// ErrAliasBomb is returned, wrapped, for YAML whose aliases expand beyond
// manifest.MaxAliasExpansion nodes.
var ErrAliasBomb = manifest.ErrAliasBomb

// checkAliases refuses YAML whose aliases expand too far, as the app layer
// does for plain files.
func checkAliases(b []byte) error { return manifest.CheckAliases(b) }
