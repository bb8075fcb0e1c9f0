//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/testenv"
)

// gitRepo is a real repository with a committed Terraform stack whose
// resources live in reality/.
type gitRepo struct {
	t                 *testing.T
	work, bare        string
	reality, state    string
	terraform, config string
	cache             string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	tf, cli := os.Getenv("DRIFTD_TERRAFORM"), os.Getenv("TF_CLI_CONFIG_FILE")
	if tf == "" || cli == "" {
		testenv.Unavailable(t, "DRIFTD_TERRAFORM and TF_CLI_CONFIG_FILE are not set")
	}
	dir := t.TempDir()
	g := &gitRepo{t: t, work: filepath.Join(dir, "work"), bare: filepath.Join(dir, "config.git"),
		reality: filepath.Join(dir, "reality"), state: filepath.Join(dir, "state"), terraform: tf, config: cli,
		cache: filepath.Join(dir, "cache")}
	for _, d := range []string{g.reality, g.state, filepath.Join(g.work, "stacks", "files")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	g.run("", "git", "init", "-q", "--bare", "-b", "main", g.bare)
	g.run(g.work, "git", "init", "-q", "-b", "main")
	g.run(g.work, "git", "remote", "add", "origin", g.bare)
	g.write("stacks/files/main.tf", fmt.Sprintf(`terraform {
  backend "local" { path = %q }
  required_providers {
    local = { source = "hashicorp/local" }
  }
}
resource "local_file" "motd" {
  filename = %q
  content  = "welcome\n"
}
`, filepath.Join(g.state, "files.tfstate"), filepath.Join(g.reality, "motd")))
	g.write("driftd.yaml", fmt.Sprintf(`repo:
  url: file://%s
cache_dir: %s
layers:
  infra:
    binary: %s
    env:
      TF_CLI_CONFIG_FILE: %s
    stacks:
      - dir: stacks/files
`, g.bare, filepath.Join(dir, "cache"), tf, cli))
	g.commit()
	return g
}

func (g *gitRepo) run(dir string, name string, args ...string) {
	g.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@e", "TF_CLI_CONFIG_FILE="+g.config, "TF_DATA_DIR="+filepath.Join(g.state, "data"))
	if out, err := cmd.CombinedOutput(); err != nil {
		g.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (g *gitRepo) write(name, body string) {
	g.t.Helper()
	if err := os.WriteFile(filepath.Join(g.work, name), []byte(body), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gitRepo) commit() {
	g.run(g.work, "git", "add", "-A")
	g.run(g.work, "git", "commit", "-q", "-m", "change")
	g.run(g.work, "git", "push", "-q", "-f", "origin", "main")
}

func (g *gitRepo) apply() {
	dir := filepath.Join(g.work, "stacks", "files")
	g.run(dir, g.terraform, "init", "-input=false", "-no-color")
	g.run(dir, g.terraform, "apply", "-auto-approve", "-input=false", "-no-color")
}

func TestCheckExitCodes(t *testing.T) {
	g := newGitRepo(t)
	g.apply()
	cfg := filepath.Join(g.work, "driftd.yaml")

	code, out, errOut := runCLI(t, "check", "-c", cfg)
	if code != 0 {
		t.Fatalf("in sync: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "infra  stacks/files  in_sync  0") {
		t.Errorf("text output lacks the in-sync target:\n%s", out)
	}

	// Reality drifts.
	if err := os.WriteFile(filepath.Join(g.reality, "motd"), []byte("edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, "check", "-c", cfg, "-o", "json")
	if code != 2 {
		t.Fatalf("drift: exit %d, want 2\n%s", code, out)
	}
	var rep struct {
		Revision string
		Status   string
		Layers   []struct {
			Layer   string
			Targets []struct {
				Name     string
				Status   string
				Findings []struct{ Object, Change string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if rep.Status != "drifted" || len(rep.Revision) != 40 || rep.Layers[0].Targets[0].Findings[0].Object != "local_file.motd" {
		t.Errorf("json report: %+v", rep)
	}

	// A second, broken stack makes the check incomplete: 1 wins over 2.
	if err := os.MkdirAll(filepath.Join(g.work, "stacks", "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	g.write("stacks/broken/main.tf", "resource \"local_file\" {\n")
	g.write("driftd.yaml", strings.Replace(readString(t, cfg), "      - dir: stacks/files\n", "      - dir: stacks/files\n      - dir: stacks/broken\n", 1))
	g.commit()
	code, out, _ = runCLI(t, "check", "-c", cfg, "--no-color")
	if code != 1 {
		t.Fatalf("broken stack plus drift: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"infra  stacks/broken  unknown", "main.tf line 1", "local_file.motd (drifted)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// --repo checks the local checkout as it is: here, with the broken
	// stack removed but not committed, the PR under test is clean again.
	if err := os.RemoveAll(filepath.Join(g.work, "stacks", "broken")); err != nil {
		t.Fatal(err)
	}
	g.write("driftd.yaml", strings.Replace(readString(t, cfg), "      - dir: stacks/broken\n", "", 1))
	if code, out, _ = runCLI(t, "check", "--repo", g.work); code != 2 {
		t.Errorf("--repo: exit %d, want 2 (drift only)\n%s", code, out)
	}
}

func TestCheckUnreachableRemoteUsesLastGood(t *testing.T) {
	g := newGitRepo(t)
	g.apply()
	cfg := filepath.Join(g.work, "driftd.yaml")
	if code, out, _ := runCLI(t, "check", "-c", cfg); code != 0 {
		t.Fatalf("first check: exit %d\n%s", code, out)
	}
	if err := os.Rename(g.bare, g.bare+".offline"); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "check", "-c", cfg)
	if code != 1 {
		t.Errorf("stale source: exit %d, want 1", code)
	}
	for _, want := range []string{"could not be synced; checked the last good revision", "infra  stacks/files  in_sync"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
