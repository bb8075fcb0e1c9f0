package report

import (
	"io"
	"slices"
	"strings"

	"github.com/driftd/driftd/pkg/drift"
)

// Options are the settings a renderer may use.
type Options struct {
	// Text holds the text renderer's settings.
	Text TextOptions
}

// Writer renders a report.
type Writer func(w io.Writer, r drift.Report, o Options) error

// Formats returns the output formats of `driftd check -o`, by name: adding
// one is adding a line here.
func Formats() map[string]Writer {
	return map[string]Writer{
		"text":     func(w io.Writer, r drift.Report, o Options) error { return WriteText(w, r, o.Text) },
		"json":     func(w io.Writer, r drift.Report, _ Options) error { return WriteJSON(w, r) },
		"junit":    func(w io.Writer, r drift.Report, _ Options) error { return WriteJUnit(w, r) },
		"markdown": func(w io.Writer, r drift.Report, _ Options) error { return WriteMarkdown(w, r) },
		"sarif":    func(w io.Writer, r drift.Report, _ Options) error { return WriteSARIF(w, r) },
	}
}

// FormatNames lists the formats, sorted, for usage and error messages.
func FormatNames() string {
	names := make([]string, 0, len(Formats()))
	for n := range Formats() {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
