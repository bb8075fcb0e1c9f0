package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
		for _, want := range []string{`\x1b]52;c;ZXZpbA==\x07`, `\x1b[2K\x0d`, `\u202e`, "+tab\tok", `run: \x1b[2K\x0dstderr`, `\xff\xfe`} {
			if !strings.Contains(out, want) {
				t.Errorf("color=%v: output lacks the escaped %q:\n%s", color, want, out)
			}
		}
		// driftd's own colours still work on a terminal.
		if hasColor := strings.Contains(out, ansiGreen+"+tab\tok"+ansiReset); hasColor != color {
			t.Errorf("color=%v: diff line coloured: %v\n%q", color, hasColor, out)
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

// TestJSONAndSARIFEncodeControlCharacters: both are JSON, whose encoding
// escapes control characters and replaces bytes that are not UTF-8.
func TestJSONAndSARIFEncodeControlCharacters(t *testing.T) {
	for name, write := range map[string]func(io.Writer, drift.Report) error{"json": WriteJSON, "sarif": WriteSARIF} {
		var b bytes.Buffer
		if err := write(&b, hostileReport()); err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(b.Bytes()) {
			t.Errorf("%s: not valid UTF-8", name)
		}
		for _, bad := range []string{"\x1b", "\x07", "\r"} {
			if bytes.Contains(b.Bytes(), []byte(bad)) {
				t.Errorf("%s holds %q raw", name, bad)
			}
		}
		if !bytes.Contains(b.Bytes(), []byte(`\u001b]52`)) {
			t.Errorf("%s lacks the escaped OSC 52 sequence", name)
		}
	}
}

func TestJUnitHoldsControlCharacters(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, hostileReport()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Body string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit output is not valid XML: %v\n%s", err, b.Bytes())
	}
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "\xff", "&#xD;", "\uFFFD"} {
		if bytes.Contains(b.Bytes(), []byte(bad)) {
			t.Errorf("JUnit output holds %q", bad)
		}
	}
	// What was escaped is shown, not dropped: a CI view shows the attack.
	var all strings.Builder
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			all.WriteString(c.Name + "\n")
			if c.Failure != nil {
				all.WriteString(c.Failure.Body)
			}
			if c.Error != nil {
				all.WriteString(c.Error.Message + "\n")
			}
		}
	}
	for _, want := range []string{`node\x1b]52;c;ZXZpbA==\x07`, `/etc/x\x1b[2K\x0d\u202eesrever.conf`, `run: \x1b[2K\x0dstderr`, "+tab\tok\n", `\xff\xfe`} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("JUnit output lacks %q:\n%s", want, all.String())
		}
	}
}

func TestMetricsInvalidUTF8Label(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, true)
	// Names that are not UTF-8, two targets and two objects that differ
	// only in such bytes (one series each once made valid), and the same
	// object twice: none may fail a scrape.
	r := drift.Report{Revision: "abc\xff", Source: drift.SourceStatus{Synced: true}, Layers: []drift.LayerResult{{
		Layer: drift.LayerNode, Targets: []drift.TargetResult{
			{Name: "node\xff", Findings: []drift.Finding{
				{Object: "/etc/\xfe.conf", Change: drift.ChangeUnmanaged},
				{Object: "/etc/\xff.conf", Change: drift.ChangeUnmanaged},
				{Object: "/etc/a.conf", Change: drift.ChangeChanged},
				{Object: "/etc/a.conf", Change: drift.ChangeChanged},
			}},
			{Name: "node\xfe", Findings: []drift.Finding{{Object: "/etc/b.conf", Change: drift.ChangeMissing}}},
		},
	}}}
	r.Normalize()
	m.Observe(r, time.Unix(100, 0))

	// A real scrape answers 200 with every series, valid UTF-8.
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape with names that are not UTF-8: %d\n%s", resp.StatusCode, body)
	}
	if !utf8.Valid(body) {
		t.Errorf("the scrape is not valid UTF-8:\n%q", body)
	}
	for _, want := range []string{
		`driftd_drift_objects{layer="node",target="node\uFFFD"} 5`,
		`driftd_drift_object_info{change="unmanaged",layer="node",object="/etc/\uFFFD.conf",target="node\uFFFD"} 1`,
		`driftd_drift_object_info{change="changed",layer="node",object="/etc/a.conf",target="node\uFFFD"} 1`,
		`driftd_drift_object_info{change="missing",layer="node",object="/etc/b.conf",target="node\uFFFD"} 1`,
		`driftd_repo_revision_info{revision="abc\uFFFD"} 1`,
	} {
		want = strings.ReplaceAll(want, `\uFFFD`, "\uFFFD")
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %s:\n%s", want, body)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "driftd_drift_object_info"); err != nil || n != 3 {
		t.Errorf("%d object series (%v), want 3", n, err)
	}

	// A merged target is unknown when either of its targets is.
	r.Layers[0].Targets[1].Status, r.Layers[0].Targets[1].Error = drift.StatusUnknown, "ssh: boom"
	m.Observe(r, time.Unix(200, 0))
	if got := testutilText(t, reg, "driftd_check_success"); !strings.Contains(got, "driftd_check_success{layer=\"node\",target=\"node\uFFFD\"} 0") {
		t.Errorf("merged target with an unknown half:\n%s", got)
	}
}
