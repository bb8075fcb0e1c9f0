package daemon

import (
	_ "embed"
	"github.com/driftd/driftd/pkg/apply"
	"html/template"
	"net/http"
	"strings"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/report"
)

//go:embed status.html
var statusHTML string

// statusTmpl shows names, errors and diffs through report's escaper:
// html/template makes them inert HTML, and the escaper keeps control
// characters and bidirectional overrides from disguising them.
var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"shown":      report.Printable,
	"shownBlock": report.PrintableBlock,
	"lines":      func(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") },
	"lineClass": func(l string) string {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			return "hdr"
		case strings.HasPrefix(l, "@@"):
			return "hunk"
		case strings.HasPrefix(l, "+"):
			return "add"
		case strings.HasPrefix(l, "-"):
			return "del"
		case strings.HasPrefix(l, "#"), strings.HasPrefix(strings.TrimSpace(l), "~"):
			return "note"
		}
		return ""
	},
	"short": func(s string) string {
		if len(s) == 40 {
			return s[:12]
		}
		return s
	},
}).Parse(statusHTML))

type statusData struct {
	Report  *drift.Report
	Summary drift.Summary
	Leading bool
	Version string
	// Apply is the last apply run, when apply mode runs in serve.
	Apply *apply.Result
}

// statusPage renders the latest report as a read-only page.
func (d *Daemon) statusPage(w http.ResponseWriter, _ *http.Request) {
	b, err := d.pages.html(d.latest.Load(), d.leading.Load(), d.opts.Version, d.lastApply())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}
