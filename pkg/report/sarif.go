package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/driftd/driftd/pkg/drift"
)

// sarifRules describe each change kind once; results refer to them by id.
var sarifRules = []struct{ id, text string }{
	{"drift/changed", "The object differs from Git."},
	{"drift/missing", "The object is in Git but absent in reality."},
	{"drift/unmanaged", "The object is in a managed scope but absent from Git."},
	{"drift/drifted", "Reality was changed outside Terraform."},
	{"drift/pending", "A change merged in Git has not been applied."},
}

type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Results     []sarifResult     `json:"results"`
	Invocations []sarifInvocation `json:"invocations"`
}

type sarifTool struct {
	Driver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	} `json:"driver"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	ShortDescription sarifMessage `json:"shortDescription"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations,omitempty"`
	Properties map[string]any  `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
	} `json:"physicalLocation"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string       `json:"level"`
	Message sarifMessage `json:"message"`
}

// WriteSARIF writes the report as SARIF 2.1.0, for code-scanning views: one
// result per finding (a warning, located at its Git source file when the
// layer knows it), and one error notification per target that could not be
// checked. A location is only ever a relative path inside the repository:
// a source that is absolute or climbs out of it with ".." is left out.
//
// In a check against a base revision (r.Base set) each result carries its
// class in its properties ("class") and its level: a collision is an
// error, an introduced or already drifted finding a warning, a resolved
// one a note. The config change (r.Config) is the first result.
func WriteSARIF(w io.Writer, r drift.Report) error {
	run := sarifRun{Results: []sarifResult{}}
	run.Tool.Driver.Name = "driftd"
	run.Tool.Driver.InformationURI = "https://github.com/driftd/driftd"
	for _, ru := range sarifRules {
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{ID: ru.id, ShortDescription: sarifMessage{ru.text}})
	}
	inv := sarifInvocation{ExecutionSuccessful: r.Status != drift.StatusUnknown}
	if !r.Source.Synced {
		inv.Notifications = append(inv.Notifications, sarifNotification{"error", sarifMessage{"repository not synced: " + r.Source.Error}})
	}
	if c := r.Config; r.Base != nil && c != nil {
		res := sarifResult{
			RuleID:     "drift/" + string(c.Change),
			Level:      sarifLevel(c.Class),
			Message:    sarifMessage{fmt.Sprintf("%s: %s (%s): %s\n%s", c.Class.Title(), c.Object, c.Change, configMeaning, c.Diff)},
			Properties: map[string]any{"object": c.Object, "class": c.Class, "config_change": true},
		}
		src, _ := c.Details["source"].(string)
		if src == "" {
			src = c.Object
		}
		res.Locations = sarifLocations(src)
		run.Results = append(run.Results, res)
	}
	for _, l := range r.Layers {
		if l.Error != "" {
			inv.Notifications = append(inv.Notifications, sarifNotification{"error", sarifMessage{fmt.Sprintf("%s: %s", l.Layer, l.Error)}})
		}
		for _, t := range l.Targets {
			if t.Error != "" {
				inv.Notifications = append(inv.Notifications, sarifNotification{"error", sarifMessage{fmt.Sprintf("%s/%s: %s", l.Layer, t.Name, t.Error)}})
			}
			for _, f := range t.Findings {
				res := sarifResult{
					RuleID:     "drift/" + string(f.Change),
					Level:      "warning",
					Message:    sarifMessage{fmt.Sprintf("%s/%s: %s (%s)\n%s", l.Layer, t.Name, f.Object, f.Change, f.Diff)},
					Properties: map[string]any{"layer": l.Layer, "target": t.Name, "object": f.Object},
				}
				if r.Base != nil {
					res.Level = sarifLevel(f.Class)
					res.Properties["class"] = f.Class
					msg := findingMeaning(f, func(s string) string { return s })
					res.Message.Text = fmt.Sprintf("%s: %s/%s: %s (%s): %s\n%s", f.Class.Title(), l.Layer, t.Name, f.Object, f.Change, msg, f.Diff)
				}
				if src, ok := f.Details["source"].(string); ok && src != "" {
					res.Locations = sarifLocations(src)
				}
				run.Results = append(run.Results, res)
			}
		}
	}
	run.Invocations = []sarifInvocation{inv}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sarifLog{Version: "2.1.0", Schema: "https://json.schemastore.org/sarif-2.1.0.json", Runs: []sarifRun{run}}); err != nil {
		return fmt.Errorf("write sarif report: %w", err)
	}
	return nil
}

// sarifLevel is the level of a finding of class c: an error when merging
// would undo a change made live, a note when the pull request resolves
// drift, else a warning (a finding without a class included).
func sarifLevel(c drift.Class) string {
	switch c {
	case drift.ClassCollision:
		return "error"
	case drift.ClassResolved:
		return "note"
	default:
		return "warning"
	}
}

// sarifLocations locates a result at a finding's Git source, or nowhere
// when the source is not a clean path inside the repository.
func sarifLocations(src string) []sarifLocation {
	uri, ok := artifactURI(sourceFile(src))
	if !ok {
		return nil
	}
	var loc sarifLocation
	loc.PhysicalLocation.ArtifactLocation.URI = uri
	return []sarifLocation{loc}
}

// artifactURI returns a path inside the repository as a relative URI
// reference, each character that a URI path cannot hold percent-encoded
// ("a b.yaml" is "a%20b.yaml"). It refuses a path that is empty, absolute
// (a leading slash or backslash), names a drive or a scheme (a colon in
// its first segment), or climbs out of the repository with "..": code
// scanning resolves the URI against the checkout, and nothing outside it
// may be pointed at.
func artifactURI(p string) (string, bool) {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || strings.ContainsRune(p, 0) {
		return "", false
	}
	clean := path.Clean(p)
	first, _, _ := strings.Cut(clean, "/")
	if clean == "." || strings.ContainsRune(first, ':') {
		return "", false
	}
	for _, seg := range strings.FieldsFunc(clean, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return "", false
		}
	}
	return (&url.URL{Path: clean}).EscapedPath(), true
}

// sourceFile strips a " (document N)" or " (chart ...)" suffix and a
// "kustomization " prefix from a finding's source: a rendered object is
// located at its template.
func sourceFile(src string) string {
	for _, suffix := range []string{" (document ", " (chart "} {
		if i := strings.Index(src, suffix); i >= 0 {
			src = src[:i]
		}
	}
	return strings.TrimPrefix(src, "kustomization ")
}
