//go:build integration

package infra

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/drift"
)

// TestInfraCheckoutUntouched: a check writes nothing into the checkout,
// although terraform init writes a dependency lock file where it runs; a
// second check, with init skipped, still plans.
func TestInfraCheckoutUntouched(t *testing.T) {
	w := newWorld(t)
	w.stack("net", map[string]string{"main.tf": motdStack})
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = w.repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "stacks")
	l := w.layer(Stack{Dir: "net"})
	for i := range 2 {
		res := w.check(l)["net"]
		if res.Status != drift.StatusDrifted || len(res.Findings) == 0 {
			t.Fatalf("check %d: %s %q, want the unapplied stack pending", i+1, res.Status, res.Error)
		}
		if st := git("status", "--porcelain", "--ignored"); st != "" {
			t.Fatalf("check %d wrote into the checkout:\n%s", i+1, st)
		}
	}
}

// TestInfraStacksStayInRepo: stack dirs and var files that lead out of the
// repository, and files linked out of it, fail their stack with the path;
// nothing outside the repository is read.
func TestInfraStacksStayInRepo(t *testing.T) {
	w := newWorld(t)
	outside := filepath.Join(filepath.Dir(w.repo), "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	w.write(filepath.Join(outside, "secret.tfvars"), "greeting = \"TOP-SECRET\"\n")
	w.write(filepath.Join(outside, "main.tf"), motdStack)
	w.stack("ok", map[string]string{"main.tf": motdStack})
	w.stack("linkvar", map[string]string{"main.tf": motdStack})
	w.stack("linkfile", map[string]string{"main.tf": motdStack})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("../../outside/secret.tfvars", filepath.Join(w.repo, "linkvar", "prod.tfvars")))
	must(os.Symlink("../../outside/main.tf", filepath.Join(w.repo, "linkfile", "extra.tf")))
	must(os.Symlink("ok", filepath.Join(w.repo, "linkdir")))
	w.apply("ok")
	l := w.layer(
		Stack{Dir: "ok"},
		Stack{Dir: "../outside"},
		Stack{Name: "linkdir", Dir: "linkdir"},
		Stack{Dir: "linkvar", VarFiles: []string{"prod.tfvars"}},
		Stack{Name: "dotdotvar", Dir: "ok", VarFiles: []string{"../../outside/secret.tfvars"}},
		Stack{Dir: "linkfile"},
	)
	res := w.check(l)
	for name, want := range map[string]string{
		"../outside": "leads outside the repository",
		"linkdir":    "is a symbolic link to a directory",
		"linkvar":    "prod.tfvars: leads outside the repository",
		"dotdotvar":  "leads outside the repository",
		"linkfile":   "linkfile/extra.tf: leads outside the repository",
	} {
		r := res[name]
		if r.Status != drift.StatusUnknown || !strings.Contains(r.Error, want) {
			t.Errorf("%s: %s %q, want unknown: %s", name, r.Status, r.Error, want)
		}
		if strings.Contains(r.Error, "TOP-SECRET") || strings.Contains(fmt.Sprint(r.Findings), "TOP-SECRET") {
			t.Errorf("%s: read a file outside the repository", name)
		}
	}
	if r := res["ok"]; r.Status != drift.StatusInSync {
		t.Errorf("ok: %s %q, want in sync beside the refused stacks", r.Status, r.Error)
	}
}

// TestInfraConcurrentInitFreshCache runs checks of several stacks in
// parallel, each on a fresh plugin cache, 20 times: terraform's plugin
// cache is not safe for concurrent installs, and driftd serializes init.
func TestInfraConcurrentInitFreshCache(t *testing.T) {
	w := newWorld(t)
	var stacks []Stack
	for i := range 4 {
		name := fmt.Sprintf("s%d", i)
		w.stack(name, map[string]string{"main.tf": strings.ReplaceAll(motdStack, "${var.reality}/", "${var.reality}/"+name+"-")})
		stacks = append(stacks, Stack{Dir: name})
	}
	start := time.Now()
	for run := range 20 {
		w.cacheDir = filepath.Join(t.TempDir(), "cache") // a fresh plugin cache
		l := w.layer(stacks...)
		for name, r := range w.check(l) {
			if r.Status == drift.StatusUnknown {
				t.Fatalf("run %d, stack %s: %s", run+1, name, r.Error)
			}
		}
	}
	t.Logf("20 checks of 4 stacks on fresh plugin caches: %s", time.Since(start).Round(time.Second))
}
