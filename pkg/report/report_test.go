package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/pkg/drift"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sample is a report with every status, change kind and error shape.
func sample() drift.Report {
	r := drift.Report{
		Revision:  "3f2a9c1d4b5e6f708192a3b4c5d6e7f8091a2b3c",
		Source:    drift.SourceStatus{URL: "ssh://git@git.example.com/platform.git", Branch: "main", Synced: true},
		StartedAt: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		Layers: []drift.LayerResult{
			{Layer: drift.LayerApp, Targets: []drift.TargetResult{
				{Name: "web", Findings: []drift.Finding{
					{Object: "apps/v1/Deployment/web/frontend", Change: drift.ChangeChanged, Diff: "--- git\n+++ live\n@@ -3,1 +3,2 @@\n spec:\n+  hostNetwork: true\n"},
				}},
				drift.Fail("kube-system", errFake("list apps/v1 Deployment: connection refused")),
			}},
			{Layer: drift.LayerInfra, Targets: []drift.TargetResult{
				{Name: "network", Findings: []drift.Finding{
					{Object: "local_file.motd", Change: drift.ChangePending, Details: map[string]any{"actions": []string{"update"}}},
					{Object: "local_file.hosts", Change: drift.ChangeDrifted, Diff: "~ content: \"a\" -> \"b\"\n"},
				}},
				{Name: "dns"},
				drift.Fail("broken", errFake("Error: Unsupported block type\n\n  on main.tf line 3:\n   3: resourc \"x\" \"y\" {")),
			}},
		},
	}
	r.Normalize()
	return r
}

type errFake string

func (e errFake) Error() string { return string(e) }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, diff)
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name  string
		color bool
	}{{"report.txt", false}, {"report-color.txt", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, sample(), TextOptions{Color: tc.color}); err != nil {
				t.Fatal(err)
			}
			if !tc.color && bytes.Contains(b.Bytes(), []byte("\x1b[")) {
				t.Error("colour codes without Color")
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

func TestTextStaleSource(t *testing.T) {
	r := drift.Report{Revision: "old", Source: drift.SourceStatus{URL: "file:///r", Error: "sync repo file:///r branch main: fetch: repository not found"}}
	r.Normalize()
	var b bytes.Buffer
	if err := WriteText(&b, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "stale.txt", b.Bytes())
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", b.Bytes())
}

// TestJSONStable checks that the same facts in another order give the same
// bytes, so CI diffs of reports are meaningful.
func TestJSONStable(t *testing.T) {
	a := sample()
	b := sample()
	l := b.Layers[0].Targets
	l[0], l[1] = l[1], l[0]
	b.Layers[0], b.Layers[1] = b.Layers[1], b.Layers[0]
	b.Normalize()
	var ja, jb bytes.Buffer
	if err := WriteJSON(&ja, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&jb, b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ja.String(), jb.String()); diff != "" {
		t.Errorf("reordered input changed the output:\n%s", diff)
	}
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, sample()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.junit.xml", b.Bytes())
	var parsed junitSuites
	if err := xml.Unmarshal(b.Bytes(), &parsed); err != nil {
		t.Fatalf("output is not XML: %v", err)
	}
	if parsed.Tests != 5 || parsed.Failures != 2 || parsed.Errors != 2 {
		t.Errorf("tests %d failures %d errors %d, want 5 2 2", parsed.Tests, parsed.Failures, parsed.Errors)
	}
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, sample()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md", b.Bytes())
}

func TestSARIF(t *testing.T) {
	r := sample()
	r.Layers[1].Targets[1].Findings[0].Details = map[string]any{"source": "apps/web.yaml (document 2)"}
	var b bytes.Buffer
	if err := WriteSARIF(&b, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.sarif.json", b.Bytes())
	var parsed sarifLog
	if err := json.Unmarshal(b.Bytes(), &parsed); err != nil {
		t.Fatal(err)
	}
	run := parsed.Runs[0]
	if len(run.Results) != 3 || len(run.Invocations[0].Notifications) != 2 || run.Invocations[0].ExecutionSuccessful {
		t.Errorf("results %d notifications %d successful %v", len(run.Results), len(run.Invocations[0].Notifications), run.Invocations[0].ExecutionSuccessful)
	}
	located := 0
	for _, res := range run.Results {
		for _, l := range res.Locations {
			if l.PhysicalLocation.ArtifactLocation.URI == "apps/web.yaml" {
				located++
			}
		}
	}
	if located != 1 {
		t.Errorf("%d results located at apps/web.yaml, want 1", located)
	}
}
