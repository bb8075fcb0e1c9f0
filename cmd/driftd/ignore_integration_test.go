//go:build integration

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/testenv"
)

// checkRun runs `driftd check` with args and returns its exit code and
// output.
func checkRun(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(driftdBinary(t), append([]string{"check", "--no-color"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String() + errb.String()
	}
	t.Fatal(err)
	return 0, ""
}

// ignoreCase checks one layer's ignore rules end to end: with a rule the
// matching findings are silenced and the check exits 0 (exactly those: the
// others still exit 2 when present); with the same rule expired they are
// drift again and the report says the rule expired; --show-ignored lists
// what was silenced.
func ignoreCase(t *testing.T, repo, layerYAML, rule, silenced string) {
	t.Helper()
	yesterday := time.Now().AddDate(0, 0, -1).Format(time.DateOnly)
	nextYear := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	write := func(expires string) string {
		p := filepath.Join(t.TempDir(), "driftd.yaml")
		cfg := fmt.Sprintf("repo: {url: file:///nonexistent}\ncache_dir: %s\n%s\nignore:\n  - {%s, reason: acknowledged, expires: %s}\n",
			filepath.Join(filepath.Dir(p), "cache"), layerYAML, rule, expires)
		if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	code, out := checkRun(t, "-c", write(nextYear), "--repo", repo)
	if code != 0 || strings.Contains(out, silenced) || !strings.Contains(out, "1 finding(s) ignored by rules") {
		t.Errorf("with the rule: exit %d, want 0 with %s silenced and counted:\n%s", code, silenced, out)
	}
	code, out = checkRun(t, "-c", write(nextYear), "--repo", repo, "--show-ignored")
	if code != 0 || !strings.Contains(out, silenced) || !strings.Contains(out, "ignored by ignore[0]: acknowledged") {
		t.Errorf("--show-ignored: exit %d, want %s listed with its rule:\n%s", code, silenced, out)
	}
	code, out = checkRun(t, "-c", write(yesterday), "--repo", repo)
	if code != 2 || !strings.Contains(out, silenced) || !strings.Contains(out, "ignore[0] expired on "+yesterday) {
		t.Errorf("expired rule: exit %d, want 2 with %s reported and the expiry noted:\n%s", code, silenced, out)
	}
}

func TestIgnoreInfra(t *testing.T) {
	g := newGitRepo(t) // one stack whose local_file.motd is not applied: pending
	layer := fmt.Sprintf("layers:\n  infra:\n    binary: %s\n    env: {TF_CLI_CONFIG_FILE: %s}\n    stacks: [{dir: stacks/files}]", g.terraform, g.config)
	ignoreCase(t, g.work, layer, "layer: infra, target: stacks/files, kind: local_file, name: motd", "local_file.motd")
	ignoreCase(t, g.work, layer, "layer: infra, object: \"local_file.*\"", "local_file.motd")
}

func TestIgnoreNode(t *testing.T) {
	repo, host := t.TempDir(), t.TempDir()
	files := map[string]string{
		filepath.Join(repo, "nodes/inventory.yaml"):                                                "nodes: [{name: n1, address: 127.0.0.1, roles: [base]}]\n",
		filepath.Join(repo, "nodes/roles/base/etc/systemd/system/kubelet.service.d/10-flags.conf"): "a\n",
		filepath.Join(host, "etc/systemd/system/kubelet.service.d/10-flags.conf"):                  "a\n",
		filepath.Join(host, "etc/systemd/system/kubelet.service.d/99-debug.conf"):                  "debug\n",
	}
	for p, c := range files {
		write(t, p, c)
	}
	layer := fmt.Sprintf("layers:\n  node:\n    transport: local\n    local_root: %s\n    local_node: n1", host)
	ignoreCase(t, repo, layer, "layer: node, target: n1, object: \"/etc/systemd/system/*.d/99-*.conf\"", "99-debug.conf")
}

func TestIgnoreApp(t *testing.T) {
	k := testenv.KubeForTest(t)
	kubectl := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(k.Kubectl, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	kubectl("", "create", "namespace", "ign")
	kubectl("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ign}\ndata: {mode: debug}\n", "apply", "--server-side", "-f", "-")
	repo := t.TempDir()
	write(t, filepath.Join(repo, "apps/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ign}\ndata: {mode: production}\n")
	// driftd runs as deploy/base's ServiceAccount, as deployed: the
	// shipped RBAC is enough to find drift.
	layer := fmt.Sprintf("layers:\n  app:\n    paths: [apps]\n    kubeconfig: %s", k.DeployedKubeconfig(t))
	ignoreCase(t, repo, layer, "layer: app, object: ConfigMap/settings", "core/ConfigMap/ign/settings")

	// A field set by kubectl patch is drift, unless a rule sets aside
	// what that field manager owns (as the real API server records it).
	kubectl("", "patch", "-n", "ign", "configmap", "settings", "--type=merge", "-p", `{"data":{"extra":"1"}}`)
	write(t, filepath.Join(repo, "apps/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ign}\ndata: {mode: debug}\n")
	cfg := filepath.Join(t.TempDir(), "driftd.yaml")
	base := fmt.Sprintf("repo: {url: file:///nonexistent}\ncache_dir: %s\n%s\n", filepath.Join(filepath.Dir(cfg), "cache"), layer)
	write(t, cfg, base)
	if code, out := checkRun(t, "-c", cfg, "--repo", repo); code != 2 || !strings.Contains(out, "+  extra:") || !strings.Contains(out, "# changed by kubectl-patch at 20") ||
		!strings.Contains(out, "# compared read-only, from managedFields") {
		t.Errorf("a field added by kubectl patch: exit %d, want 2 with the field and who changed it:\n%s", code, out)
	}
	write(t, cfg, base+"ignore:\n  - {layer: app, kind: ConfigMap, managers: [kubectl-patch], reason: hand fixes under review}\n")
	if code, out := checkRun(t, "-c", cfg, "--repo", repo); code != 0 {
		t.Errorf("with kubectl-patch's fields set aside: exit %d, want 0:\n%s", code, out)
	}
}
