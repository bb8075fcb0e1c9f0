package prcheck

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/pkg/drift"
)

func report(layer drift.LayerName, targets ...drift.TargetResult) drift.Report {
	return drift.Report{Source: drift.SourceStatus{Synced: true}, Layers: []drift.LayerResult{{Layer: layer, Targets: targets}}}
}

func fnd(obj string, change drift.Change, diff string) drift.Finding {
	return drift.Finding{Object: obj, Change: change, Diff: diff}
}

// classes lists "object class" for every finding of the report.
func classes(r drift.Report) []string {
	var out []string
	for _, l := range r.Layers {
		for _, t := range l.Targets {
			for _, f := range t.Findings {
				out = append(out, t.Name+" "+f.Object+" "+string(f.Class))
			}
		}
	}
	return out
}

func TestClassifyFourClasses(t *testing.T) {
	managed := []string{"a", "b", "c", "d", "e"}
	base := report(drift.LayerApp, drift.TargetResult{Name: "ns", Managed: managed, Findings: []drift.Finding{
		fnd("b", drift.ChangeChanged, "-b: git\n+b: hand\n"),
		fnd("c", drift.ChangeChanged, "-c: git\n+c: hand\n"),
		{Object: "d", Change: drift.ChangeChanged, Diff: "-d: git\n+d: hand\n", Details: map[string]any{"changed_by": "kubectl-edit"}},
	}})
	head := report(drift.LayerApp, drift.TargetResult{Name: "ns", Managed: managed, Findings: []drift.Finding{
		fnd("a", drift.ChangeChanged, "-a: new\n+a: old\n"),
		fnd("b", drift.ChangeChanged, "-b: git\n+b: hand\n"),
		fnd("d", drift.ChangeChanged, "-d: pr\n+d: hand\n"),
	}})
	got := Classify(base, head)
	want := []string{"ns a introduced", "ns b already_drifted", "ns c resolved", "ns d collision"}
	if diff := cmp.Diff(want, classes(got)); diff != "" {
		t.Fatalf("classes (-want +got):\n%s", diff)
	}
	d := got.Layers[0].Targets[0].Findings[3]
	if d.Details["changed_by"] != "kubectl-edit" || d.Diff != "-d: pr\n+d: hand\n" {
		t.Errorf("collision: want the pull request's diff and the base's changed_by, got %+v", d)
	}
	if c := got.Layers[0].Targets[0].Findings[2]; c.Diff != "-c: git\n+c: hand\n" {
		t.Errorf("resolved: want the base's diff, got %q", c.Diff)
	}
	if n := got.CountClasses(); n[drift.ClassCollision] != 1 || n[drift.ClassResolved] != 1 {
		t.Errorf("counts = %v", n)
	}
	for f, code := range map[drift.FailOn]int{drift.FailOnAny: 2, drift.FailOnCollision: 2, drift.FailOnNone: 0} {
		if c := got.ExitCode(f); c != code {
			t.Errorf("--fail-on=%s: exit %d, want %d", f, c, code)
		}
	}
}

// An object the pull request adds, which the base does not declare, must
// not have its live values shown: a pull request that declares
// kube-system's ConfigMap must not learn what is in it, nor the content of
// a file the base reported as unmanaged by its hash only.
func TestClassifyRedactsWhatTheBaseDoesNotManage(t *testing.T) {
	secret := "s3cr3t-live-value"
	base := report(drift.LayerApp,
		drift.TargetResult{Name: "apps", Managed: []string{"core/ConfigMap/apps/web"}},
		drift.TargetResult{Name: "seen", Findings: []drift.Finding{fnd("core/ConfigMap/seen/x", drift.ChangeUnmanaged, "# unmanaged, sha256 ...\n")}})
	head := report(drift.LayerApp,
		drift.TargetResult{Name: "apps", Findings: []drift.Finding{
			{Object: "core/ConfigMap/apps/web", Change: drift.ChangeChanged, Diff: "+ managed " + secret},
			{Object: "core/ConfigMap/apps/new", Change: drift.ChangeChanged, Diff: "+ " + secret, Details: map[string]any{"changed_by": secret}},
		}, Ignored: []drift.Finding{{Object: "core/ConfigMap/apps/other", Change: drift.ChangeChanged, Diff: "+ " + secret}}},
		drift.TargetResult{Name: "kube-system", Findings: []drift.Finding{{Object: "core/ConfigMap/kube-system/cfg", Change: drift.ChangeChanged, Diff: "+ " + secret}}},
		drift.TargetResult{Name: "seen", Findings: []drift.Finding{fnd("core/ConfigMap/seen/x", drift.ChangeChanged, "+ "+secret)}})
	got := Classify(base, head)
	var shown []string
	for _, tr := range got.Layers[0].Targets {
		for _, f := range append(tr.Findings, tr.Ignored...) {
			text := f.Diff + strings.Join(mapValues(f.Details), " ")
			if strings.Contains(text, secret) {
				shown = append(shown, f.Object)
			}
			if f.Object == "core/ConfigMap/apps/new" && !strings.Contains(f.Diff, "exists live and differs") {
				t.Errorf("redacted finding should still say the object exists live and differs: %q", f.Diff)
			}
		}
	}
	if diff := cmp.Diff([]string{"core/ConfigMap/apps/web"}, shown); diff != "" {
		t.Errorf("findings showing live values (-want +got):\n%s", diff)
	}
	// A layer whose pull-request code the job allowed to run is trusted:
	// nothing of it is hidden.
	got = Classify(base, head, drift.LayerApp)
	if f := got.Layers[0].Targets[0].Findings[0]; f.Object != "core/ConfigMap/apps/new" || !strings.Contains(f.Diff, secret) {
		t.Errorf("trusted layer: %+v, want the live values shown", f)
	}
}

func mapValues(m map[string]any) []string {
	var out []string
	for _, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// A target the pull request could not check resolves nothing: its base
// findings must not turn into "resolved".
func TestClassifyUnknownHeadTargetResolvesNothing(t *testing.T) {
	base := report(drift.LayerNode, drift.TargetResult{Name: "n1", Managed: []string{"/etc/a"}, Findings: []drift.Finding{fnd("/etc/a", drift.ChangeChanged, "x")}})
	head := report(drift.LayerNode, drift.Fail("n1", errString("not contacted")))
	got := Classify(base, head)
	if c := classes(got); len(c) != 0 || got.Status != drift.StatusUnknown || got.ExitCode(drift.FailOnAny) != 1 {
		t.Errorf("classes %v, status %s: want no finding and unknown", c, got.Status)
	}
	// A node the pull request removes from the inventory resolves its drift.
	got = Classify(base, report(drift.LayerNode))
	if diff := cmp.Diff([]string{"n1 /etc/a resolved"}, classes(got)); diff != "" {
		t.Errorf("removed target (-want +got):\n%s", diff)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// A Secret the base does not declare gives the same finding whether the
// pull request's guess of its value is right or wrong.
func TestClassifySecretIsNoOracle(t *testing.T) {
	base := report(drift.LayerApp, drift.TargetResult{Name: "prod"})
	right := report(drift.LayerApp, drift.TargetResult{Name: "prod", Managed: []string{"core/Secret/prod/db"}})
	wrong := report(drift.LayerApp, drift.TargetResult{Name: "prod", Managed: []string{"core/Secret/prod/db"},
		Findings: []drift.Finding{fnd("core/Secret/prod/db", drift.ChangeChanged, "-password: hash-a\n+password: hash-b\n")}})
	a, b := Classify(base, right), Classify(base, wrong)
	if diff := cmp.Diff(a.Layers, b.Layers); diff != "" {
		t.Errorf("a right and a wrong guess give different reports:\n%s", diff)
	}
	if f := a.Layers[0].Targets[0].Findings; len(f) != 1 || f[0].Change != drift.ChangeNotCompared {
		t.Errorf("findings %+v, want one not_compared", f)
	}
}
