package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs driftd with args and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "driftd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckHelpDocumentsExitCodes(t *testing.T) {
	code, out, _ := runCLI(t, "check", "--help")
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	for _, want := range []string{"0  everything is in sync", "2  drift was found", "1  something could not be checked", "-output", "-repo", "-no-color"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckNoLayer(t *testing.T) {
	cfg := writeConfig(t, "repo:\n  url: file:///nowhere.git\n")
	code, out, errOut := runCLI(t, "check", "--config", cfg)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
	want := "driftd check: no layer is enabled: configure at least one of layers.infra, layers.node or layers.app in the config\n"
	if errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
}

func TestCheckInvalidConfig(t *testing.T) {
	cfg := writeConfig(t, "repo:\n  url: file:///x.git\nschedule: every day\n")
	code, _, errOut := runCLI(t, "check", "-c", cfg)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if want := cfg + ":3: invalid schedule"; !strings.Contains(errOut, want) {
		t.Errorf("stderr = %q, want it to contain %q", errOut, want)
	}
}

func TestCheckRepoReadsConfigFromCheckout(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "driftd.yaml"), []byte("repo:\n  url: file:///x.git\n  bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "check", "--repo", dir)
	if code != 1 || !strings.Contains(errOut, filepath.Join(dir, "driftd.yaml")+`:3: unknown field "bogus" in repo`) {
		t.Errorf("exit %d, stderr %q: want the checkout's driftd.yaml to be loaded", code, errOut)
	}
}

func TestCheckBadFlags(t *testing.T) {
	cfg := writeConfig(t, "repo:\n  url: file:///x.git\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "-c", cfg, "-o", "yaml"}, `unknown format "yaml": use json, junit, markdown, sarif, text`},
		{[]string{"check", "-c", cfg, "-o", "json", "-o", "text"}, "standard output"},
		{[]string{"check", "-c", cfg, "--fail-on", "collision"}, "--fail-on=collision needs --base"},
		{[]string{"check", "-c", cfg, "--base", "main"}, "--base needs --repo"},
		{[]string{"check", "-c", cfg, "--layer", "dns"}, `unknown layer "dns"`},
		{[]string{"check", "-c", cfg, "--layer", "app"}, "--layer app: that layer is not enabled"},
		{[]string{"check", "-c", cfg, "extra"}, `unexpected argument "extra"`},
		{[]string{"check", "-c", filepath.Join(t.TempDir(), "none.yaml")}, "read config:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d stderr %q, want 1 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || out != "driftd dev\n" {
		t.Errorf("exit %d out %q", code, out)
	}
}

// With --repo nothing is cloned, so repo.url is not required; without it,
// it still is.
func TestCheckRepoNeedsNoURL(t *testing.T) {
	repo, host := t.TempDir(), t.TempDir()
	for p, c := range map[string]string{
		filepath.Join(repo, "nodes/inventory.yaml"):                           "nodes: [{name: n1, address: 127.0.0.1, roles: [base]}]\n",
		filepath.Join(repo, "nodes/roles/base/etc/systemd/system/a.d/x.conf"): "a\n",
		filepath.Join(host, "etc/systemd/system/a.d/x.conf"):                  "a\n",
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeConfig(t, "cache_dir: "+filepath.Join(t.TempDir(), "cache")+"\nlayers:\n  node:\n    transport: local\n    local_root: "+host+"\n    local_node: n1\n")
	if code, out, errOut := runCLI(t, "check", "-c", cfg, "--repo", repo); code != 0 {
		t.Errorf("--repo without repo.url: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "check", "-c", cfg); code != 1 || !strings.Contains(errOut, "repo.url: required") {
		t.Errorf("without --repo: exit %d, stderr %q; want repo.url required", code, errOut)
	}
}
