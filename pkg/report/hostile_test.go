package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/driftd/driftd/pkg/drift"
)

// hostileReport carries what a repository, a node or an API server could
// put into names, diffs and errors.
func hostileReport() drift.Report {
	osc52 := "\x1b]52;c;ZXZpbA==\x07" // write the terminal's clipboard
	erase := "\x1b[2K\r"              // erase the line and rewrite it
	r := drift.Report{
		Revision: "abc",
		Source:   drift.SourceStatus{Synced: false, Error: "fetch: " + erase + "all good"},
		Layers: []drift.LayerResult{{
			Layer: drift.LayerNode,
			Targets: []drift.TargetResult{
				{Name: "node" + osc52, Findings: []drift.Finding{{
					Object: "/etc/x" + erase + "\u202eesrever.conf",
					Change: drift.ChangeUnmanaged,
					Diff:   "--- a\n+++ b\n+evil " + osc52 + "\n+tab\tok\n",
				}}},
				{Name: "[x](http://evil.example/) @org/team ![img](http://evil.example/i.png) <img src=x> **bold** a|b ``` \xff\xfe", Error: "run: " + erase + "stderr"},
			},
		}},
	}
	r.Normalize()
	return r
}

func TestTextEscapesControlSequences(t *testing.T) {
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		if err := WriteText(&b, hostileReport(), TextOptions{Color: color}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		// driftd's own colours are the only escape sequences allowed.
		stripped := out
		for _, c := range []string{ansiReset, ansiBold, ansiRed, ansiGreen, ansiYellow, ansiCyan} {
			stripped = strings.ReplaceAll(stripped, c, "")
		}
		for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "\xff"} {
			if strings.Contains(stripped, bad) {
				t.Errorf("color=%v: output holds %q raw:\n%q", color, bad, out)
			}
		}
		for _, want := range []string{`\x1b]52;c;ZXZpbA==\x07`, `\x1b[2K\x0d`, `\u202e`, "+tab\tok"} {
			if !strings.Contains(out, want) {
				t.Errorf("color=%v: output lacks the escaped %q:\n%s", color, want, out)
			}
		}
	}
}

func TestMarkdownNeutralisesInjection(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, hostileReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, row := range strings.Split(out, "\n") {
		if !strings.HasPrefix(row, "| node |") {
			continue
		}
		// Every user-controlled value sits in a code span, where Markdown
		// makes no links, images, mentions, emphasis or HTML; a pipe in a
		// name must not add a column.
		cells := strings.Split(strings.ReplaceAll(row, `\|`, ""), "|")
		if len(cells) != 7 {
			t.Errorf("row has %d cells, want 5 (a pipe in a name broke the table): %s", len(cells)-2, row)
		}
		if strings.Contains(row, "[x](") && !strings.Contains(row, "`` ") {
			t.Errorf("a link is outside a code span: %s", row)
		}
	}
	// In the HTML summary, tags and mentions are escaped.
	for _, bad := range []string{"<img", "@org", "\x1b", "\x07", "\xff"} {
		if strings.Contains(strings.ReplaceAll(out, "`` [x](http://evil.example/) @org/team ![img](http://evil.example/i.png) <img src=x> **bold** a\\|b ``` \\xff\\xfe ``", ""), bad) {
			t.Errorf("markdown holds %q outside a code span:\n%s", bad, out)
		}
	}
	// A diff cannot close its fence.
	if strings.Count(out, "```diff") != 1 {
		t.Errorf("want one fenced diff:\n%s", out)
	}
}

func TestJUnitHoldsControlCharacters(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, hostileReport()); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
		t.Errorf("JUnit output is not valid XML: %v", err)
	}
	if bytes.Contains(b.Bytes(), []byte("\x1b")) {
		t.Errorf("JUnit output holds a raw ESC")
	}
}

func TestMetricsInvalidUTF8Label(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, true)
	r := drift.Report{Revision: "abc", Source: drift.SourceStatus{Synced: true}, Layers: []drift.LayerResult{{
		Layer: drift.LayerNode, Targets: []drift.TargetResult{{Name: "node\xff", Findings: []drift.Finding{{Object: "/etc/\xfe\xff.conf", Change: drift.ChangeUnmanaged}}}},
	}}}
	r.Normalize()
	m.Observe(r, time.Now())
	n, err := testutil.GatherAndCount(reg, "driftd_drift_object_info")
	if err != nil {
		t.Fatalf("gather with a label that is not UTF-8: %v", err)
	}
	if n != 1 {
		t.Errorf("%d object series, want 1", n)
	}
}
