package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/driftd/driftd/pkg/drift"
)

// appChanger has the shape of the app layer's changed_by entries (a
// struct with JSON tags, unexported there).
type appChanger struct {
	Manager     string `json:"manager"`
	Operation   string `json:"operation"`
	Subresource string `json:"subresource,omitempty"`
	Time        string `json:"time,omitempty"`
}

// baseSample is sample() as a check against a base revision: every class,
// a config change, and changed_by both as the app layer stores it in
// process (a slice of structs) and as JSON gives it back (maps).
func baseSample() drift.Report {
	r := sample()
	r.Base = &drift.Base{Ref: "origin/main", Revision: "9b8a7c6d5e4f30211f0e0d0c0b0a090807060504"}
	r.Config = &drift.Finding{Object: "driftd.yaml", Change: drift.ChangeChanged, Class: drift.ClassIntroduced,
		Diff: "--- base\n+++ pull request\n@@ -4,1 +4,1 @@\n-  interval: 5m\n+  interval: 1m\n"}
	for li := range r.Layers {
		for ti := range r.Layers[li].Targets {
			t := &r.Layers[li].Targets[ti]
			for fi := range t.Findings {
				f := &t.Findings[fi]
				switch f.Object {
				case "apps/v1/Deployment/web/frontend":
					f.Class = drift.ClassCollision
					f.Details = map[string]any{"source": "apps/web.yaml (document 1)", "changed_by": []appChanger{
						{Manager: "kubectl-edit", Operation: "Update", Time: "2026-11-22T09:58:00Z"},
						{Manager: "hpa", Operation: "Update", Subresource: "scale"},
					}}
				case "local_file.motd":
					f.Class = drift.ClassIntroduced
				case "local_file.hosts":
					f.Class = drift.ClassAlreadyDrifted
				}
			}
			if t.Name == "web" {
				t.Findings = append(t.Findings, drift.Finding{
					Object: "v1/ConfigMap/web/settings", Change: drift.ChangeChanged, Class: drift.ClassResolved,
					Diff: "--- git\n+++ live\n@@ -1,1 +1,1 @@\n-level: info\n+level: debug\n",
					Details: map[string]any{"changed_by": []any{map[string]any{
						"manager": "kubectl-patch", "operation": "Update", "time": "2026-11-21T17:02:11Z"}}},
				})
			}
		}
	}
	r.Normalize()
	return r
}

func TestTextByClass(t *testing.T) {
	for _, tc := range []struct {
		name  string
		color bool
	}{{"report-base.txt", false}, {"report-base-color.txt", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, baseSample(), TextOptions{Color: tc.color}); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
			out := b.String()
			if !strings.Contains(out, "1 collision, 2 introduced, 1 already drifted, 1 resolved") {
				t.Errorf("no class counts:\n%s", out)
			}
			// Collision first, resolved last, the config change before all.
			order := []string{"driftd.yaml", "Collision (1)", "Introduced (1)", "Already drifted (1)", "Resolved (1)"}
			last := -1
			for _, s := range order {
				i := strings.Index(out, s)
				if i <= last {
					t.Errorf("%q at %d, want after %d:\n%s", s, i, last, out)
				}
				last = i
			}
			for _, want := range []string{
				"Merging and applying would undo the change made live by kubectl-edit at 2026-11-22T09:58:00Z, hpa through the scale subresource.",
				"Changed live by kubectl-patch at 2026-11-21T17:02:11Z.",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestNoBaseUnchanged: findings with changed_by but no base render as
// before: no note, no classes, no marker.
func TestNoBaseUnchanged(t *testing.T) {
	r := baseSample()
	r.Base, r.Config = nil, nil
	for li := range r.Layers {
		for ti := range r.Layers[li].Targets {
			for fi := range r.Layers[li].Targets[ti].Findings {
				r.Layers[li].Targets[ti].Findings[fi].Class = ""
			}
		}
	}
	var txt, md bytes.Buffer
	if err := WriteText(&txt, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"Classes:", "Changed live", "Merging", "Base "} {
		if strings.Contains(txt.String(), bad) {
			t.Errorf("text without a base holds %q:\n%s", bad, txt.String())
		}
	}
	for _, bad := range []string{MarkdownMarker, "Changed live", "| Class |"} {
		if strings.Contains(md.String(), bad) {
			t.Errorf("markdown without a base holds %q:\n%s", bad, md.String())
		}
	}
}

func TestMarkdownByClass(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, baseSample()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report-base.md", b.Bytes())
	out := b.String()
	if !strings.HasPrefix(out, MarkdownMarker+"\n") {
		t.Errorf("does not start with the marker:\n%s", out)
	}
	heading := strings.Split(out, "\n")[1]
	if !strings.HasPrefix(heading, "### ") || !strings.Contains(heading, "1 collision, 2 introduced, 1 already drifted, 1 resolved") {
		t.Errorf("heading %q lacks the class counts", heading)
	}
	if strings.Count(out, "| Class | Layer | Target | Object | Change |") != 1 {
		t.Errorf("want one table:\n%s", out)
	}
	// The config change first, in the table and in the diffs.
	rows := tableRows(out)
	if len(rows) != 5 || !strings.Contains(rows[0], "driftd.yaml") || !strings.HasPrefix(rows[1], "| collision |") || !strings.HasPrefix(rows[4], "| resolved |") {
		t.Errorf("table rows:\n%s", strings.Join(rows, "\n"))
	}
	if i, j := strings.Index(out, "<details><summary>Config change"), strings.Index(out, "<details><summary>Collision"); i < 0 || j < i {
		t.Errorf("the config change's diff is not first:\n%s", out)
	}
	if !strings.Contains(out, "Merging and applying would undo the change made live by ` kubectl-edit ` at ` 2026-11-22T09:58:00Z `") {
		t.Errorf("the collision does not say who changed it live:\n%s", out)
	}
}

// tableRows returns the body rows of the Markdown table.
func tableRows(md string) []string {
	var rows []string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| Class |") {
			rows = append(rows, l)
		}
	}
	return rows
}

// bigReport is a check against a base with n findings of every class,
// each with a diff of about diffSize bytes.
func bigReport(n, diffSize int) drift.Report {
	r := drift.Report{Revision: "abc", Source: drift.SourceStatus{Synced: true}, Base: &drift.Base{Ref: "main", Revision: "def"}}
	r.Config = &drift.Finding{Object: "driftd.yaml", Change: drift.ChangeChanged, Class: drift.ClassIntroduced, Diff: "+x\n"}
	diff := strings.Repeat("+  some: value that changed live\n", diffSize/32+1)
	l := drift.LayerResult{Layer: drift.LayerApp}
	for i := range n {
		t := drift.TargetResult{Name: fmt.Sprintf("ns-%05d", i)}
		for _, c := range drift.Classes() {
			t.Findings = append(t.Findings, drift.Finding{Object: "apps/v1/Deployment/ns/" + string(c), Change: drift.ChangeChanged, Class: c, Diff: diff})
		}
		l.Targets = append(l.Targets, t)
	}
	r.Layers = []drift.LayerResult{l}
	r.Normalize()
	return r
}

func TestMarkdownStaysUnderGitHubLimit(t *testing.T) {
	for _, tc := range []struct {
		name             string
		n, diff          int
		allRows, anyDiff bool
	}{
		{"small", 2, 100, true, true},
		{"big diffs", 50, 4000, true, true},
		{"thousands", 2500, 2000, false, false},
		{"one huge diff", 1, 1 << 20, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bigReport(tc.n, tc.diff)
			var b bytes.Buffer
			if err := WriteMarkdown(&b, r); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if len(out) >= MarkdownLimit {
				t.Fatalf("%d bytes, want under %d", len(out), MarkdownLimit)
			}
			if len([]rune(out)) > 65536 {
				t.Fatalf("%d characters: GitHub would refuse it", len([]rune(out)))
			}
			total := 4*tc.n + 1
			rows := tableRows(out)
			diffs := strings.Count(out, "<details>")
			if gotAll := len(rows) == total; gotAll != tc.allRows {
				t.Errorf("%d of %d rows kept", len(rows), total)
			}
			if diffs == 0 && tc.anyDiff {
				t.Error("every diff left out")
			}
			// Diffs go before rows, from the end: the rows kept are a
			// prefix, the diffs kept a prefix of them.
			if diffs > len(rows) {
				t.Errorf("%d diffs but %d rows", diffs, len(rows))
			}
			if len(rows) == 0 || !strings.Contains(rows[0], "driftd.yaml") {
				t.Errorf("the config change's row was left out")
			}
			note := strings.Contains(out, "Left out to stay within GitHub's comment size limit")
			if want := diffs < total || len(rows) < total; note != want {
				t.Errorf("note %v, want %v", note, want)
			}
			if note {
				wantNote := fmt.Sprintf("%d diff(s) and %d table row(s)", total-diffs, total-len(rows))
				if !strings.Contains(out, wantNote) || !strings.Contains(out, "JSON or text output") {
					t.Errorf("note does not say %q:\n%s", wantNote, out[len(out)-400:])
				}
				if !strings.HasSuffix(strings.TrimSpace(out), "JSON or text output.") {
					t.Errorf("the note is not last")
				}
			}
			// Still well-formed: every <details> closed, every fence closed.
			if strings.Count(out, "<details>") != strings.Count(out, "</details>") {
				t.Error("unbalanced <details>")
			}
			if strings.Count(out, "```diff")*2 != strings.Count(out, "```") {
				t.Error("unbalanced fences")
			}
		})
	}
}

func TestCapDiff(t *testing.T) {
	d := strings.Repeat("+line\n", 100)
	got := capDiff(d, 60)
	if !strings.HasPrefix(got, strings.Repeat("+line\n", 10)) || !strings.Contains(got, "… 90 more line(s) left out") {
		t.Errorf("capDiff: %q", got)
	}
	long := strings.Repeat("é", 100) // one line, two bytes a rune
	got = capDiff(long, 51)
	if !strings.HasPrefix(got, strings.Repeat("é", 25)+"…\n") || !strings.HasSuffix(got, "output\n") {
		t.Errorf("capDiff of one long line: %q", got)
	}
	if capDiff(d, len(d)) != d {
		t.Error("a diff within the cap changed")
	}
}

func TestChangedByShapes(t *testing.T) {
	for name, v := range map[string]any{
		"structs":   []appChanger{{Manager: "m", Time: "t"}},
		"maps":      []any{map[string]any{"manager": "m", "time": "t"}},
		"one map":   map[string]any{"manager": "m", "time": "t"},
		"json text": json.RawMessage(`[{"manager":"m","time":"t"}]`),
	} {
		got := changedBy(drift.Finding{Details: map[string]any{"changed_by": v}})
		if len(got) != 1 || got[0].Manager != "m" || got[0].Time != "t" {
			t.Errorf("%s: %+v", name, got)
		}
	}
	for name, v := range map[string]any{"nil": nil, "string": "kubectl", "no manager": []any{map[string]any{"time": "t"}}, "number": 3} {
		if got := changedBy(drift.Finding{Details: map[string]any{"changed_by": v}}); got != nil {
			t.Errorf("%s: %+v, want none", name, got)
		}
	}
	many := []appChanger{{Manager: "a"}, {Manager: "b"}, {Manager: "c"}, {Manager: "d"}, {Manager: "e"}}
	if got := changeNote(drift.Finding{Details: map[string]any{"changed_by": many}}, line); got != "Changed live by a, b, c, 2 more." {
		t.Errorf("note: %q", got)
	}
}

// TestMarkdownHeadBounded: what is never left out (the base ref, the
// targets that could not be checked, notices) is bounded, so thousands of
// failures with long errors still leave a comment under the limit that
// keeps the table's first rows.
func TestMarkdownHeadBounded(t *testing.T) {
	r := bigReport(3, 100)
	long := strings.Repeat("é\x1b", 4000)
	r.Base.Ref = long
	r.Source.Synced, r.Source.Error = false, long
	for i := range 3000 {
		r.Layers[0].Targets = append(r.Layers[0].Targets, drift.Fail(fmt.Sprintf("down-%04d", i)+long, errFake(long)))
		r.Notices = append(r.Notices, long)
	}
	r.Layers = append(r.Layers, drift.LayerResult{Layer: drift.LayerNode, Error: long})
	r.Normalize()
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if len(out) >= MarkdownLimit {
		t.Fatalf("%d bytes", len(out))
	}
	if len(out) > 40000 {
		t.Errorf("the fixed part takes %d bytes", len(out))
	}
	if rows := tableRows(out); len(rows) != 13 {
		t.Errorf("%d rows, want all 13", len(rows))
	}
	if !strings.Contains(out, "- and 2981 more\n") {
		t.Errorf("the list of what could not be checked is not bounded:\n%s", out[:3000])
	}
}
