package infra

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/drifttest"
	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// world is a config repo of Terraform stacks whose local_file resources
// write into a directory that plays the part of the cloud, with state kept
// outside the repo as a remote backend would.
type world struct {
	t         testing.TB
	bin       string
	repo      string
	reality   string
	stateDir  string
	cacheDir  string
	cliConfig string
}

// newWorld needs terraform and the offline provider mirror that
// testenv/install.sh builds; it skips (or, under make test, fails) without.
func newWorld(t testing.TB) *world {
	t.Helper()
	return newWorldWith(t, os.Getenv("DRIFTD_TERRAFORM"))
}

// newWorldWith is newWorld with the given terraform or tofu binary.
func newWorldWith(t testing.TB, bin string) *world {
	t.Helper()
	cli := os.Getenv("TF_CLI_CONFIG_FILE")
	if bin == "" || cli == "" {
		testenv.Unavailable(t, "the terraform binary and TF_CLI_CONFIG_FILE are not set")
	}
	if _, err := os.Stat(bin); err != nil {
		testenv.Unavailable(t, "%s: %v", bin, err)
	}
	dir := t.TempDir()
	w := &world{t: t, bin: bin, cliConfig: cli,
		repo: filepath.Join(dir, "repo"), reality: filepath.Join(dir, "reality"),
		stateDir: filepath.Join(dir, "state"), cacheDir: filepath.Join(dir, "cache")}
	for _, d := range []string{w.repo, w.reality, w.stateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// stack writes a stack directory with a local backend outside the repo.
func (w *world) stack(name string, files map[string]string) {
	w.t.Helper()
	dir := filepath.Join(w.repo, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.t.Fatal(err)
	}
	providers := `local = { source = "hashicorp/local" }`
	for _, body := range files {
		if strings.Contains(body, "cloudfile_") {
			// The test provider whose resources refresh in place.
			providers += "\n    cloudfile = { source = \"driftd/cloudfile\" }"
			break
		}
	}
	backend := fmt.Sprintf(`terraform {
  backend "local" {
    path = %q
  }
  required_providers {
    %s
  }
}
variable "reality" {
  type    = string
  default = %q
}
`, filepath.Join(w.stateDir, name+".tfstate"), providers, w.reality)
	files["backend.tf"] = backend
	for f, body := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
}

// terraform runs the real CLI in a stack, as an operator would.
func (w *world) terraform(stack string, args ...string) string {
	w.t.Helper()
	cmd := w.command(stack, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("terraform %s in %s: %v\n%s", strings.Join(args, " "), stack, err, out)
	}
	return string(out)
}

func (w *world) command(stack string, args ...string) *exec.Cmd {
	cmd := exec.Command(w.bin, args...)
	cmd.Dir = filepath.Join(w.repo, stack)
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+w.cliConfig, "TF_IN_AUTOMATION=1",
		"TF_DATA_DIR="+filepath.Join(w.stateDir, stack+".data"), "CHECKPOINT_DISABLE=1")
	return cmd
}

// apply makes reality match the stack.
func (w *world) apply(stack string) {
	w.t.Helper()
	w.terraform(stack, "init", "-input=false", "-no-color")
	w.terraform(stack, "apply", "-auto-approve", "-input=false", "-no-color")
}

func (w *world) layer(stacks ...Stack) *Layer {
	for i := range stacks {
		if stacks[i].Name == "" {
			stacks[i].Name = stacks[i].Dir
		}
		if stacks[i].Timeout == 0 {
			stacks[i].Timeout = yamlconf.Duration(2 * time.Minute)
		}
	}
	cfg := Config{
		Binary:      w.bin,
		Parallelism: 4,
		Env:         map[string]string{"TF_CLI_CONFIG_FILE": w.cliConfig},
		Stacks:      stacks,
	}
	return New(cfg, w.cacheDir, slog.New(slog.DiscardHandler))
}

func (w *world) check(l *Layer) map[string]drift.TargetResult {
	w.t.Helper()
	res, err := l.Check(w.t.Context(), drift.Snapshot{Dir: w.repo, Revision: "test"})
	if err != nil {
		w.t.Fatal(err)
	}
	return drifttest.ByName(res)
}

func (w *world) write(path, content string) {
	w.t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func changes(r drift.TargetResult) []string {
	return drifttest.Findings(map[string]drift.TargetResult{r.Name: r}, false)
}

const motdStack = `
variable "greeting" {
  type    = string
  default = "hello"
}
resource "local_file" "motd" {
  filename        = "${var.reality}/motd"
  content         = "${var.greeting}\n"
  file_permission = "0644"
}
resource "local_file" "hosts" {
  filename = "${var.reality}/hosts"
  content  = "127.0.0.1 localhost\n"
}
output "greeting" {
  value = var.greeting
}
`
