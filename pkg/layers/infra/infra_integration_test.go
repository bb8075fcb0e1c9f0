//go:build integration

package infra

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

func TestInfraInSyncThenDrift(t *testing.T) { binaries(t, testInfraInSyncThenDrift) }

func testInfraInSyncThenDrift(t *testing.T, bin string) {
	w := newWorldWith(t, bin)
	w.stack("net", map[string]string{"main.tf": motdStack})
	w.apply("net")
	l := w.layer(Stack{Dir: "net"})

	res := w.check(l)["net"]
	if res.Status != drift.StatusInSync {
		t.Fatalf("applied stack: status %s, error %q, findings %v", res.Status, res.Error, changes(res))
	}

	// Someone edits one managed file and deletes another, out of band.
	w.write(filepath.Join(w.reality, "motd"), "hacked\n")
	if err := os.Remove(filepath.Join(w.reality, "hosts")); err != nil {
		t.Fatal(err)
	}
	res = w.check(l)["net"]
	want := []string{"drifted local_file.hosts", "drifted local_file.motd"}
	if diff := cmp.Diff(want, changes(res)); diff != "" {
		t.Fatalf("findings after out-of-band edits (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.Findings[0].Diff, "local_file.hosts has been deleted outside of Terraform") {
		t.Errorf("hosts diff:\n%s", res.Findings[0].Diff)
	}
}

func TestInfraPendingIsNotDrift(t *testing.T) { binaries(t, testInfraPendingIsNotDrift) }

func testInfraPendingIsNotDrift(t *testing.T, bin string) {
	w := newWorldWith(t, bin)
	w.stack("app", map[string]string{"main.tf": motdStack})
	w.apply("app")

	// A merged change that was never applied: a new default and a new resource.
	w.stack("app", map[string]string{"main.tf": strings.Replace(motdStack, `default = "hello"`, `default = "hello, world"`, 1) + `
resource "local_file" "extra" {
  filename = "${var.reality}/extra"
  content  = "x"
}
`})
	res := w.check(w.layer(Stack{Dir: "app"}))["app"]
	want := []string{"pending local_file.extra", "pending local_file.motd", "pending output.greeting"}
	if diff := cmp.Diff(want, changes(res)); diff != "" {
		t.Fatalf("findings (-want +got):\n%s", diff)
	}
	motd := res.Findings[1]
	if !strings.Contains(motd.Diff, `~ content = "hello\n" -> "hello, world\n"`) {
		t.Errorf("motd diff lacks the attribute change:\n%s", motd.Diff)
	}
	if got := motd.Details["actions"]; !slices.Equal(got.([]string), []string{"delete", "create"}) {
		t.Errorf("motd actions = %v, want replace (delete, create)", got)
	}
}

func TestInfraSensitiveValueNeverShown(t *testing.T) {
	const oldSecret, newSecret = "old-s3cret-value", "new-s3cret-value"
	w := newWorld(t)
	stack := `
variable "db_password" {
  type      = string
  sensitive = true
  default   = "%s"
}
resource "local_file" "db" {
  filename = "${var.reality}/db.conf"
  content  = "password=${var.db_password}\n"
}
output "password" {
  value     = var.db_password
  sensitive = true
}
`
	w.stack("db", map[string]string{"main.tf": strings.Replace(stack, "%s", oldSecret, 1)})
	w.apply("db")
	// The secret changes in Git and, separately, the file is edited in place.
	w.stack("db", map[string]string{"main.tf": strings.Replace(stack, "%s", newSecret, 1)})
	w.write(filepath.Join(w.reality, "db.conf"), "password=typed-by-hand\n")

	l := w.layer(Stack{Dir: "db"})
	res := w.check(l)["db"]
	if len(res.Findings) == 0 {
		t.Fatalf("no finding for a changed sensitive value: %+v", res)
	}
	if !slices.Contains(changes(res), "pending local_file.db") {
		t.Errorf("findings %v lack pending local_file.db", changes(res))
	}
	rep := drift.Report{Source: drift.SourceStatus{Synced: true}, Layers: []drift.LayerResult{{Layer: drift.LayerInfra, Targets: []drift.TargetResult{res}}}}
	rep.Normalize()
	out := renderAll(t, rep)
	for _, secret := range []string{oldSecret, newSecret, "typed-by-hand"} {
		if strings.Contains(out, secret) {
			t.Errorf("output contains the sensitive value %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "(sensitive value)") {
		t.Errorf("output does not say a sensitive value changed:\n%s", out)
	}
}

func TestInfraBrokenStackNextToHealthy(t *testing.T) {
	w := newWorld(t)
	w.stack("good", map[string]string{"main.tf": motdStack})
	w.apply("good")
	w.stack("broken", map[string]string{"main.tf": "resource \"local_file\" \"x\" {\n  filename = \"${var.reality}/x\"\n  content = \n}\n"})

	res := w.check(w.layer(Stack{Dir: "good"}, Stack{Dir: "broken"}))
	if res["good"].Status != drift.StatusInSync {
		t.Errorf("healthy stack: %s %q", res["good"].Status, res["good"].Error)
	}
	b := res["broken"]
	if b.Status != drift.StatusUnknown {
		t.Fatalf("broken stack: status %s, want unknown", b.Status)
	}
	for _, want := range []string{"stack broken:", "main.tf line 3"} {
		if !strings.Contains(b.Error, want) {
			t.Errorf("error %q lacks %q", b.Error, want)
		}
	}
}

func TestInfraMissingStackDir(t *testing.T) {
	w := newWorld(t)
	res := w.check(w.layer(Stack{Dir: "nope"}))["nope"]
	if res.Status != drift.StatusUnknown || res.Error != "stack nope: directory nope not found in the repo" {
		t.Errorf("status %s error %q", res.Status, res.Error)
	}
}

// gatedStack reads a FIFO during plan when var.gate is true, which blocks
// until something writes to it: a plan or apply that hangs on demand.
func gatedStack(fifo string) string {
	return motdStack + fmt.Sprintf(`
variable "gate" {
  type    = bool
  default = false
}
data "local_file" "gate" {
  count    = var.gate ? 1 : 0
  filename = %q
}
`, fifo)
}

func mkfifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gate")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInfraPlanDoesNotWaitForStateLock(t *testing.T) {
	binaries(t, testInfraPlanDoesNotWaitForStateLock)
}

func testInfraPlanDoesNotWaitForStateLock(t *testing.T, bin string) {
	w := newWorldWith(t, bin)
	fifo := mkfifo(t)
	w.stack("locked", map[string]string{"main.tf": gatedStack(fifo)})
	w.apply("locked")

	// An operator's apply takes the state lock and hangs in its plan phase.
	apply := w.command("locked", "apply", "-auto-approve", "-input=false", "-no-color", "-var", "gate=true")
	// Its own process group: killing terraform alone left the provider,
	// blocked on the FIFO, running long after the tests.
	apply.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-apply.Process.Pid, syscall.SIGKILL)
		_ = apply.Wait()
		if n := groupAlive(apply.Process.Pid); n > 0 {
			t.Errorf("%d process(es) of the blocking apply still running", n)
		}
	})
	lockInfo := filepath.Join(w.stateDir, ".locked.tfstate.lock.info")
	if !waitFor(t, 20*time.Second, func() bool { _, err := os.Stat(lockInfo); return err == nil }) {
		t.Fatalf("the blocking apply never took the state lock (%s)", lockInfo)
	}

	// The default check does not take the lock, so it neither fails nor waits.
	res := w.check(w.layer(Stack{Dir: "locked", Timeout: yamlconf.Duration(time.Minute)}))["locked"]
	if res.Status != drift.StatusInSync {
		t.Errorf("plan during a locked apply: status %s, error %q", res.Status, res.Error)
	}

	// With lock: true the check fails at once and says why, as documented.
	l := w.layer(Stack{Dir: "locked", Timeout: yamlconf.Duration(time.Minute)})
	l.cfg.Lock = true
	res = w.check(l)["locked"]
	if res.Status != drift.StatusUnknown || !strings.Contains(res.Error, "Error acquiring the state lock") {
		t.Errorf("lock: true: status %s error %q, want a lock error", res.Status, res.Error)
	}
}

func TestInfraTimeoutKillsTerraform(t *testing.T) {
	w := newWorld(t)
	fifo := mkfifo(t)
	w.stack("slow", map[string]string{"main.tf": gatedStack(fifo)})
	w.stack("fast", map[string]string{"main.tf": motdStack})
	w.apply("fast")
	l := w.layer(
		Stack{Dir: "slow", Timeout: yamlconf.Duration(3 * time.Second)},
		Stack{Dir: "fast"},
	)
	l.cfg.Stacks[0].VarFiles = []string{"gate.tfvars"}
	w.write(filepath.Join(w.repo, "slow", "gate.tfvars"), "gate = true\n")

	start := time.Now()
	res := w.check(l)
	if took := time.Since(start); took > 3*time.Second+interruptGrace+5*time.Second {
		t.Errorf("check took %s; the timeout did not stop terraform", took)
	}
	if s := res["slow"]; s.Status != drift.StatusUnknown || !strings.Contains(s.Error, "stack slow: timed out after 3s") {
		t.Errorf("slow stack: status %s error %q", s.Status, s.Error)
	}
	if f := res["fast"]; f.Status != drift.StatusDrifted && f.Status != drift.StatusInSync {
		t.Errorf("fast stack not checked: %s %q", f.Status, f.Error)
	}
	// No terraform or provider process started for the slow stack survives.
	waitFor(t, 5*time.Second, func() bool { return len(processesIn(t, filepath.Join(w.repo, "slow"))) == 0 })
	if left := processesIn(t, filepath.Join(w.repo, "slow")); len(left) > 0 {
		t.Errorf("stray processes after the timeout: %v", left)
	}
}

// processesIn lists processes whose working directory is dir.
func processesIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || cwd != dir {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, e.Name()+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
	}
	return out
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// TestInfraInitSkippedUntilNeeded: init runs once, is skipped while the
// stack's files are unchanged, and runs again when plan needs it because a
// local module outside the stack changed.
func TestInfraInitSkippedUntilNeeded(t *testing.T) {
	w := newWorld(t)
	mod := filepath.Join(w.repo, "modules", "motd")
	if err := os.MkdirAll(filepath.Join(mod, "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.write(filepath.Join(mod, "main.tf"), "variable \"dir\" {}\nresource \"local_file\" \"m\" {\n  filename = \"${var.dir}/m\"\n  content  = \"m\"\n}\n")
	w.write(filepath.Join(mod, "inner", "main.tf"), "variable \"dir\" {}\nresource \"local_file\" \"i\" {\n  filename = \"${var.dir}/i\"\n  content  = \"i\"\n}\n")
	w.stack("svc", map[string]string{"main.tf": "module \"motd\" {\n  source = \"../modules/motd\"\n  dir    = var.reality\n}\n"})
	w.apply("svc")
	l := w.layer(Stack{Dir: "svc"})
	if r := w.check(l)["svc"]; r.Status != drift.StatusInSync {
		t.Fatalf("first check: %s %q %v", r.Status, r.Error, changes(r))
	}
	marker := filepath.Join(l.stackDataDir(l.cfg.Stacks[0]), "driftd-init")
	before, err := os.Stat(marker)
	if err != nil {
		t.Fatalf("no init marker after the first check: %v", err)
	}
	if r := w.check(l)["svc"]; r.Status != drift.StatusInSync {
		t.Fatalf("second check: %s %q", r.Status, r.Error)
	}
	if after, _ := os.Stat(marker); !after.ModTime().Equal(before.ModTime()) {
		t.Error("init ran again although nothing changed")
	}

	// The module gains a nested module: plan needs init, driftd runs it.
	w.write(filepath.Join(mod, "main.tf"), "variable \"dir\" {}\nresource \"local_file\" \"m\" {\n  filename = \"${var.dir}/m\"\n  content  = \"m\"\n}\nmodule \"inner\" {\n  source = \"./inner\"\n  dir    = var.dir\n}\n")
	r := w.check(l)["svc"]
	if diff := cmp.Diff([]string{"pending module.motd.module.inner.local_file.i"}, changes(r)); diff != "" {
		t.Errorf("after a module change (-want +got):\n%s\nerror: %s", diff, r.Error)
	}
}

// groupAlive counts the live processes of process group pgid, after
// giving killed ones a moment to go.
func groupAlive(pgid int) int {
	n := 0
	for range 50 {
		n = 0
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, p := range stats {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			_, rest, ok := strings.Cut(string(b), ") ")
			f := strings.Fields(rest)
			// state ppid pgrp: a zombie (Z) is gone for our purpose.
			if ok && len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
				n++
			}
		}
		if n == 0 {
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	return n
}
