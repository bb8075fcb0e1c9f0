package apply

// Attack tests for the rails of apply mode (apply.go, breaker.go). Each
// test says, in its comment, what an attacker or an unlucky operator does
// and what should happen instead.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
)

// TestAttackLayerErrorStillPrunes: one manifest of the namespace fails to
// load (a YAML typo, a kustomization that no longer builds, a file over
// repo.max_file_size). app.Load goes on with the rest and reports the
// failure as the layer's error; the namespace's target itself has no error,
// so the objects of the broken file are "unmanaged" there. Apply looks only
// at the target's status and prunes them: a typo in Git deletes production
// objects. A layer that could not read all of Git must not apply (at least
// no deletion): the README's "a target that could not be checked completely
// is skipped".
func TestAttackLayerErrorStillPrunes(t *testing.T) {
	c := cfg()
	c.Prune = true
	c.MaxDeletions = 5
	fa := &fakeApplier{}
	tr := target("shop", drift.Finding{Object: "apps/Deployment/shop/web", Change: drift.ChangeUnmanaged})
	rep := drift.Report{Revision: "abc", Layers: []drift.LayerResult{{
		Layer: drift.LayerApp, Error: "path apps/shop: web.yaml: yaml: line 3: mapping values are not allowed in this context",
		Targets: []drift.TargetResult{tr},
	}}}
	rep.Normalize()
	res := Run(t.Context(), rep, drift.Snapshot{}, Options{Config: c, Layers: map[drift.LayerName]drift.Applier{drift.LayerApp: fa}})
	if len(fa.calls) != 0 {
		t.Errorf("the app layer could not load all of Git (%s), yet apply deleted %v: %v", rep.Layers[0].Error, fa.calls, results(res))
	}
}

// TestAttackBreakerNullHistoryPanics: the history file holds "null" (a
// truncated write by another tool, an operator "resetting" it, or a
// tamper). NewBreaker accepts it (json.Unmarshal of null leaves a nil map)
// and the first Record, right after an object was applied, panics on the
// nil map: driftd crashes mid-apply, in serve as in a one-shot run, and on
// every restart once there is drift to apply. A nil map after loading
// must be an empty history (or an error at load).
func TestAttackBreakerNullHistoryPanics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apply-flap-breaker.json")
	if err := os.WriteFile(path, []byte("null"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := NewBreaker(path)
	if err != nil {
		return // refusing the file at load is a fine answer
	}
	rep := report(target("shop", drift.Finding{Object: "deploy/web", Change: drift.ChangeChanged}))
	var res Result
	panicked := func() (p any) {
		defer func() { p = recover() }()
		res = Run(t.Context(), rep, drift.Snapshot{}, Options{Config: cfg(), Layers: map[drift.LayerName]drift.Applier{drift.LayerApp: &fakeApplier{}}, Breaker: b})
		return nil
	}()
	if panicked != nil {
		t.Errorf("a flap breaker history of \"null\" crashes the apply after the first object was changed: %v", panicked)
	} else if res.Count(drift.ResultApplied) != 1 {
		t.Errorf("results: %v", results(res))
	}
}

// TestAttackBreakerWritersLoseEachOthersHistory: driftd serve (apply.in_serve)
// and a one-shot `driftd apply` share cache_dir, as the README invites
// ("one-shot runs remember each other"). Each loads the file once and each
// save writes its whole in-memory map: the last writer erases the other's
// restores. A controller fighting Git through alternating serve and
// one-shot restores never trips the breaker. Record should re-read and merge
// the file under a lock (flock), or keep one file per writer.
func TestAttackBreakerWritersLoseEachOthersHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apply-flap-breaker.json")
	serve, err := NewBreaker(path)
	if err != nil {
		t.Fatal(err)
	}
	oneShot, err := NewBreaker(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	fb := config.FlapBreaker{Count: 2, Within: config.Duration(time.Hour)}
	k := key(drift.LayerApp, "shop", "apps/Deployment/shop/web")
	oneShot.Record(k, now, "kubectl-edit", time.Hour)
	serve.Record(k, now.Add(time.Minute), "kubectl-edit", time.Hour)
	later, err := NewBreaker(path)
	if err != nil {
		t.Fatal(err)
	}
	if why := later.Tripped(k, now.Add(2*time.Minute), fb); why == "" {
		data, _ := os.ReadFile(path)
		t.Errorf("the object was restored twice within the hour (once by each process), but the history kept only one: %s", data)
	}
}

// TestAttackBreakerHistoryGrowsWithoutBound: history is bounded per object
// (64 restores) but an object's key is never forgotten, however old its
// restores: every object ever restored (app objects are named with
// namespace and name, so every preview namespace, every generated name)
// stays in the file forever, and the whole file is rewritten and
// re-marshalled on every restore. Entries older than the longest window
// that matters (flap_breaker.within) should be dropped when saving.
func TestAttackBreakerHistoryGrowsWithoutBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apply-flap-breaker.json")
	b, err := NewBreaker(path)
	if err != nil {
		t.Fatal(err)
	}
	long := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 300 {
		b.Record(key(drift.LayerApp, fmt.Sprintf("preview-%d", i), "v1/ConfigMap/x"), long, "", time.Hour)
	}
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	b.Record(key(drift.LayerApp, "shop", "v1/ConfigMap/y"), now, "", time.Hour)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "preview-0") {
		t.Errorf("restores from six years ago are still kept and rewritten on every restore (%d bytes for one recent restore)", len(data))
	}
}

// TestAttackCapIgnoresLayerSideEffects: max_changes counts findings, but a
// layer may do more than one change per finding: the node layer restarts
// every unit whose unit file it wrote (restart_units) and runs the reload
// command, the infra layer applies a whole plan as one action. With
// max_changes: 1, one unit-file finding on a node becomes a write, a
// daemon-reload and a service restart in production; the dry run already
// shows all three as would_apply. The cap should count what the layers'
// dry run says they will do (every would_apply action), not the findings.
func TestAttackCapIgnoresLayerSideEffects(t *testing.T) {
	c := cfg()
	c.MaxChanges = 1
	c.Targets = map[string][]string{"node": {"n1"}}
	var took []string
	nodeLike := applierFunc(func(_ context.Context, _ drift.Snapshot, _ drift.TargetResult, req drift.ApplyRequest) []drift.ActionResult {
		res := drift.ResultApplied
		if req.DryRun {
			res = drift.ResultWouldApply
		} else {
			took = append(took, "write", "reload", "restart kubelet.service")
		}
		return []drift.ActionResult{
			{Object: req.Findings[0].Object, Action: "restore", Result: res},
			{Object: "systemd", Action: "reload", Result: res},
			{Object: "kubelet.service", Action: "restart", Result: res},
		}
	})
	rep := drift.Report{Revision: "abc", Layers: []drift.LayerResult{{Layer: drift.LayerNode, Targets: []drift.TargetResult{
		target("n1", drift.Finding{Object: "/etc/systemd/system/kubelet.service.d/10-flags.conf", Change: drift.ChangeChanged}),
	}}}}
	res := Run(t.Context(), rep, drift.Snapshot{}, Options{Config: c, Layers: map[drift.LayerName]drift.Applier{drift.LayerNode: nodeLike}})
	if n := res.Count(drift.ResultApplied); n > c.MaxChanges {
		t.Errorf("max_changes is %d, yet the run made %d changes (%v)", c.MaxChanges, n, took)
	}
}
