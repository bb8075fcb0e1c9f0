package report

import (
	"encoding/json"
	"fmt"
	"io"
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
// checked.
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
				if src, ok := f.Details["source"].(string); ok && src != "" {
					var loc sarifLocation
					loc.PhysicalLocation.ArtifactLocation.URI = sourceFile(src)
					res.Locations = []sarifLocation{loc}
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

// sourceFile strips a " (document N)" suffix and a "kustomization " prefix
// from a finding's source.
func sourceFile(src string) string {
	if i := strings.Index(src, " (document "); i >= 0 {
		src = src[:i]
	}
	return strings.TrimPrefix(src, "kustomization ")
}
