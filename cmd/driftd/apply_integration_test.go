//go:build integration

package main

import (
	"bytes"
	"encoding/json"
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

// applyRun runs `driftd apply` with args and returns its exit code, the
// decoded JSON result (when -o json) and the output.
func applyRun(t *testing.T, args ...string) (int, applyJSON, string) {
	t.Helper()
	cmd := exec.Command(driftdBinary(t), append([]string{"apply"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	var r applyJSON
	_ = json.Unmarshal(out.Bytes(), &r)
	return code, r, out.String() + errb.String()
}

type applyJSON struct {
	Revision string `json:"revision"`
	DryRun   bool   `json:"dry_run"`
	Blocked  string `json:"blocked"`
	Actions  []struct {
		Layer, Target, Object, Action, Result, Reason string
	} `json:"actions"`
}

func (r applyJSON) results() map[string]string {
	out := map[string]string{}
	for _, a := range r.Actions {
		out[a.Object] = a.Action + " " + a.Result
	}
	return out
}

// appWorld is a namespace "shop" on a real API server, with the apply
// overlay's RBAC, three ConfigMaps applied from Git, and a config that lets
// apply change shop.
type appWorld struct {
	t    *testing.T
	k    *testenv.Kube
	repo string
	kc   string
}

func newAppWorld(t *testing.T) *appWorld {
	k := testenv.KubeForTest(t)
	w := &appWorld{t: t, k: k, repo: t.TempDir()}
	w.kubectl("", "create", "namespace", "shop")
	w.kubectl("", "create", "namespace", "payments")
	// As deployed: the ServiceAccount with deploy/overlays/apply's rights.
	w.kc = k.DeployedKubeconfig(t)
	k.ApplyDeployedRBAC(t, "overlays/apply")
	cms := ""
	for _, n := range []string{"a", "b", "c"} {
		cms += fmt.Sprintf("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: shop}\ndata: {v: git}\n", n)
	}
	write(t, filepath.Join(w.repo, "apps/cms.yaml"), cms)
	w.kubectl(cms, "apply", "--server-side", "-f", "-")
	return w
}

func (w *appWorld) kubectl(stdin string, args ...string) string {
	w.t.Helper()
	cmd := exec.Command(w.k.Kubectl, append([]string{"--kubeconfig", w.k.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// config writes a driftd.yaml with extra apply settings and its own cache
// (so the flap breaker starts empty).
func (w *appWorld) config(extra string) string {
	dir := w.t.TempDir()
	p := filepath.Join(dir, "driftd.yaml")
	write(w.t, p, fmt.Sprintf("cache_dir: %s\nlayers:\n  app:\n    paths: [apps]\n    kubeconfig: %s\napply:\n  enabled: true\n  targets: {app: [shop]}\n%s",
		filepath.Join(dir, "cache"), w.kc, extra))
	return p
}

func (w *appWorld) rvs() map[string]string {
	out := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		cmd := exec.Command(w.k.Kubectl, "--kubeconfig", w.k.Kubeconfig, "get", "configmap", "-n", "shop", n, "-o", "jsonpath={.metadata.resourceVersion}")
		b, err := cmd.Output()
		if err != nil {
			out[n] = "absent"
			continue
		}
		out[n] = string(b)
	}
	return out
}

func (w *appWorld) value(name string) string {
	return w.kubectl("", "get", "configmap", "-n", "shop", name, "-o", "jsonpath={.data.v}")
}

// TestApplyApp: drift brought back by `driftd apply`, as the apply
// overlay's ServiceAccount: --dry-run changes nothing, the real run touches
// exactly the drifted objects and the next check is in sync.
func TestApplyApp(t *testing.T) {
	w := newAppWorld(t)
	cfg := w.config("")
	w.kubectl("", "patch", "-n", "shop", "configmap", "a", "--type=merge", "-p", `{"data":{"v":"hand"}}`)
	w.kubectl("", "delete", "-n", "shop", "configmap", "b")
	before := w.rvs()

	code, r, out := applyRun(t, "-c", cfg, "--repo", w.repo, "--dry-run", "-o", "json")
	want := map[string]string{"core/ConfigMap/shop/a": "restore would_apply", "core/ConfigMap/shop/b": "create would_apply"}
	if code != 0 || fmt.Sprint(r.results()) != fmt.Sprint(want) {
		t.Fatalf("--dry-run: exit %d, %v, want %v\n%s", code, r.results(), want, out)
	}
	if after := w.rvs(); fmt.Sprint(after) != fmt.Sprint(before) || w.value("a") != "hand" {
		t.Fatalf("--dry-run changed something: resourceVersions %v, then %v", before, after)
	}
	if code, out := checkRun(t, "-c", cfg, "--repo", w.repo); code != 2 {
		t.Fatalf("after --dry-run the check must still find the drift: exit %d\n%s", code, out)
	}

	// Without --yes and without a terminal, nothing is applied.
	if code, _, out := applyRun(t, "-c", cfg, "--repo", w.repo); code != 1 || !strings.Contains(out, "pass --yes") {
		t.Fatalf("without --yes: exit %d\n%s", code, out)
	}
	code, r, out = applyRun(t, "-c", cfg, "--repo", w.repo, "--yes", "-o", "json")
	want = map[string]string{"core/ConfigMap/shop/a": "restore applied", "core/ConfigMap/shop/b": "create applied"}
	if code != 0 || fmt.Sprint(r.results()) != fmt.Sprint(want) {
		t.Fatalf("apply: exit %d, %v, want %v\n%s", code, r.results(), want, out)
	}
	after := w.rvs()
	if after["c"] != before["c"] || after["a"] == before["a"] || after["b"] == "absent" || w.value("a") != "git" {
		t.Errorf("apply touched %v (before %v): want a and b changed, c untouched", after, before)
	}
	if code, out := checkRun(t, "-c", cfg, "--repo", w.repo); code != 0 {
		t.Errorf("after apply the check must be in sync: exit %d\n%s", code, out)
	}
	if manager := w.kubectl("", "get", "configmap", "-n", "shop", "a", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}"); !strings.Contains(manager, "driftd") {
		t.Errorf("managers of a: %q, want driftd among them", manager)
	}

	// Apply mode must be asked for, and only allowed targets change.
	off := filepath.Join(t.TempDir(), "off.yaml")
	write(t, off, fmt.Sprintf("cache_dir: %s\nlayers:\n  app:\n    paths: [apps]\n    kubeconfig: %s\n", t.TempDir(), w.kc))
	if code, _, out := applyRun(t, "-c", off, "--repo", w.repo, "--yes"); code != 1 || !strings.Contains(out, "apply mode is off") {
		t.Errorf("apply without apply.enabled: exit %d\n%s", code, out)
	}
}

// TestApplyAppRails: a conflict with another field manager is reported and
// not forced; the change cap applies nothing; the flap breaker stops
// fighting a writer that keeps undoing the fix, and names it.
func TestApplyAppRails(t *testing.T) {
	w := newAppWorld(t)

	// An object Git does not declare, with pruning on and the default
	// deletion cap of 0: nothing is deleted.
	w.kubectl("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stray, namespace: shop}\ndata: {v: hand}\n", "apply", "-f", "-")
	prune := w.config("  prune: true\n")
	body, _ := os.ReadFile(prune)
	write(t, prune, strings.Replace(string(body), "    kubeconfig:", "    unmanaged: {namespaces: [shop]}\n    kubeconfig:", 1))
	code, r, out := applyRun(t, "-c", prune, "--repo", w.repo, "--yes", "-o", "json")
	if code != 1 || !strings.HasPrefix(r.Blocked, "max_deletions") {
		t.Fatalf("a deletion over max_deletions (0): exit %d, blocked %q\n%s", code, r.Blocked, out)
	}
	w.kubectl("", "get", "configmap", "-n", "shop", "stray")
	w.kubectl("", "delete", "configmap", "-n", "shop", "stray")

	w.kubectl("", "patch", "-n", "shop", "configmap", "a", "--type=merge", "--field-manager=some-operator", "-p", `{"data":{"v":"operator"}}`)
	code, r, out = applyRun(t, "-c", w.config(""), "--repo", w.repo, "--yes", "-o", "json")
	if code != 1 || len(r.Actions) != 1 || r.Actions[0].Result != "failed" || !strings.Contains(r.Actions[0].Reason, "some-operator") {
		t.Fatalf("conflict with some-operator: exit %d, %+v\n%s", code, r.Actions, out)
	}
	if v := w.value("a"); v != "operator" {
		t.Errorf("the conflict was forced: a = %q", v)
	}
	// Configured to win over it, Git does.
	force := w.config("")
	body, _ = os.ReadFile(force)
	write(t, force, strings.Replace(string(body), "    kubeconfig:", "    apply: {force_conflicts_with: [some-operator]}\n    kubeconfig:", 1))
	if code, _, out := applyRun(t, "-c", force, "--repo", w.repo, "--yes", "-o", "json"); code != 0 || w.value("a") != "git" {
		t.Fatalf("with force_conflicts_with: [some-operator]: exit %d, a = %q\n%s", code, w.value("a"), out)
	}

	// Two drifts, a cap of one: nothing is applied.
	w.kubectl("", "patch", "-n", "shop", "configmap", "b", "--type=merge", "-p", `{"data":{"v":"hand"}}`)
	w.kubectl("", "patch", "-n", "shop", "configmap", "c", "--type=merge", "-p", `{"data":{"v":"hand"}}`)
	before := w.rvs()
	code, r, out = applyRun(t, "-c", w.config("  max_changes: 1\n"), "--repo", w.repo, "--yes", "-o", "json")
	if code != 1 || !strings.HasPrefix(r.Blocked, "max_changes") || fmt.Sprint(w.rvs()) != fmt.Sprint(before) {
		t.Fatalf("over max_changes: exit %d, blocked %q, resourceVersions %v then %v\n%s", code, r.Blocked, before, w.rvs(), out)
	}

	// The flap breaker: a writer keeps setting b back by hand.
	flap := w.config("  flap_breaker: {count: 2, within: 1h}\n")
	for i := range 3 {
		code, r, out = applyRun(t, "-c", flap, "--repo", w.repo, "--yes", "-o", "json")
		if i < 2 && code != 0 {
			t.Fatalf("restore %d: exit %d\n%s", i+1, code, out)
		}
		w.kubectl("", "patch", "-n", "shop", "configmap", "b", "--type=merge", "-p", fmt.Sprintf(`{"data":{"v":"hand-%d"}}`, i))
	}
	code, r, out = applyRun(t, "-c", flap, "--repo", w.repo, "--yes", "-o", "json")
	var b string
	for _, a := range r.Actions {
		if a.Object == "core/ConfigMap/shop/b" {
			b = a.Result + ": " + a.Reason
		}
	}
	if code != 1 || !strings.HasPrefix(b, "blocked: flapping") || !strings.Contains(b, "kubectl-patch") {
		t.Errorf("after restoring b twice within the hour, it drifted again: exit %d, b %q; want blocked, naming kubectl-patch\n%s", code, b, out)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(flap), "cache", "apply-flap-breaker.json")); err != nil {
		t.Errorf("the flap breaker keeps no history: %v", err)
	}
}

// TestApplyInfra: `driftd apply` on a Terraform stack: a re-create needs
// approval, a stack with a change merged in Git and never applied is left
// alone (that belongs to the deployment path), and an approved restore
// brings the stack back in sync.
func TestApplyInfra(t *testing.T) {
	g := newGitRepo(t)
	g.apply()
	motd := filepath.Join(g.reality, "motd")
	write(t, motd, "edited by hand\n")
	config := func(allowReplace bool) string {
		p := filepath.Join(t.TempDir(), "driftd.yaml")
		write(t, p, fmt.Sprintf("cache_dir: %s\nlayers:\n  infra:\n    binary: %s\n    env: {TF_CLI_CONFIG_FILE: %s}\n    stacks: [{dir: stacks/files, allow_replace: %t}]\napply:\n  enabled: true\n  targets: {infra: [stacks/files]}\n",
			g.cache, g.terraform, g.config, allowReplace))
		return p
	}
	result := func(r applyJSON) string {
		if len(r.Actions) == 0 {
			return "none"
		}
		return r.Actions[0].Result + ": " + r.Actions[0].Reason
	}

	_, r, out := applyRun(t, "-c", config(false), "--repo", g.work, "--yes", "-o", "json")
	if got := result(r); !strings.HasPrefix(got, "skipped") || !strings.Contains(got, "allow_replace") || readString(t, motd) != "edited by hand\n" {
		t.Fatalf("a re-create without allow_replace: %q, want skipped asking for allow_replace, nothing changed\n%s", got, out)
	}

	// A change merged in Git and never applied: the whole stack is left alone.
	main := filepath.Join(g.work, "stacks/files/main.tf")
	orig := readString(t, main)
	write(t, main, orig+fmt.Sprintf("resource \"local_file\" \"extra\" {\n  filename = %q\n  content  = \"x\"\n}\n", filepath.Join(g.reality, "extra")))
	_, r, out = applyRun(t, "-c", config(true), "--repo", g.work, "--yes", "-o", "json")
	for _, a := range r.Actions {
		if a.Result != "skipped" || !strings.HasPrefix(a.Reason, "pending") {
			t.Errorf("with a pending change, %s: %s %q; want skipped as pending\n%s", a.Object, a.Result, a.Reason, out)
		}
	}
	if _, err := os.Stat(filepath.Join(g.reality, "extra")); err == nil || readString(t, motd) != "edited by hand\n" {
		t.Fatalf("apply shipped the pending change or touched the stack (extra: %v)", err)
	}

	write(t, main, orig)
	code, r, out := applyRun(t, "-c", config(true), "--repo", g.work, "--yes", "-o", "json")
	if got := result(r); code != 0 || !strings.HasPrefix(got, "applied") || readString(t, motd) != "welcome\n" {
		t.Fatalf("approved restore: exit %d, %q, motd %q\n%s", code, got, readString(t, motd), out)
	}
	if code, out := checkRun(t, "-c", config(true), "--repo", g.work); code != 0 {
		t.Errorf("after apply the check must be in sync: exit %d\n%s", code, out)
	}
}

// TestApplyInServe: with apply.in_serve, driftd serve brings drift back
// after a check, and shows it: /api/v1/apply, the status page and
// driftd_apply_total.
func TestApplyInServe(t *testing.T) {
	w := newAppWorld(t)
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = w.repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "apps")
	cfg := w.config("  in_serve: true\nrepo: {url: \"file://" + w.repo + "\", branch: main}\nschedule: \"@every 2s\"\n")
	w.kubectl("", "patch", "-n", "shop", "configmap", "a", "--type=merge", "-p", `{"data":{"v":"hand"}}`)

	p := startServe(t, cfg)
	series := `driftd_apply_total{layer="app",result="applied",target="shop"}`
	if !eventually(60*time.Second, func() bool { return p.metric(series) != "" }) {
		t.Fatalf("no %s after a minute", series)
	}
	if v := w.value("a"); v != "git" {
		t.Errorf("a = %q after serve applied, want git", v)
	}
	code, body := p.get("/api/v1/apply")
	if code != 200 || !strings.Contains(body, `"object": "core/ConfigMap/shop/a"`) || !strings.Contains(body, `"result": "applied"`) {
		t.Errorf("/api/v1/apply: %d\n%s", code, body)
	}
	if _, page := p.get("/"); !strings.Contains(page, `id="apply"`) {
		t.Errorf("the status page has no apply section")
	}
	// The check after the apply is in sync.
	if !eventually(30*time.Second, func() bool { _, r := p.get("/api/v1/report"); return strings.Contains(r, `"status": "in_sync"`) }) {
		_, r := p.get("/api/v1/report")
		t.Errorf("the report after apply is not in sync:\n%.2000s", r)
	}
}

// TestApplyAppLeavesPendingAlone: Git changed and nobody applied it yet
// (live is what `kubectl apply` last applied, and nobody else wrote it):
// that is the deployment path's to ship, so the check says pending and
// apply leaves the object alone.
func TestApplyAppLeavesPendingAlone(t *testing.T) {
	w := newAppWorld(t)
	w.kubectl("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p, namespace: payments}\ndata: {v: one}\n", "apply", "-f", "-")
	write(t, filepath.Join(w.repo, "apps/p.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p, namespace: payments}\ndata: {v: two}\n")
	cfg := w.config("")
	body, _ := os.ReadFile(cfg)
	write(t, cfg, strings.Replace(string(body), "targets: {app: [shop]}", "targets: {app: [shop, payments]}", 1))
	if code, out := checkRun(t, "-c", cfg, "--repo", w.repo); code != 2 || !strings.Contains(out, "core/ConfigMap/payments/p (pending)") {
		t.Fatalf("a Git change not applied yet: exit %d, want it reported pending\n%s", code, out)
	}
	code, r, out := applyRun(t, "-c", cfg, "--repo", w.repo, "--yes", "-o", "json")
	got := r.results()["core/ConfigMap/payments/p"]
	if code != 0 || got != "restore skipped" {
		t.Errorf("apply of a pending change: exit %d, %q, want it skipped\n%s", code, got, out)
	}
	if v := w.kubectl("", "get", "configmap", "-n", "payments", "p", "-o", "jsonpath={.data.v}"); v != "one" {
		t.Errorf("apply shipped the pending change: v = %q", v)
	}
	// A hand edit on top is drift again.
	w.kubectl("", "patch", "-n", "payments", "configmap", "p", "--type=merge", "-p", `{"data":{"v":"hand"}}`)
	if code, out := checkRun(t, "-c", cfg, "--repo", w.repo); code != 2 || !strings.Contains(out, "core/ConfigMap/payments/p (changed)") {
		t.Errorf("a hand edit over a pending change: exit %d, want changed\n%s", code, out)
	}
}
