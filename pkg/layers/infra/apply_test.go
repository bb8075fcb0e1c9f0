package infra

import (
	"archive/zip"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/pkg/drift"
)

// Plans as terraform show -json gives them, trimmed to what judge reads.
const (
	// local_file.a was rewritten by hand: the provider no longer finds it
	// (drift: delete) and the plan creates it again as recorded.
	recreatePlan = `{"format_version": "1.2",
  "resource_drift": [{"address": "local_file.a", "change": {"actions": ["delete"],
    "before": {"content": "x", "filename": "/r/a", "id": "1"}, "after": null}}],
  "resource_changes": [
    {"address": "local_file.a", "change": {"actions": ["create"], "before": null,
      "after": {"content": "x", "filename": "/r/a"}, "after_unknown": {"id": true}}},
    {"address": "local_file.b", "change": {"actions": ["no-op"], "before": {"content": "y"}, "after": {"content": "y"}}},
    {"address": "data.local_file.c", "mode": "data", "change": {"actions": ["read"], "before": null, "after": {"filename": "/r/c"}}}
  ]}`
	// local_file.a's mode was changed by hand; the plan sets it back in place.
	updatePlan = `{"format_version": "1.2",
  "resource_drift": [{"address": "local_file.a", "change": {"actions": ["update"],
    "before": {"mode": "0644", "content": "x"}, "after": {"mode": "0600", "content": "x"}}}],
  "resource_changes": [{"address": "local_file.a", "change": {"actions": ["update"],
    "before": {"mode": "0600", "content": "x"}, "after": {"mode": "0644", "content": "x"}}}]}`
	// A drifted attribute that forces a new resource: delete, then create.
	replacePlan = `{"format_version": "1.2",
  "resource_drift": [{"address": "aws_instance.a", "change": {"actions": ["update"],
    "before": {"ami": "ami-1", "id": "i-1"}, "after": {"ami": "ami-2", "id": "i-1"}}}],
  "resource_changes": [{"address": "aws_instance.a", "change": {"actions": ["delete", "create"],
    "before": {"ami": "ami-2", "id": "i-1"}, "after": {"ami": "ami-1"}, "after_unknown": {"id": true}}}]}`
)

func drifted(objs ...string) []drift.Finding {
	var out []drift.Finding
	for _, o := range objs {
		out = append(out, drift.Finding{Object: o, Change: drift.ChangeDrifted, Diff: "# " + o + " drifted\n"})
	}
	return out
}

// withChange adds resource changes (and drifts) to a plan's JSON.
func withChange(base, field, entry string) string {
	return strings.Replace(base, `"`+field+`": [`, `"`+field+`": [`+entry+`, `, 1)
}

func TestJudgeOnlyRestoresDrift(t *testing.T) {
	for _, tc := range []struct {
		name         string
		plan         string
		asked        []drift.Finding
		allowReplace bool
		// want is the refusal, or "" with the verbs of an applicable plan.
		want      string
		wantVerbs map[string]string
		uncovered []string
	}{{
		name: "re-create with allow_replace", plan: recreatePlan, asked: drifted("local_file.a"), allowReplace: true,
		wantVerbs: map[string]string{"local_file.a": "re-create"},
	}, {
		name: "re-create without allow_replace", plan: recreatePlan, asked: drifted("local_file.a"),
		want: "the plan replaces local_file.a: set allow_replace on the stack to let apply do it",
	}, {
		name: "in-place restore needs no approval", plan: updatePlan, asked: drifted("local_file.a"),
		wantVerbs: map[string]string{"local_file.a": "update"},
	}, {
		name: "replace without allow_replace", plan: replacePlan, asked: drifted("aws_instance.a"),
		want: "the plan replaces aws_instance.a: set allow_replace on the stack to let apply do it",
	}, {
		name: "replace with allow_replace", plan: replacePlan, asked: drifted("aws_instance.a"), allowReplace: true,
		wantVerbs: map[string]string{"aws_instance.a": "replace"},
	}, {
		name:  "a Git change to another resource",
		plan:  withChange(updatePlan, "resource_changes", `{"address": "local_file.new", "change": {"actions": ["create"], "before": null, "after": {"content": "n"}}}`),
		asked: drifted("local_file.a"),
		want:  "the plan changes local_file.new (create), which did not drift: a change from Git, which belongs to the deployment path",
	}, {
		name:  "drift and a Git change on the same resource",
		plan:  strings.Replace(updatePlan, `"after": {"mode": "0644", "content": "x"}}}]}`, `"after": {"mode": "0644", "content": "new"}}}]}`, 1),
		asked: drifted("local_file.a"),
		want:  "the plan's change to local_file.a does more than restore its drift: it carries a change from Git",
	}, {
		name: "drift apply was not asked to restore (ignored, or held back)",
		plan: withChange(withChange(updatePlan, "resource_drift", `{"address": "local_file.z", "change": {"actions": ["update"], "before": {"m": "1"}, "after": {"m": "2"}}}`),
			"resource_changes", `{"address": "local_file.z", "change": {"actions": ["update"], "before": {"m": "2"}, "after": {"m": "1"}}}`),
		asked: drifted("local_file.a"),
		want:  "the plan also changes local_file.z, which apply was not asked to restore (an ignore rule or a rail holds it back)",
	}, {
		name:  "an output change",
		plan:  strings.Replace(updatePlan, `"format_version": "1.2",`, `"format_version": "1.2", "output_changes": {"greeting": {"actions": ["update"], "before": "a", "after": "b"}},`, 1),
		asked: drifted("local_file.a"),
		want:  "the plan changes output.greeting: a change from Git, not drift",
	}, {
		name:  "a moved block",
		plan:  withChange(updatePlan, "resource_changes", `{"address": "local_file.new", "previous_address": "local_file.old", "change": {"actions": ["no-op"], "before": {"c": "1"}, "after": {"c": "1"}}}`),
		asked: drifted("local_file.a"),
		want:  "the plan moves local_file.old to local_file.new: a change from Git, not drift",
	}, {
		name:  "an import block",
		plan:  withChange(updatePlan, "resource_changes", `{"address": "local_file.i", "change": {"actions": ["no-op"], "before": {"c": "1"}, "after": {"c": "1"}, "importing": {"id": "x"}}}`),
		asked: drifted("local_file.a"),
		want:  "the plan imports local_file.i: a change from Git, not drift",
	}, {
		name:  "a removed block",
		plan:  withChange(updatePlan, "resource_changes", `{"address": "local_file.f", "change": {"actions": ["forget"], "before": {"c": "1"}, "after": null}}`),
		asked: drifted("local_file.a"),
		want:  "the plan removes local_file.f from the state: a change from Git, not drift",
	}, {
		name: "a destroy",
		plan: withChange(withChange(updatePlan, "resource_drift", `{"address": "local_file.d", "change": {"actions": ["update"], "before": {"m": "1"}, "after": {"m": "2"}}}`),
			"resource_changes", `{"address": "local_file.d", "change": {"actions": ["delete"], "before": {"m": "2"}, "after": null}}`),
		asked: drifted("local_file.a", "local_file.d"), allowReplace: true,
		want: "the plan destroys local_file.d: apply never destroys",
	}, {
		name:  "an incomplete plan",
		plan:  strings.Replace(updatePlan, `"format_version": "1.2",`, `"format_version": "1.2", "complete": false,`, 1),
		asked: drifted("local_file.a"),
		want:  "the plan is incomplete (deferred changes or -target): it is not what Git says",
	}, {
		name: "a pending finding",
		plan: updatePlan, asked: append(drifted("local_file.a"), drift.Finding{Object: "local_file.p", Change: drift.ChangePending}),
		want: "local_file.p is pending, not drift: apply restores drift only",
	}, {
		name:  "a plan that restores nothing",
		plan:  `{"format_version": "1.2", "resource_drift": [{"address": "local_file.a", "change": {"actions": ["update"], "before": {"m": "1"}, "after": {"m": "2"}}}]}`,
		asked: drifted("local_file.a"),
		want:  "the plan changes nothing: Terraform would not restore this drift (ignore_changes, or attributes the provider does not set)",
	}, {
		name: "a finding the plan leaves alone", plan: updatePlan, asked: drifted("local_file.a", "local_file.q"),
		wantVerbs: map[string]string{"local_file.a": "update"}, uncovered: []string{"local_file.q"},
	}, {
		name:  "a Git change next to a re-create",
		plan:  withChange(recreatePlan, "resource_changes", `{"address": "local_file.new", "change": {"actions": ["create"], "before": null, "after": {"content": "n"}}}`),
		asked: drifted("local_file.a"),
		// allow_replace is only asked about a plan that is otherwise fine.
		want: "the plan changes local_file.new (create), which did not drift: a change from Git, which belongs to the deployment path",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			v := judge(plan(t, tc.plan), tc.asked, tc.allowReplace, nil)
			if v.refuse != tc.want {
				t.Fatalf("refusal:\n got %q\nwant %q", v.refuse, tc.want)
			}
			if tc.want != "" {
				return
			}
			if diff := cmp.Diff(tc.wantVerbs, v.verbs); diff != "" {
				t.Errorf("verbs (-want +got):\n%s", diff)
			}
			var unc []string
			for _, f := range v.uncovered {
				unc = append(unc, f.Object)
			}
			if diff := cmp.Diff(tc.uncovered, unc); diff != "" {
				t.Errorf("uncovered (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJudgeGivesEveryReason(t *testing.T) {
	p := withChange(updatePlan, "resource_changes", `{"address": "local_file.new", "change": {"actions": ["create"], "before": null, "after": {"content": "n"}}}`)
	p = strings.Replace(p, `"format_version": "1.2",`, `"format_version": "1.2", "output_changes": {"o": {"actions": ["create"], "before": null, "after": "b"}},`, 1)
	got := judge(plan(t, p), drifted("local_file.a"), false, nil).refuse
	want := "the plan changes local_file.new (create), which did not drift: a change from Git, which belongs to the deployment path; the plan changes output.o: a change from Git, not drift"
	if got != want {
		t.Errorf("refusal:\n got %q\nwant %q", got, want)
	}
}

// TestWritesIgnored: a plan's change that writes an attribute an ignore
// rule sets aside is refused, naming the rule and its path; one that leaves
// it alone, or a rule on another resource, is not.
func TestWritesIgnored(t *testing.T) {
	held := func(addr string) []heldPath {
		if addr != "aws_instance.a" {
			return nil
		}
		return []heldPath{{pointer: "/tags/owner", rule: "ignore[0] (FinOps)"}}
	}
	change := func(before, after, unknown string) string {
		return `{"format_version": "1.2", "resource_changes": [{"address": "aws_instance.a", "change": {"actions": ["update"],
  "before": ` + before + `, "after": ` + after + `, "after_unknown": ` + unknown + `}}]}`
	}
	for _, tc := range []struct {
		name, plan string
		refused    bool
	}{
		{"puts the tag back", change(`{"tags": {"owner": "finops"}}`, `{"tags": {"owner": "platform"}}`, `{}`), true},
		{"removes the tag", change(`{"tags": {"owner": "finops"}}`, `{"tags": {}}`, `{}`), true},
		{"adds the tag", change(`{"tags": {}}`, `{"tags": {"owner": "platform"}}`, `{}`), true},
		{"tag known after apply", change(`{"tags": {"owner": "finops"}}`, `{}`, `{"tags": true}`), true},
		{"leaves the tag", change(`{"ami": "ami-2", "tags": {"owner": "finops"}}`, `{"ami": "ami-1", "tags": {"owner": "finops"}}`, `{}`), false},
		{"another tag", change(`{"tags": {"owner": "x", "ownerx": "a"}}`, `{"tags": {"owner": "x", "ownerx": "b"}}`, `{}`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := writesIgnored(plan(t, tc.plan), held)
			if (len(got) > 0) != tc.refused {
				t.Fatalf("writesIgnored = %q, want refused %v", got, tc.refused)
			}
			if tc.refused && (!strings.Contains(got[0], "/tags/owner") || !strings.Contains(got[0], "ignore[0]")) {
				t.Errorf("reason %q does not name the rule and its path", got[0])
			}
		})
	}
}

func TestApplyWithoutSavedPlanFails(t *testing.T) {
	l := New(Config{}, t.TempDir(), slog.New(slog.DiscardHandler))
	got := l.Apply(context.Background(), drift.Snapshot{}, drift.TargetResult{Name: "net"}, drift.ApplyRequest{Findings: drifted("local_file.a")})
	if len(got) != 1 || got[0].Result != drift.ResultFailed || got[0].Action != "plan" || got[0].Object != "local_file.a" {
		t.Errorf("results = %+v, want one failed plan action", got)
	}
}

// TestApplyRefusalRunsNothing: a plan judged unfit is skipped before any
// file or terraform is touched (the saved plan's path does not even exist).
func TestApplyRefusalRunsNothing(t *testing.T) {
	l := New(Config{Binary: "/nonexistent/terraform"}, t.TempDir(), slog.New(slog.DiscardHandler))
	sp := &savedPlan{stack: Stack{Name: "net"}, file: "/nonexistent/plan", sum: strings.Repeat("0", 64), plan: plan(t, recreatePlan)}
	for _, dry := range []bool{true, false} {
		got := l.Apply(context.Background(), drift.Snapshot{}, drift.TargetResult{Name: "net", Private: sp}, drift.ApplyRequest{Findings: drifted("local_file.a"), DryRun: dry})
		want := []drift.ActionResult{{Object: "local_file.a", Action: "plan", Result: drift.ResultSkipped,
			Reason: "the plan replaces local_file.a: set allow_replace on the stack to let apply do it", Diff: "# local_file.a drifted\n"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("dry run %v (-want +got):\n%s", dry, diff)
		}
	}
}

// TestApplyChangedPlanFileIsSkipped: a plan file that is not the one the
// check judged is never applied.
func TestApplyChangedPlanFileIsSkipped(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, planFileName)
	writePlanZip(t, file, `{"version": 4, "serial": 3, "lineage": "abc"}`)
	l := New(Config{Binary: "/nonexistent/terraform"}, dir, slog.New(slog.DiscardHandler))
	sp := &savedPlan{stack: Stack{Name: "net", AllowReplace: true}, file: file, sum: strings.Repeat("0", 64), plan: plan(t, recreatePlan)}
	for _, dry := range []bool{true, false} {
		got := l.Apply(context.Background(), drift.Snapshot{}, drift.TargetResult{Name: "net", Private: sp}, drift.ApplyRequest{Findings: drifted("local_file.a"), DryRun: dry})
		if len(got) != 1 || got[0].Result != drift.ResultSkipped || !strings.Contains(got[0].Reason, "not the one the check judged") {
			t.Errorf("dry run %v: %+v", dry, got)
		}
	}
	// The real run claimed the file, and does not leave it for another try.
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("the plan file is still there after an apply claimed it: %v", err)
	}
}

func TestPlanState(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.tfplan")
	writePlanZip(t, file, `{"version": 4, "serial": 7, "lineage": "5f0c", "resources": []}`)
	serial, lineage, err := planState(file)
	if err != nil || serial != 7 || lineage != "5f0c" {
		t.Errorf("planState = %d, %q, %v", serial, lineage, err)
	}
	if _, _, err := planState(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("no error for a missing plan file")
	}
}

func writePlanZip(t *testing.T, name, state string) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	z := zip.NewWriter(f)
	for entry, body := range map[string]string{"tfplan": "opaque", "tfstate": state} {
		w, err := z.Create(entry)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
