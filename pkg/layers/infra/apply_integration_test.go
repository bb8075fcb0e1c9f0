//go:build integration

package infra

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// applyDrift asks the layer to restore a check's drifted findings, as
// pkg/apply does once its rails let the target through.
func (w *world) applyDrift(l *Layer, res drift.TargetResult, dryRun bool) []drift.ActionResult {
	w.t.Helper()
	var todo []drift.Finding
	for _, f := range res.Findings {
		if f.Change == drift.ChangeDrifted {
			todo = append(todo, f)
		}
	}
	if len(todo) == 0 {
		w.t.Fatalf("no drift to apply: %s %q %v", res.Status, res.Error, changes(res))
	}
	return l.Apply(w.t.Context(), drift.Snapshot{Dir: w.repo, Revision: "test"}, res, drift.ApplyRequest{Findings: todo, DryRun: dryRun})
}

// read returns a file's content.
func (w *world) read(path string) string {
	w.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

// backdate sets a file's mtime an hour back, so that any write shows.
func (w *world) backdate(path string) time.Time {
	w.t.Helper()
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		w.t.Fatal(err)
	}
	return old
}

func (w *world) mtime(path string) time.Time {
	w.t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		w.t.Fatal(err)
	}
	return fi.ModTime()
}

// stateOf returns a stack's state file, and the recorded attributes of
// one of its resources.
func (w *world) stateOf(stack, resource string) (raw string, attrs map[string]any) {
	w.t.Helper()
	raw = w.read(filepath.Join(w.stateDir, stack+".tfstate"))
	var st struct {
		Resources []struct {
			Type, Name string
			Instances  []struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		w.t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Type+"."+r.Name == resource && len(r.Instances) == 1 {
			return raw, r.Instances[0].Attributes
		}
	}
	w.t.Fatalf("%s not in the state of %s", resource, stack)
	return "", nil
}

func oneResult(t *testing.T, got []drift.ActionResult, result, object string) drift.ActionResult {
	t.Helper()
	if len(got) != 1 || got[0].Result != result || got[0].Object != object || got[0].Action != "plan" {
		t.Fatalf("results = %+v, want one plan action on %s, %s", got, object, result)
	}
	return got[0]
}

// TestInfraApplyRestoresDrift: a hand-edited file in a stack with
// allow_replace is put back by the check's saved plan; the next check is
// in sync and the other resource was not touched, on disk or in the state.
func TestInfraApplyRestoresDrift(t *testing.T) {
	w := newWorld(t)
	w.stack("net", map[string]string{"main.tf": motdStack})
	w.apply("net")
	l := w.layer(Stack{Dir: "net", AllowReplace: true})
	motd, hosts := filepath.Join(w.reality, "motd"), filepath.Join(w.reality, "hosts")

	w.write(motd, "hacked\n")
	hostsTime := w.backdate(hosts)
	_, hostsState := w.stateOf("net", "local_file.hosts")
	res := w.check(l)["net"]
	if diff := cmp.Diff([]string{"drifted local_file.motd"}, changes(res)); diff != "" {
		t.Fatalf("findings (-want +got):\n%s", diff)
	}

	// What was reviewed is what is applied: the saved plan, not a fresh
	// plan of whatever the configuration says by now.
	staged := filepath.Join(w.cacheDir, "src", "net", "main.tf")
	w.write(staged, strings.Replace(w.read(staged), `default = "hello"`, `default = "fresh"`, 1))

	r := oneResult(t, w.applyDrift(l, res, false), drift.ResultApplied, "local_file.motd")
	if !strings.Contains(r.Reason, "re-create local_file.motd") || r.Diff != res.Findings[0].Diff {
		t.Errorf("applied action: reason %q, diff:\n%s", r.Reason, r.Diff)
	}
	if got := w.read(motd); got != "hello\n" {
		t.Errorf("motd = %q after apply, want Git's %q", got, "hello\n")
	}
	if got := w.mtime(hosts); !got.Equal(hostsTime) {
		t.Errorf("hosts was written (mtime %s, was %s)", got, hostsTime)
	}
	if _, after := w.stateOf("net", "local_file.hosts"); !cmp.Equal(hostsState, after) {
		t.Errorf("hosts changed in the state:\n%s", cmp.Diff(hostsState, after))
	}
	if next := w.check(l)["net"]; next.Status != drift.StatusInSync {
		t.Errorf("check after apply: %s %q %v", next.Status, next.Error, changes(next))
	}

	// A saved plan is applied once; that check's result is spent (and the
	// check since has replaced its plan anyway).
	oneResult(t, w.applyDrift(l, res, false), drift.ResultSkipped, "local_file.motd")
}

// TestInfraApplyReplaceNeedsApproval: without allow_replace, the re-create
// that local_file drift needs is skipped and nothing changes.
func TestInfraApplyReplaceNeedsApproval(t *testing.T) {
	w := newWorld(t)
	w.stack("net", map[string]string{"main.tf": motdStack})
	w.apply("net")
	l := w.layer(Stack{Dir: "net"})
	motd := filepath.Join(w.reality, "motd")
	w.write(motd, "hacked\n")
	motdTime := w.backdate(motd)
	state, _ := w.stateOf("net", "local_file.motd")

	res := w.check(l)["net"]
	for _, dry := range []bool{true, false} {
		r := oneResult(t, w.applyDrift(l, res, dry), drift.ResultSkipped, "local_file.motd")
		if want := "the plan replaces local_file.motd: set allow_replace on the stack to let apply do it"; r.Reason != want {
			t.Errorf("dry run %v: reason %q, want %q", dry, r.Reason, want)
		}
	}
	if got := w.read(motd); got != "hacked\n" || !w.mtime(motd).Equal(motdTime) {
		t.Errorf("motd was written: %q", got)
	}
	if after, _ := w.stateOf("net", "local_file.motd"); after != state {
		t.Error("the state changed")
	}
	if next := w.check(l)["net"]; !cmp.Equal(changes(next), []string{"drifted local_file.motd"}) {
		t.Errorf("check after the skipped apply: %v", changes(next))
	}
}

// TestInfraApplyRefusesGitChanges: pkg/apply never passes a stack with a
// pending change, but the applier refuses on its own a plan that would
// ship one along with the drift.
func TestInfraApplyRefusesGitChanges(t *testing.T) {
	w := newWorld(t)
	w.stack("app", map[string]string{"main.tf": motdStack})
	w.apply("app")
	w.stack("app", map[string]string{"main.tf": motdStack + `
resource "local_file" "extra" {
  filename = "${var.reality}/extra"
  content  = "x"
}
`})
	motd := filepath.Join(w.reality, "motd")
	w.write(motd, "hacked\n")
	state, _ := w.stateOf("app", "local_file.motd")
	l := w.layer(Stack{Dir: "app", AllowReplace: true})
	res := w.check(l)["app"]
	if diff := cmp.Diff([]string{"pending local_file.extra", "drifted local_file.motd"}, changes(res)); diff != "" {
		t.Fatalf("findings (-want +got):\n%s", diff)
	}
	for _, dry := range []bool{true, false} {
		r := oneResult(t, w.applyDrift(l, res, dry), drift.ResultSkipped, "local_file.motd")
		if !strings.Contains(r.Reason, "the plan changes local_file.extra (create), which did not drift") {
			t.Errorf("dry run %v: reason %q", dry, r.Reason)
		}
	}
	if _, err := os.Stat(filepath.Join(w.reality, "extra")); !os.IsNotExist(err) {
		t.Errorf("the pending resource was created: %v", err)
	}
	if got := w.read(motd); got != "hacked\n" {
		t.Errorf("motd = %q: the drift was restored along with a refused plan", got)
	}
	if after, _ := w.stateOf("app", "local_file.motd"); after != state {
		t.Error("the state changed")
	}
}

// TestInfraApplyStalePlanFails: when the state changes between the check
// and apply (an operator's apply), the saved plan is stale: apply fails
// and says so, in a dry run too, and changes nothing; terraform refuses the
// plan itself as well.
func TestInfraApplyStalePlanFails(t *testing.T) {
	w := newWorld(t)
	w.stack("net", map[string]string{"main.tf": motdStack})
	w.apply("net")
	l := w.layer(Stack{Dir: "net", AllowReplace: true})
	motd, hosts := filepath.Join(w.reality, "motd"), filepath.Join(w.reality, "hosts")
	w.write(motd, "hacked\n")
	res := w.check(l)["net"]

	// An operator replaces hosts by hand, which writes the state.
	w.terraform("net", "apply", "-auto-approve", "-input=false", "-no-color", "-target=local_file.hosts", "-replace=local_file.hosts")
	state, _ := w.stateOf("net", "local_file.motd")
	hostsTime := w.backdate(hosts)

	r := oneResult(t, w.applyDrift(l, res, true), drift.ResultFailed, "local_file.motd")
	if !strings.Contains(r.Reason, "the state changed since the check") || !strings.Contains(r.Reason, "stale") {
		t.Errorf("dry run: reason %q", r.Reason)
	}
	// Past driftd's own look at the state, terraform refuses it too.
	sp := *res.Private.(*savedPlan)
	sp.lineage = ""
	res.Private = &sp
	r = oneResult(t, w.applyDrift(l, res, false), drift.ResultFailed, "local_file.motd")
	if want := "the state changed since the check: terraform refused the stale saved plan and nothing was applied; check again"; r.Reason != want {
		t.Errorf("apply: reason %q, want %q", r.Reason, want)
	}
	if got := w.read(motd); got != "hacked\n" {
		t.Errorf("motd = %q: a stale plan was applied", got)
	}
	if !w.mtime(hosts).Equal(hostsTime) {
		t.Error("hosts was written")
	}
	if after, _ := w.stateOf("net", "local_file.motd"); after != state {
		t.Error("the state changed")
	}
}

// TestInfraApplyDryRunChangesNothing: a dry run verifies the saved plan and
// says what it would apply, changes nothing (the checks before and after
// agree), and leaves the plan for the real run.
func TestInfraApplyDryRunChangesNothing(t *testing.T) {
	w := newWorld(t)
	w.stack("net", map[string]string{"main.tf": motdStack})
	w.apply("net")
	l := w.layer(Stack{Dir: "net", AllowReplace: true})
	motd, hosts := filepath.Join(w.reality, "motd"), filepath.Join(w.reality, "hosts")
	w.write(motd, "hacked\n")
	motdTime, hostsTime := w.backdate(motd), w.backdate(hosts)
	state, _ := w.stateOf("net", "local_file.motd")

	before := w.check(l)["net"]
	r := oneResult(t, w.applyDrift(l, before, true), drift.ResultWouldApply, "local_file.motd")
	if !strings.HasPrefix(r.Reason, "would apply the check's saved plan: re-create local_file.motd (plan sha256 ") {
		t.Errorf("reason %q does not say what would be applied", r.Reason)
	}
	if r.Diff != before.Findings[0].Diff {
		t.Errorf("diff:\n%s\nwant the finding's:\n%s", r.Diff, before.Findings[0].Diff)
	}
	if w.read(motd) != "hacked\n" || !w.mtime(motd).Equal(motdTime) || !w.mtime(hosts).Equal(hostsTime) {
		t.Error("the dry run wrote a file")
	}
	if after, _ := w.stateOf("net", "local_file.motd"); after != state {
		t.Error("the dry run changed the state")
	}
	// The real run after the dry run, on the same check, as driftd apply
	// does.
	oneResult(t, w.applyDrift(l, before, false), drift.ResultApplied, "local_file.motd")
	if w.read(motd) != "hello\n" {
		t.Error("the apply after the dry run did not restore motd")
	}

	// And a check between a dry run and the next check agrees with both.
	w.write(motd, "hacked again\n")
	first := w.check(l)["net"]
	oneResult(t, w.applyDrift(l, first, true), drift.ResultWouldApply, "local_file.motd")
	second := w.check(l)["net"]
	if diff := cmp.Diff(first.Findings, second.Findings); diff != "" {
		t.Errorf("checks before and after a dry run differ (-before +after):\n%s", diff)
	}
}

// TestInfraApplyTakesStateLock: apply waits for the state lock at most
// apply_lock_timeout and fails, changing nothing, while someone holds it.
func TestInfraApplyTakesStateLock(t *testing.T) {
	w := newWorld(t)
	fifo := mkfifo(t)
	w.stack("locked", map[string]string{"main.tf": gatedStack(fifo)})
	w.apply("locked")
	l := w.layer(Stack{Dir: "locked", AllowReplace: true, Timeout: yamlconf.Duration(time.Minute)})
	l.cfg.ApplyLockTimeout = yamlconf.Duration(2 * time.Second)
	motd := filepath.Join(w.reality, "motd")
	w.write(motd, "hacked\n")
	res := w.check(l)["locked"]

	// An operator's apply takes the state lock and hangs in its plan phase.
	apply := w.command("locked", "apply", "-auto-approve", "-input=false", "-no-color", "-lock-timeout=0s", "-var", "gate=true")
	apply.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-apply.Process.Pid, syscall.SIGKILL)
		_ = apply.Wait()
	})
	lockInfo := filepath.Join(w.stateDir, ".locked.tfstate.lock.info")
	if !waitFor(t, 20*time.Second, func() bool { _, err := os.Stat(lockInfo); return err == nil }) {
		t.Fatalf("the blocking apply never took the state lock (%s)", lockInfo)
	}

	start := time.Now()
	r := oneResult(t, w.applyDrift(l, res, false), drift.ResultFailed, "local_file.motd")
	if !strings.Contains(r.Reason, "the state stayed locked for 2s") || !strings.Contains(r.Reason, "Error acquiring the state lock") {
		t.Errorf("reason %q", r.Reason)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("apply took %s with a 2s lock timeout", took)
	}
	if w.read(motd) != "hacked\n" {
		t.Error("motd was written without the state lock")
	}
}
