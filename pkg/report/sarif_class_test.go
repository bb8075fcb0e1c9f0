package report

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/driftd/driftd/pkg/drift"
)

// sarifSchema compiles the official SARIF 2.1.0 schema (see
// testdata/README.md), with formats such as uri-reference asserted.
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("read the SARIF schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const loc = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	if err := c.AddResource(loc, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		t.Fatalf("compile the SARIF schema: %v", err)
	}
	return sch
}

// sarifSourced is baseSample with a Git source on every finding: clean
// paths, and ones that must not become a location.
func sarifSourced() drift.Report {
	r := baseSample()
	sources := map[string]string{
		"apps/v1/Deployment/web/frontend": "apps/web.yaml (document 1)",
		"local_file.motd":                 "kustomization ./stacks/net work",
		"local_file.hosts":                "/etc/hosts",
		"v1/ConfigMap/web/settings":       "apps/../../outside/settings.yaml",
	}
	for li := range r.Layers {
		for ti := range r.Layers[li].Targets {
			for fi := range r.Layers[li].Targets[ti].Findings {
				f := &r.Layers[li].Targets[ti].Findings[fi]
				if src, ok := sources[f.Object]; ok {
					if f.Details == nil {
						f.Details = map[string]any{}
					}
					f.Details["source"] = src
				}
			}
		}
	}
	return r
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	sch := sarifSchema(t)
	for name, r := range map[string]drift.Report{
		"plain":         sample(),
		"base":          sarifSourced(),
		"hostile":       hostileReport(),
		"hostile base":  hostileBaseReport(),
		"empty":         {},
		"many findings": bigReport(20, 100),
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteSARIF(&b, r); err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Errorf("SARIF output is not valid SARIF 2.1.0: %v\n%s", err, b.Bytes())
			}
		})
	}
}

// TestSARIFSchemaRejects checks that the validation has teeth: the schema
// refuses what SARIF forbids.
func TestSARIFSchemaRejects(t *testing.T) {
	sch := sarifSchema(t)
	for name, doc := range map[string]string{
		"wrong version":  `{"version": "2.0.0", "runs": []}`,
		"unknown level":  `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}, "level": "critical"}]}]}`,
		"no message":     `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"level": "error"}]}]}`,
		"not a uri":      `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a b\\c%zz"}}}]}]}]}`,
		"unknown member": `{"version": "2.1.0", "runs": [], "extra": 1}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if sch.Validate(inst) == nil {
			t.Errorf("%s: the schema accepted %s", name, doc)
		}
	}
}

func TestSARIFByClass(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSARIF(&b, sarifSourced()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report-base.sarif.json", b.Bytes())
	var log struct {
		Runs []struct {
			Results []struct {
				Level      string         `json:"level"`
				Message    sarifMessage   `json:"message"`
				Properties map[string]any `json:"properties"`
				Locations  []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ class, level, uri string }{
		"driftd.yaml":                     {"introduced", "warning", "driftd.yaml"},
		"apps/v1/Deployment/web/frontend": {"collision", "error", "apps/web.yaml"},
		"local_file.motd":                 {"introduced", "warning", "stacks/net%20work"},
		"local_file.hosts":                {"already_drifted", "warning", ""},
		"v1/ConfigMap/web/settings":       {"resolved", "note", ""},
	}
	results := log.Runs[0].Results
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	if results[0].Properties["object"] != "driftd.yaml" || results[0].Properties["config_change"] != true {
		t.Errorf("the config change is not the first result: %v", results[0].Properties)
	}
	for _, res := range results {
		obj, _ := res.Properties["object"].(string)
		w, ok := want[obj]
		if !ok {
			t.Errorf("unexpected result for %q", obj)
			continue
		}
		if res.Properties["class"] != w.class || res.Level != w.level {
			t.Errorf("%s: class %v level %s, want %s %s", obj, res.Properties["class"], res.Level, w.class, w.level)
		}
		var uri string
		if len(res.Locations) > 0 {
			uri = res.Locations[0].PhysicalLocation.ArtifactLocation.URI
		}
		if uri != w.uri {
			t.Errorf("%s: located at %q, want %q", obj, uri, w.uri)
		}
		if !strings.HasPrefix(res.Message.Text, drift.Class(w.class).Title()+": ") {
			t.Errorf("%s: message %q does not start with its class", obj, res.Message.Text)
		}
	}
	for _, res := range results {
		if res.Properties["class"] == "collision" && !strings.Contains(res.Message.Text, "undo the change made live by kubectl-edit at 2026-11-22T09:58:00Z") {
			t.Errorf("collision message: %q", res.Message.Text)
		}
	}
}

// TestSARIFLocationsRelative: whatever a layer puts in a finding's source,
// every location is a relative URI inside the repository.
func TestSARIFLocationsRelative(t *testing.T) {
	sources := []string{
		"apps/web.yaml", "./apps/web.yaml", "apps//web.yaml (document 3)", "kustomization apps/base",
		"/etc/passwd", "//host/share/x", `\\host\share\x`, `C:\Windows\x`, "C:/x", "file:///etc/passwd",
		"https://evil.example/x", "../x", "apps/../../x", `..\x`, `apps\..\..\x`, "..", ".", "",
		"a b/ü#?%.yaml", "kustomization ../shared", "x\x00y", "a:b/c.yaml", "apps/./../web.yaml",
		"charts/web/templates/deployment.yaml (chart web 0.1.0, release shop/site, values charts/web/values-prod.yaml; driftd.yaml layers.app.helm.releases[0])",
		"driftd.yaml (chart web 0.1.0 from https://charts.example/, template web/templates/x.yaml, release a/b)",
	}
	r := drift.Report{Source: drift.SourceStatus{Synced: true}, Base: &drift.Base{Ref: "main"}}
	r.Config = &drift.Finding{Object: "/abs/driftd.yaml", Change: drift.ChangeChanged, Class: drift.ClassIntroduced}
	var fs []drift.Finding
	for i, s := range sources {
		fs = append(fs, drift.Finding{Object: string(rune('a' + i)), Change: drift.ChangeChanged, Class: drift.ClassCollision, Details: map[string]any{"source": s}})
	}
	r.Layers = []drift.LayerResult{{Layer: drift.LayerNode, Targets: []drift.TargetResult{{Name: "n", Findings: fs}}}}
	r.Normalize()
	var b bytes.Buffer
	if err := WriteSARIF(&b, r); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	located := map[string]string{}
	for _, res := range log.Runs[0].Results {
		for _, l := range res.Locations {
			uri := l.PhysicalLocation.ArtifactLocation.URI
			located[res.Properties["object"].(string)] = uri
			u, err := url.Parse(uri)
			switch {
			case err != nil:
				t.Errorf("%q is not a URI: %v", uri, err)
			case u.IsAbs() || u.Host != "" || strings.HasPrefix(u.Path, "/") || strings.Contains(u.Path, `\`):
				t.Errorf("%q is not a relative path", uri)
			case u.Path == "" || u.RawQuery != "" || u.Fragment != "":
				t.Errorf("%q is not a path alone", uri)
			}
			if p := path.Clean(u.Path); p == ".." || strings.HasPrefix(p, "../") || strings.Contains(u.Path, "..") {
				t.Errorf("%q climbs out of the repository", uri)
			}
		}
	}
	// The clean ones are kept, cleaned.
	for obj, want := range map[string]string{"a": "apps/web.yaml", "b": "apps/web.yaml", "c": "apps/web.yaml", "d": "apps/base", "s": "a%20b/%C3%BC%23%3F%25.yaml", "w": "web.yaml",
		"x": "charts/web/templates/deployment.yaml", "y": "driftd.yaml"} {
		if located[obj] != want {
			t.Errorf("source %q located at %q, want %q", sources[obj[0]-'a'], located[obj], want)
		}
	}
	if n := len(located); n != 8 {
		t.Errorf("%d results located, want 8: %v", n, located)
	}
	// And the result is valid SARIF.
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sarifSchema(t).Validate(inst); err != nil {
		t.Error(err)
	}
}
