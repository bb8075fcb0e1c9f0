//go:build integration

package infra

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// binaries runs f once per binary the infra layer supports: terraform
// (DRIFTD_TERRAFORM) and OpenTofu (DRIFTD_TOFU), each as a subtest.
func binaries(t *testing.T, f func(t *testing.T, bin string)) {
	for _, b := range []struct{ name, env string }{{"terraform", "DRIFTD_TERRAFORM"}, {"tofu", "DRIFTD_TOFU"}} {
		t.Run(b.name, func(t *testing.T) {
			bin := os.Getenv(b.env)
			if bin == "" {
				testenv.Unavailable(t, "%s is not set", b.env)
			}
			f(t, bin)
		})
	}
}

// TestInfraWorkspacesOnPgBackend: one stack directory with two workspaces
// in Terraform's pg backend (a real PostgreSQL), checked as two targets;
// drift in one workspace is reported on that target only.
func TestInfraWorkspacesOnPgBackend(t *testing.T) { binaries(t, testInfraWorkspacesOnPgBackend) }

func testInfraWorkspacesOnPgBackend(t *testing.T, bin string) {
	w := newWorldWith(t, bin)
	pg := testenv.PostgresForTest(t)
	workspaces(t, w, fmt.Sprintf("backend \"pg\" {\n    conn_str    = %q\n    schema_name = \"driftd_test\"\n  }", pg.ConnStr), "prod")
}

// workspaces writes the stack "net" with backend, one local_file per
// workspace, applies it in the workspaces staging and prod, checks both as
// two targets (in sync), edits the file of workspace edited by hand, and
// checks that only that workspace's target drifted.
func workspaces(t *testing.T, w *world, backend, edited string) {
	t.Helper()
	dir := filepath.Join(w.repo, "net")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w.write(filepath.Join(dir, "main.tf"), fmt.Sprintf(`terraform {
  %s
  required_providers {
    local = { source = "hashicorp/local" }
  }
}
resource "local_file" "motd" {
  filename = "%s/${terraform.workspace}-motd"
  content  = "hello ${terraform.workspace}\n"
}
`, backend, w.reality))
	w.terraform("net", "init", "-input=false", "-no-color")
	for _, ws := range []string{"staging", "prod"} {
		w.terraform("net", "workspace", "new", "-no-color", ws)
		w.terraform("net", "apply", "-auto-approve", "-input=false", "-no-color")
	}
	l := w.layer(Stack{Name: "net/staging", Dir: "net", Workspace: "staging"}, Stack{Name: "net/prod", Dir: "net", Workspace: "prod"})
	res := w.check(l)
	for _, name := range []string{"net/staging", "net/prod"} {
		if r := res[name]; r.Status != drift.StatusInSync {
			t.Fatalf("%s after apply: %s %q %v", name, r.Status, r.Error, changes(r))
		}
	}
	w.write(filepath.Join(w.reality, edited+"-motd"), "edited by hand\n")
	res = w.check(l)
	for _, ws := range []string{"staging", "prod"} {
		r := res["net/"+ws]
		switch {
		case ws == edited && (r.Status != drift.StatusDrifted || len(r.Findings) != 1 || r.Findings[0].Object != "local_file.motd"):
			t.Errorf("net/%s after a hand edit: %s %q %v, want local_file.motd drifted", ws, r.Status, r.Error, changes(r))
		case ws != edited && r.Status != drift.StatusInSync:
			t.Errorf("net/%s must not see net/%s's drift: %s %q %v", ws, edited, r.Status, r.Error, changes(r))
		}
	}
}

// TestInfraPgLockHeldByApply: an operator's apply holds the pg backend's
// state lock; a check neither waits for it nor breaks the apply, which then
// finishes; with lock: true the check says clearly that the state is locked.
func TestInfraPgLockHeldByApply(t *testing.T) { binaries(t, testInfraPgLockHeldByApply) }

func testInfraPgLockHeldByApply(t *testing.T, bin string) {
	w := newWorldWith(t, bin)
	pg := testenv.PostgresForTest(t)
	fifo := mkfifo(t)
	dir := filepath.Join(w.repo, "db")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w.write(filepath.Join(dir, "main.tf"), fmt.Sprintf(`terraform {
  backend "pg" {
    conn_str    = %q
    schema_name = "driftd_lock"
  }
  required_providers {
    local = { source = "hashicorp/local" }
  }
}
variable "gate" {
  type    = bool
  default = false
}
data "local_file" "gate" {
  count    = var.gate ? 1 : 0
  filename = %q
}
resource "local_file" "motd" {
  filename = "%s/motd"
  content  = "hello\n"
}
`, pg.ConnStr, fifo, w.reality))
	w.apply("db")

	apply := w.command("db", "apply", "-auto-approve", "-input=false", "-no-color", "-var", "gate=true")
	apply.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	apply.Stdout, apply.Stderr = &out, &out
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- apply.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-apply.Process.Pid, syscall.SIGKILL)
		<-done
	})
	locked := func() bool {
		b, err := exec.Command(filepath.Join(pg.Bin, "psql"), pg.ConnStr, "-Atc", "select count(*) from pg_locks where locktype = 'advisory'").Output()
		return err == nil && strings.TrimSpace(string(b)) != "0"
	}
	if !waitFor(t, 30*time.Second, locked) {
		t.Fatalf("the operator's apply never took the pg state lock\n%s", out.String())
	}

	res := w.check(w.layer(Stack{Dir: "db", Timeout: yamlconf.Duration(time.Minute)}))["db"]
	if res.Status != drift.StatusInSync {
		t.Errorf("check during a locked apply: %s %q", res.Status, res.Error)
	}
	l := w.layer(Stack{Dir: "db", Timeout: yamlconf.Duration(time.Minute)})
	l.cfg.Lock = true
	res = w.check(l)["db"]
	if res.Status != drift.StatusUnknown || !strings.Contains(res.Error, "Error acquiring the state lock") {
		t.Errorf("lock: true during a locked apply: %s %q, want a lock error", res.Status, res.Error)
	}

	// Let the apply go on: it finishes as if no check had run.
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("open\n")
	f.Close()
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("the operator's apply failed after the checks: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Errorf("the operator's apply did not finish\n%s", out.String())
	}
}

// TestInfraWorkspacesOnLocalBackend: the local backend keeps workspace
// states under workspace_dir; with it outside the repository (as state
// always should be), two workspaces are two targets here too.
func TestInfraWorkspacesOnLocalBackend(t *testing.T) { binaries(t, testInfraWorkspacesOnLocalBackend) }

func testInfraWorkspacesOnLocalBackend(t *testing.T, bin string) {
	w := newWorldWith(t, bin)
	workspaces(t, w, fmt.Sprintf("backend \"local\" {\n    path          = \"%s/default.tfstate\"\n    workspace_dir = \"%s/workspaces\"\n  }", w.stateDir, w.stateDir), "staging")
}
