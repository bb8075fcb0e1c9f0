package infra

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/pkg/drift"
)

func plan(t *testing.T, s string) *tfjson.Plan {
	t.Helper()
	var p tfjson.Plan
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestFindingsDriftUndoneIsNotPending(t *testing.T) {
	p := plan(t, `{
  "format_version": "1.2",
  "resource_drift": [{"address": "local_file.a", "type": "local_file", "change": {
    "actions": ["delete"], "before": {"content": "x", "id": "1"}, "after": null}}],
  "resource_changes": [
    {"address": "local_file.a", "type": "local_file", "change": {
      "actions": ["create"], "before": null, "after": {"content": "x"}, "after_unknown": {"id": true}}},
    {"address": "local_file.b", "type": "local_file", "change": {
      "actions": ["no-op"], "before": {"content": "y"}, "after": {"content": "y"}}}
  ]}`)
	got := Findings(p, nil)
	if len(got) != 1 || got[0].Change != drift.ChangeDrifted || got[0].Object != "local_file.a" {
		t.Fatalf("findings = %+v, want only the drift of local_file.a", got)
	}
	if want := "# local_file.a has been deleted outside of Terraform\n  - id = \"1\"\n"; got[0].Diff != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got[0].Diff, want)
	}
}

func TestFindingsDriftPlusGitChangeIsBoth(t *testing.T) {
	p := plan(t, `{
  "format_version": "1.2",
  "resource_drift": [{"address": "local_file.a", "change": {
    "actions": ["update"], "before": {"mode": "0644", "content": "x"}, "after": {"mode": "0600", "content": "x"}}}],
  "resource_changes": [{"address": "local_file.a", "change": {
    "actions": ["update"], "before": {"mode": "0600", "content": "x"}, "after": {"mode": "0644", "content": "new"}}}]}`)
	var kinds []string
	for _, f := range Findings(p, nil) {
		kinds = append(kinds, string(f.Change))
	}
	if diff := cmp.Diff([]string{"drifted", "pending"}, kinds); diff != "" {
		t.Errorf("a drift plus an unapplied Git change must give both (-want +got):\n%s", diff)
	}
}

func TestChangeDiffMasksSensitive(t *testing.T) {
	c := &tfjson.Change{
		Actions:         tfjson.Actions{tfjson.ActionUpdate},
		Before:          map[string]any{"password": "old-secret", "tags": map[string]any{"env": "dev", "token": "t1"}, "name": "db"},
		After:           map[string]any{"password": "new-secret", "tags": map[string]any{"env": "prod", "token": "t2"}, "name": "db"},
		BeforeSensitive: map[string]any{"password": true, "tags": map[string]any{"token": true}},
		AfterSensitive:  map[string]any{"password": true, "tags": map[string]any{"token": true}},
	}
	got := changeDiff("x.y", c, "will be updated in-place")
	want := `# x.y will be updated in-place
  ~ password = (sensitive value) -> (sensitive value)
  ~ tags.env = "dev" -> "prod"
  ~ tags.token = (sensitive value) -> (sensitive value)
`
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	for _, s := range []string{"old-secret", "new-secret", "t1", "t2"} {
		if strings.Contains(got, `"`+s+`"`) {
			t.Errorf("diff shows %q", s)
		}
	}
}

func TestChangeDiffWholeValueSensitive(t *testing.T) {
	c := &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate}, Before: "a", After: "b", BeforeSensitive: true, AfterSensitive: true}
	if got, want := changeDiff("output.p", c, "will be updated in-place"), "# output.p will be updated in-place\n  ~ value = (sensitive value) -> (sensitive value)\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestIgnoredAttributePaths(t *testing.T) {
	if got := attrPath("/ingress/0/cidr_blocks"); got != "ingress[0].cidr_blocks" {
		t.Errorf("attrPath = %s", got)
	}
	p := &tfjson.Plan{ResourceDrift: []*tfjson.ResourceChange{
		{Address: "aws_instance.web", Type: "aws_instance", Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate},
			Before: map[string]any{"ami": "a", "tags": map[string]any{"owner": "alice", "env": "prod"}},
			After:  map[string]any{"ami": "a", "tags": map[string]any{"owner": "bob", "env": "prod"}}}},
		{Address: "aws_instance.db", Type: "aws_instance", Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate},
			Before: map[string]any{"ami": "a", "tags": map[string]any{"owner": "alice"}},
			After:  map[string]any{"ami": "b", "tags": map[string]any{"owner": "bob"}}}},
	}}
	got := map[string]bool{}
	for _, f := range Findings(p, func(string) []string { return []string{"/tags/owner"} }) {
		_, ignored := f.Details["ignored_by"]
		got[f.Object] = ignored
	}
	if !got["aws_instance.web"] {
		t.Errorf("a change of the ignored tag only was not marked ignored")
	}
	if ig, ok := got["aws_instance.db"]; !ok || ig {
		t.Errorf("a change of the AMI too was marked ignored (%v, %v)", ig, ok)
	}
}
