package apply

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
)

// fakeApplier records what it was asked to apply (not to dry-run) and
// fails on objects named in fail.
type fakeApplier struct {
	calls []string
	// dryRuns counts the dry runs asked for.
	dryRuns int
	fail    map[string]bool
}

func (a *fakeApplier) Apply(_ context.Context, _ drift.Snapshot, t drift.TargetResult, req drift.ApplyRequest) []drift.ActionResult {
	var out []drift.ActionResult
	if req.DryRun {
		a.dryRuns++
	}
	for _, f := range req.Findings {
		if !req.DryRun {
			a.calls = append(a.calls, t.Name+" "+f.Object)
		}
		r := drift.ActionResult{Object: f.Object, Action: drift.ActionFor(f), Result: drift.ResultApplied}
		if req.DryRun {
			r.Result = drift.ResultWouldApply
		}
		if a.fail[f.Object] {
			r.Result, r.Reason = drift.ResultFailed, "boom"
			return append(out, r)
		}
		out = append(out, r)
	}
	return out
}

func target(name string, findings ...drift.Finding) drift.TargetResult {
	t := drift.TargetResult{Name: name, Findings: findings}
	t.Normalize()
	return t
}

func report(targets ...drift.TargetResult) drift.Report {
	return drift.Report{Revision: "abc", Layers: []drift.LayerResult{{Layer: drift.LayerApp, Targets: targets}}}
}

func cfg() config.Apply {
	return config.Apply{Enabled: true, Targets: map[string][]string{"app": {"shop", "pay*"}}, MaxChanges: 20,
		FlapBreaker: config.FlapBreaker{Count: 2, Within: config.Duration(time.Hour)}}
}

func results(r Result) map[string]string {
	out := map[string]string{}
	for _, a := range r.Actions {
		out[a.Target+" "+a.Object] = a.Result + " " + strings.SplitN(a.Reason, ":", 2)[0]
	}
	return out
}

func TestRunOnlyWhereAllowedAndOnlyDrift(t *testing.T) {
	fa := &fakeApplier{}
	rep := report(
		target("shop", drift.Finding{Object: "cm/a", Change: drift.ChangeChanged}, drift.Finding{Object: "cm/x", Change: drift.ChangeUnmanaged}),
		target("payments", drift.Finding{Object: "cm/b", Change: drift.ChangeMissing}),
		target("kube-system", drift.Finding{Object: "cm/c", Change: drift.ChangeChanged}),
		target("pay-pending", drift.Finding{Object: "cm/d", Change: drift.ChangeChanged}, drift.Finding{Object: "cm/e", Change: drift.ChangePending}),
	)
	res := Run(t.Context(), rep, drift.Snapshot{}, Options{Config: cfg(), Layers: map[drift.LayerName]drift.Applier{drift.LayerApp: fa}})
	want := map[string]string{
		"shop cm/a":        "applied ",
		"shop cm/x":        "skipped " + ReasonPruneOff,
		"payments cm/b":    "applied ",
		"kube-system cm/c": "skipped " + ReasonNotAllowed,
		"pay-pending cm/d": "skipped " + ReasonPending,
		"pay-pending cm/e": "skipped " + ReasonPending,
	}
	got := results(res)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if len(fa.calls) != 2 {
		t.Errorf("the layer was asked for %v, want only shop cm/a and payments cm/b", fa.calls)
	}
}

func TestRunCapsApplyNothing(t *testing.T) {
	c := cfg()
	c.MaxChanges = 1
	fa := &fakeApplier{}
	rep := report(target("shop", drift.Finding{Object: "a", Change: drift.ChangeChanged}, drift.Finding{Object: "b", Change: drift.ChangeChanged}))
	res := Run(t.Context(), rep, drift.Snapshot{}, Options{Config: c, Layers: map[drift.LayerName]drift.Applier{drift.LayerApp: fa}})
	if len(fa.calls) != 0 || !strings.HasPrefix(res.Blocked, ReasonMaxChanges) || res.Count(drift.ResultBlocked) != 2 {
		t.Errorf("over max_changes: calls %v, blocked %q, %v", fa.calls, res.Blocked, results(res))
	}
	c = cfg()
	c.Prune = true
	rep = report(target("shop", drift.Finding{Object: "x", Change: drift.ChangeUnmanaged}))
	res = Run(t.Context(), rep, drift.Snapshot{}, Options{Config: c, Layers: map[drift.LayerName]drift.Applier{drift.LayerApp: fa}})
	if len(fa.calls) != 0 || !strings.HasPrefix(res.Blocked, ReasonMaxDeletions) {
		t.Errorf("over max_deletions (0): calls %v, blocked %q", fa.calls, res.Blocked)
	}
}

func TestRunStopsAtFirstFailure(t *testing.T) {
	fa := &fakeApplier{fail: map[string]bool{"a": true}}
	rep := report(target("pay", drift.Finding{Object: "a", Change: drift.ChangeChanged}), target("shop", drift.Finding{Object: "b", Change: drift.ChangeChanged}))
	res := Run(t.Context(), rep, drift.Snapshot{}, Options{Config: cfg(), Layers: map[drift.LayerName]drift.Applier{drift.LayerApp: fa}})
	got := results(res)
	if got["pay a"] != "failed boom" || got["shop b"] != "blocked "+ReasonEarlierFail || len(fa.calls) != 1 {
		t.Errorf("after a failure: %v, calls %v", got, fa.calls)
	}
}

// The flap breaker trips when the same object keeps drifting after being
// restored, remembers across runs (a file), and names who keeps changing it.
func TestFlapBreaker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flap.json")
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	run := func() Result {
		b, err := NewBreaker(path)
		if err != nil {
			t.Fatal(err)
		}
		rep := report(target("shop", drift.Finding{Object: "deploy/web", Change: drift.ChangeChanged, Details: map[string]any{"changed_by": "hpa-fighter at 10:00"}}))
		now = now.Add(10 * time.Minute)
		return Run(t.Context(), rep, drift.Snapshot{}, Options{Config: cfg(), Layers: map[drift.LayerName]drift.Applier{drift.LayerApp: &fakeApplier{}}, Breaker: b, Now: func() time.Time { return now }})
	}
	for i := range 2 {
		if r := run(); r.Count(drift.ResultApplied) != 1 {
			t.Fatalf("run %d: %v", i, results(r))
		}
	}
	r := run()
	if r.Count(drift.ResultBlocked) != 1 || !strings.Contains(r.Actions[0].Reason, "hpa-fighter") {
		t.Errorf("third drift within the hour: %+v, want blocked naming hpa-fighter", r.Actions)
	}
	now = now.Add(2 * time.Hour)
	if r := run(); r.Count(drift.ResultApplied) != 1 {
		t.Errorf("after the window: %v, want applied again", results(r))
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Observe(Result{Actions: []drift.ActionResult{
		{Layer: drift.LayerApp, Target: "shop", Object: "a", Result: drift.ResultApplied},
		{Layer: drift.LayerApp, Target: "shop", Object: "b", Result: drift.ResultBlocked,
			Reason: ReasonFlapping + ": restored 3 times within 1h0m0s and drifted again; it keeps being changed by kubectl-patch at 2026-12-05T10:00:00Z (a controller or a person is fighting Git): fix that, then apply"},
	}})
	want := `
# HELP driftd_apply_flapping 1 for each object the flap breaker stopped applying in the last run; changed_by names who keeps changing it.
# TYPE driftd_apply_flapping gauge
driftd_apply_flapping{changed_by="kubectl-patch at 2026-12-05T10:00:00Z",layer="app",object="b",target="shop"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "driftd_apply_flapping"); err != nil {
		t.Error(err)
	}
	if n := testutil.ToFloat64(m.blocked.WithLabelValues("app", ReasonFlapping)); n != 1 {
		t.Errorf("driftd_apply_blocked_total{reason=flapping} = %v", n)
	}
	if n := testutil.ToFloat64(m.total.WithLabelValues("app", "shop", drift.ResultApplied)); n != 1 {
		t.Errorf("driftd_apply_total{result=applied} = %v", n)
	}
}

// An action that restores several objects at once (a Terraform plan) counts
// for each of them in the flap breaker.
func TestFlapBreakerCountsEachObjectOfAPlan(t *testing.T) {
	b, _ := NewBreaker("")
	plan := applierFunc(func(_ context.Context, _ drift.Snapshot, _ drift.TargetResult, req drift.ApplyRequest) []drift.ActionResult {
		return []drift.ActionResult{{Object: "local_file.a, local_file.b", Action: "plan", Result: drift.ResultApplied}}
	})
	c := cfg()
	c.Targets = map[string][]string{"infra": {"net"}}
	rep := drift.Report{Layers: []drift.LayerResult{{Layer: drift.LayerInfra, Targets: []drift.TargetResult{target("net",
		drift.Finding{Object: "local_file.a", Change: drift.ChangeDrifted}, drift.Finding{Object: "local_file.b", Change: drift.ChangeDrifted})}}}}
	now := time.Now()
	for range 2 {
		Run(t.Context(), rep, drift.Snapshot{}, Options{Config: c, Layers: map[drift.LayerName]drift.Applier{drift.LayerInfra: plan}, Breaker: b, Now: func() time.Time { return now }})
	}
	if b.Tripped(key(drift.LayerInfra, "net", "local_file.b"), now, c.FlapBreaker) == "" {
		t.Error("local_file.b was restored twice by a plan, but the breaker did not count it")
	}
}

type applierFunc func(context.Context, drift.Snapshot, drift.TargetResult, drift.ApplyRequest) []drift.ActionResult

func (f applierFunc) Apply(ctx context.Context, s drift.Snapshot, t drift.TargetResult, r drift.ApplyRequest) []drift.ActionResult {
	return f(ctx, s, t, r)
}

// Outside its time windows, apply applies nothing and says why.
func TestRunOutsideWindow(t *testing.T) {
	c := cfg()
	c.Windows = config.Windows{Allow: []string{"Mon-Fri 09:00-17:00"}}
	fa := &fakeApplier{}
	saturday := time.Date(2026, 12, 12, 10, 0, 0, 0, time.UTC)
	rep := report(target("shop", drift.Finding{Object: "a", Change: drift.ChangeChanged}))
	res := Run(t.Context(), rep, drift.Snapshot{}, Options{Config: c, Layers: map[drift.LayerName]drift.Applier{drift.LayerApp: fa}, Now: func() time.Time { return saturday }})
	if len(fa.calls) != 0 || !strings.HasPrefix(res.Blocked, ReasonWindow) || !strings.Contains(res.Blocked, "Sat 10:00") {
		t.Errorf("outside the window: calls %v, blocked %q", fa.calls, res.Blocked)
	}
	monday := saturday.AddDate(0, 0, 2)
	res = Run(t.Context(), rep, drift.Snapshot{}, Options{Config: c, Layers: map[drift.LayerName]drift.Applier{drift.LayerApp: fa}, Now: func() time.Time { return monday }})
	if res.Count(drift.ResultApplied) != 1 {
		t.Errorf("inside the window: %v", results(res))
	}
}

// A corrupt history holds every object back, naming the file, and never
// stops the run itself.
func TestBreakerCorruptHistoryHoldsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flap.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := NewBreaker(path)
	if err != nil {
		t.Fatal(err)
	}
	fa := &fakeApplier{}
	res := Run(t.Context(), report(target("shop", drift.Finding{Object: "a", Change: drift.ChangeChanged})), drift.Snapshot{},
		Options{Config: cfg(), Layers: map[drift.LayerName]drift.Applier{drift.LayerApp: fa}, Breaker: b})
	if len(fa.calls) != 0 || res.Count(drift.ResultBlocked) != 1 || !strings.Contains(res.Actions[0].Reason, "remove the file") {
		t.Errorf("corrupt history: calls %v, %+v", fa.calls, res.Actions)
	}
}

// A real run after the dry run the operator reviewed takes the caps from
// that dry run and does not ask the layers again; a reviewed dry run above
// a cap blocks the real run.
func TestRunReusesTheReviewedDryRun(t *testing.T) {
	fa := &fakeApplier{}
	rep := report(target("shop", drift.Finding{Object: "a", Change: drift.ChangeChanged}))
	opts := Options{Config: cfg(), DryRun: true, Layers: map[drift.LayerName]drift.Applier{drift.LayerApp: fa}}
	plan := Run(t.Context(), rep, drift.Snapshot{}, opts)
	opts.DryRun, opts.Reviewed = false, &plan
	res := Run(t.Context(), rep, drift.Snapshot{}, opts)
	if fa.dryRuns != 1 || len(fa.calls) != 1 || res.Count(drift.ResultApplied) != 1 {
		t.Errorf("dry runs %d, calls %v, %v: want one dry run, one apply", fa.dryRuns, fa.calls, results(res))
	}
	big := plan
	big.Actions = append(slices.Clone(plan.Actions), drift.ActionResult{Object: "reload", Action: "reload", Result: drift.ResultWouldApply})
	opts.Config.MaxChanges = 1
	opts.Reviewed = &big
	res = Run(t.Context(), rep, drift.Snapshot{}, opts)
	if len(fa.calls) != 1 || !strings.HasPrefix(res.Blocked, ReasonMaxChanges) {
		t.Errorf("a reviewed dry run over the cap: calls %v, blocked %q", fa.calls, res.Blocked)
	}
}
