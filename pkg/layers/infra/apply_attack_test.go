package infra

// Attack tests for the infra layer's apply mode (apply.go). Each test says,
// in its comment, what goes wrong and what should happen instead.

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/ignore"
)

// Someone changed tags.owner by hand (set aside by an ignore rule: the
// FinOps team owns that tag) and instance_type (drift). The plan, as
// Terraform makes it, puts both back.
const ignoredTagPlan = `{"format_version": "1.2",
  "resource_drift": [{"address": "aws_instance.a", "type": "aws_instance", "name": "a", "change": {"actions": ["update"],
    "before": {"id": "i-1", "instance_type": "t3.small", "tags": {"owner": "platform"}},
    "after":  {"id": "i-1", "instance_type": "t3.large", "tags": {"owner": "finops"}}}}],
  "resource_changes": [{"address": "aws_instance.a", "type": "aws_instance", "name": "a", "change": {"actions": ["update"],
    "before": {"id": "i-1", "instance_type": "t3.large", "tags": {"owner": "finops"}},
    "after":  {"id": "i-1", "instance_type": "t3.small", "tags": {"owner": "platform"}}}}]}`

// TestAttackInfraApplyWritesIgnoredAttribute: ignore rules with paths bind
// the check only all-or-nothing (a resource whose drift lies only under
// ignored paths is ignored; one with any other drift is reported whole)
// and do not bind the judge at all: the saved plan also writes tags.owner
// back, which the rule set aside, and judge accepts it because every
// change "restores drift". The README:
// "what they set aside is never written". The judge should refuse a plan
// whose change touches an ignored path of the resource (the ignore
// rules' Paths for the address), saying which rule holds it back.
func TestAttackInfraApplyWritesIgnoredAttribute(t *testing.T) {
	rules := []ignore.Rule{{Layer: drift.LayerInfra, Object: "aws_instance.*", Paths: []string{"/tags/owner"}, Reason: "FinOps owns the owner tag"}}
	p := plan(t, ignoredTagPlan)
	set := ignore.New(rules, time.Now())
	findings := Findings(p, func(addr string) []string {
		return set.Paths(drift.LayerInfra, "net", ignore.ObjectOf(drift.LayerInfra, addr))
	})
	if len(findings) != 1 || findings[0].Change != drift.ChangeDrifted {
		t.Fatalf("findings %+v, want aws_instance.a drifted", findings)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, planFileName)
	writePlanZip(t, file, `{"version": 4, "serial": 3, "lineage": ""}`)
	sum, err := fileSum(file)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "terraform")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	l := New(Config{Binary: bin}, t.TempDir(), slog.New(slog.DiscardHandler))
	l.SetIgnore(rules)
	sp := &savedPlan{stack: Stack{Name: "net"}, dir: dir, dataDir: dir, file: file, sum: sum, plan: p}
	got := l.Apply(context.Background(), drift.Snapshot{}, drift.TargetResult{Name: "net", Private: sp, Findings: findings},
		drift.ApplyRequest{Findings: findings, DryRun: true})
	for _, a := range got {
		if a.Result == drift.ResultWouldApply {
			t.Errorf("apply would write tags.owner, which ignore[0] sets aside: %s %s: %s\nthe diff shown to the operator:\n%s", a.Result, a.Object, a.Reason, a.Diff)
		}
	}
}
