//go:build integration

package app

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/internal/drifttest"
	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/ignore"
	"github.com/driftd/driftd/pkg/report"
	"github.com/driftd/driftd/pkg/yamlconf"
)

var nsCounter atomic.Int32

// cluster is a real kube-apiserver with the corpus applied, from Git, in a
// fresh namespace (there is no controller-manager: namespaces never go).
type cluster struct {
	t    *testing.T
	kube *testenv.Kube
	repo string
	ns   string
	cfg  Config
}

func newCluster(t *testing.T, k *testenv.Kube) *cluster {
	t.Helper()
	ns := fmt.Sprintf("shop%d", nsCounter.Add(1))
	repo := t.TempDir()
	dir := filepath.Join(repo, "apps")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/corpus/*.yaml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("NS"), []byte(ns))
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// driftd checks as deployed: with the ServiceAccount and RBAC of
	// deploy/base, which may read and never write.
	c := &cluster{t: t, kube: k, repo: repo, ns: ns, cfg: Config{
		Paths: []string{"apps"}, Kubeconfig: k.DeployedKubeconfig(t), DefaultNamespace: "default",
		QPS: 500, Burst: 1000, Parallelism: 8, Timeout: yamlconf.Duration(30 * time.Second),
	}}
	c.cfg.Defaults()
	// Applied the way GitOps tools and people do: server-side apply.
	c.kubectl("apply", "--server-side", "-f", filepath.Join(dir, "namespace.yaml"))
	c.kubectl("apply", "--server-side", "-f", dir)
	return c
}

func (c *cluster) kubectl(args ...string) string {
	c.t.Helper()
	out, err := exec.Command(c.kube.Kubectl, append([]string{"--kubeconfig", c.kube.Kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (c *cluster) layer(ignore ...ignore.Rule) *Layer {
	c.t.Helper()
	l, err := New(c.cfg, ignore, slog.New(slog.DiscardHandler))
	if err != nil {
		c.t.Fatal(err)
	}
	return l
}

func (c *cluster) check(l *Layer) (map[string]drift.TargetResult, error) {
	c.t.Helper()
	res, err := l.Check(c.t.Context(), drift.Snapshot{Dir: c.repo})
	return drifttest.ByName(res), err
}

func findings(res map[string]drift.TargetResult) []string { return drifttest.Findings(res, false) }

// TestAppCorpus runs the corpus twice: as the deployed ServiceAccount,
// which may not update and so compares read-only from managedFields, and
// as an admin forced to dry-run replace. Both must give the same findings,
// and every live edit must name its manager and time.
func TestAppCorpus(t *testing.T) {
	k := testenv.KubeForTest(t)
	for _, mode := range []string{CompareReadOnly, CompareDryRun} {
		t.Run(mode, func(t *testing.T) { testCorpus(t, k, mode) })
	}
}

func testCorpus(t *testing.T, k *testenv.Kube, mode string) {
	newCluster := func(t *testing.T, k *testenv.Kube) *cluster {
		c := newCluster(t, k)
		if mode == CompareDryRun {
			c.cfg.Kubeconfig, c.cfg.Compare = k.Kubeconfig, CompareDryRun
		}
		return c
	}
	t.Run("in sync", func(t *testing.T) {
		c := newCluster(t, k)
		res, err := c.check(c.layer())
		if err != nil {
			t.Fatal(err)
		}
		for name, r := range res {
			if r.Status != drift.StatusInSync {
				t.Errorf("%s: %s %q %v\n%s", name, r.Status, r.Error, findings(res), diffs(r))
			}
		}
		if len(res[c.ns].Findings) != 0 || len(res) != 2 {
			t.Errorf("targets %v", res)
		}
	})

	for _, tc := range []struct {
		name    string
		mutate  func(c *cluster)
		want    string   // the one finding
		inDiff  []string // lines the diff must hold
		manager string   // who made the edit ("" for a deletion)
	}{
		{"kubectl scale", func(c *cluster) { c.kubectl("scale", "-n", c.ns, "deployment/web", "--replicas=5") },
			"changed apps/Deployment/NS/web", []string{"-  replicas: 2", "+  replicas: 5"}, "kubectl"},
		{"kubectl set image", func(c *cluster) { c.kubectl("set", "image", "-n", c.ns, "deployment/web", "web=nginx:1.28") },
			"changed apps/Deployment/NS/web", []string{"-        image: nginx:1.27", "+        image: nginx:1.28"}, "kubectl-set"},
		{"label added live", func(c *cluster) { c.kubectl("label", "-n", c.ns, "configmap/settings", "owner=bob") },
			"changed core/ConfigMap/NS/settings", []string{"+    owner: bob"}, "kubectl-label"},
		{"hostNetwork added live", func(c *cluster) {
			c.kubectl("patch", "-n", c.ns, "deployment/web", "-p", `{"spec":{"template":{"spec":{"hostNetwork":true}}}}`)
		}, "changed apps/Deployment/NS/web", []string{"+      hostNetwork: true"}, "kubectl-patch"},
		{"env var added live", func(c *cluster) { c.kubectl("set", "env", "-n", c.ns, "deployment/web", "DEBUG=1") },
			"changed apps/Deployment/NS/web", []string{"+        - name: DEBUG", "+          value: \"1\""}, "kubectl-set"},
		{"ConfigMap key changed", func(c *cluster) {
			c.kubectl("patch", "-n", c.ns, "configmap/settings", "--type=merge", "-p", `{"data":{"mode":"debug"}}`)
		}, "changed core/ConfigMap/NS/settings", []string{"-  mode: production", "+  mode: debug"}, "kubectl-patch"},
		{"Secret value changed", func(c *cluster) {
			c.kubectl("patch", "-n", c.ns, "secret/creds", "--type=merge", "-p", `{"stringData":{"password":"hunter2-typed-by-hand"}}`)
		}, "changed core/Secret/NS/creds", []string{"-  password: (redacted, hmac ", "+  password: (redacted, hmac "}, "kubectl-patch"},
		{"object deleted", func(c *cluster) { c.kubectl("delete", "-n", c.ns, "serviceaccount/web") },
			"missing core/ServiceAccount/NS/web", []string{"+++ /dev/null", "-  name: web"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, k)
			tc.mutate(c)
			res, err := c.check(c.layer())
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(tc.want, "NS", c.ns)
			if diff := cmp.Diff([]string{want}, findings(res)); diff != "" {
				t.Fatalf("findings (-want +got):\n%s\n%s", diff, diffs(res[c.ns]))
			}
			f := res[c.ns].Findings[0]
			d := f.Diff
			for _, line := range tc.inDiff {
				if !strings.Contains(d, line) {
					t.Errorf("diff lacks %q:\n%s", line, d)
				}
			}
			if tc.manager != "" {
				by, _ := f.Details["changed_by"].([]changer)
				// The API server records no time for a write through
				// the scale subresource (kubectl scale).
				scale := tc.name == "kubectl scale"
				if len(by) == 0 || by[0].Manager != tc.manager || (by[0].Time == "") != scale {
					t.Errorf("changed_by %v, want %s first, with a time", f.Details["changed_by"], tc.manager)
				}
				head := "# changed by " + tc.manager + " at 20"
				if scale {
					head = "# changed by kubectl through the scale subresource\n"
				}
				if !strings.Contains(d, head) {
					t.Errorf("diff does not name %s:\n%s", tc.manager, d)
				}
				if got := f.Details["compare"]; got != mode {
					t.Errorf("compared %v, want %s", got, mode)
				}
			}
			out := render(t, res)
			for _, secret := range []string{"s3cr3t-Password-Value", "hunter2-typed-by-hand", "czNjcjN0"} {
				if strings.Contains(out, secret) {
					t.Errorf("a Secret value leaked into the output:\n%s", out)
				}
			}
		})
	}

	t.Run("HPA owns replicas", func(t *testing.T) {
		c := newCluster(t, k)
		c.kubectl("scale", "-n", c.ns, "deployment/web", "--replicas=7")
		l := c.layer(ignore.Rule{Layer: drift.LayerApp, Kind: "Deployment", Name: "web", Paths: []string{"/spec/replicas"}})
		res, err := c.check(l)
		if err != nil || len(findings(res)) != 0 {
			t.Fatalf("replicas not ignored: %v %v\n%s", findings(res), err, diffs(res[c.ns]))
		}
		// Only the replicas: an image change is still drift.
		c.kubectl("set", "image", "-n", c.ns, "deployment/web", "web=nginx:1.28")
		res, _ = c.check(l)
		if got := findings(res); !cmp.Equal(got, []string{"changed apps/Deployment/" + c.ns + "/web"}) {
			t.Fatalf("findings %v", got)
		}
		if d := res[c.ns].Findings[0].Diff; strings.Contains(d, "replicas") || !strings.Contains(d, "nginx:1.28") {
			t.Errorf("diff:\n%s", d)
		}
	})

	t.Run("unmanaged", func(t *testing.T) {
		c := newCluster(t, k)
		c.kubectl("create", "configmap", "-n", c.ns, "handmade", "--from-literal=a=b")
		c.cfg.Unmanaged = &Unmanaged{Namespaces: []string{c.ns}}
		res, err := c.check(c.layer())
		if err != nil {
			t.Fatal(err)
		}
		if got := findings(res); !cmp.Equal(got, []string{"unmanaged core/ConfigMap/" + c.ns + "/handmade"}) {
			t.Errorf("findings %v", got)
		}
		// Off by default.
		c.cfg.Unmanaged = nil
		if res, _ := c.check(c.layer()); len(findings(res)) != 0 {
			t.Errorf("unmanaged objects reported without the option: %v", findings(res))
		}
	})

	t.Run("broken document and unknown kind", func(t *testing.T) {
		c := newCluster(t, k)
		bad := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok-one\n  namespace: " + c.ns + "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: [not, a, map\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: " + c.ns + "\n"
		if err := os.WriteFile(filepath.Join(c.repo, "apps", "extra.yaml"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := c.check(c.layer())
		if err == nil || !strings.Contains(err.Error(), "apps/extra.yaml: document 2:") {
			t.Errorf("layer error %v, want one naming apps/extra.yaml document 2", err)
		}
		r := res[c.ns]
		if r.Status != drift.StatusUnknown || !strings.Contains(r.Error, "example.com/v1, Kind=Widget is not served by the cluster") {
			t.Errorf("target: %s %q", r.Status, r.Error)
		}
		// The rest is still checked: the valid new ConfigMap is missing.
		if got := findings(res); !cmp.Equal(got, []string{"missing core/ConfigMap/" + c.ns + "/ok-one"}) {
			t.Errorf("findings %v", got)
		}
	})
}

// TestAppAPIServerGoesAway stops the API server and checks again: every
// target is unknown with a clear error, and nothing panics.
func TestAppAPIServerGoesAway(t *testing.T) {
	k := testenv.KubeForTest(t)
	c := newCluster(t, k)
	c.cfg.Timeout = yamlconf.Duration(30 * time.Second)
	l := c.layer()
	if res, _ := c.check(l); res[c.ns].Status != drift.StatusInSync {
		t.Fatal("not in sync before the outage")
	}
	if err := k.Stop(); err != nil {
		t.Fatal(err)
	}
	res, _ := c.check(l)
	for name, r := range res {
		if r.Status != drift.StatusUnknown || !strings.Contains(r.Error, "connection refused") {
			t.Errorf("%s: %s %q", name, r.Status, r.Error)
		}
	}
	rep := drift.Report{Source: drift.SourceStatus{Synced: true}, Layers: []drift.LayerResult{{Layer: drift.LayerApp, Targets: slices.Collect(func(yield func(drift.TargetResult) bool) {
		for _, r := range res {
			if !yield(r) {
				return
			}
		}
	})}}}
	rep.Normalize()
	if rep.Status.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1", rep.Status.ExitCode())
	}
}

func diffs(r drift.TargetResult) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(f.Object + ":\n" + f.Diff)
	}
	return b.String()
}

func render(t *testing.T, res map[string]drift.TargetResult) string {
	rep := drift.Report{Source: drift.SourceStatus{Synced: true}}
	l := drift.LayerResult{Layer: drift.LayerApp}
	for _, r := range res {
		l.Targets = append(l.Targets, r)
	}
	rep.Layers = []drift.LayerResult{l}
	rep.Normalize()
	var b bytes.Buffer
	if err := report.WriteText(&b, rep, report.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestAppFindsWhatKubectlDiffMisses reproduces the measurement in DESIGN.md:
// after `kubectl patch` adds hostNetwork and `kubectl set env` adds a
// variable, kubectl diff and kubectl diff --server-side report nothing,
// while driftd reports both edits.
func TestAppFindsWhatKubectlDiffMisses(t *testing.T) {
	k := testenv.KubeForTest(t)
	c := newCluster(t, k)
	c.kubectl("patch", "-n", c.ns, "deployment/web", "-p", `{"spec":{"template":{"spec":{"hostNetwork":true}}}}`)
	c.kubectl("set", "env", "-n", c.ns, "deployment/web", "INJECTED=yes")

	web := filepath.Join(c.repo, "apps", "web.yaml")
	for _, args := range [][]string{{"diff", "-f", web}, {"diff", "--server-side", "-f", web}} {
		cmd := exec.Command(c.kube.Kubectl, append([]string{"--kubeconfig", c.kube.Kubeconfig}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "hostNetwork") {
			t.Logf("kubectl %s now reports the edit (exit %v):\n%s", strings.Join(args, " "), err, out)
		}
	}

	res, err := c.check(c.layer())
	if err != nil {
		t.Fatal(err)
	}
	if got := findings(res); !cmp.Equal(got, []string{"changed apps/Deployment/" + c.ns + "/web"}) {
		t.Fatalf("findings %v", got)
	}
	d := res[c.ns].Findings[0].Diff
	for _, want := range []string{"+      hostNetwork: true", "+        - name: INJECTED"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
}

// TestAppKustomizeAndDefaultNamespace renders a kustomization in process and
// gives namespaced objects without a namespace the configured default.
func TestAppKustomizeAndDefaultNamespace(t *testing.T) {
	k := testenv.KubeForTest(t)
	c := newCluster(t, k)
	base := filepath.Join(c.repo, "kust")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"kustomization.yaml": "namespace: " + c.ns + "\nnamePrefix: k-\nresources: [cm.yaml]\nlabels: [{pairs: {via: kustomize}}]\n",
		"cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  a: \"1\"\n",
	} {
		if err := os.WriteFile(filepath.Join(base, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plain := filepath.Join(c.repo, "plain")
	if err := os.MkdirAll(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plain, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: no-namespace\ndata:\n  b: \"2\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.cfg.Paths = []string{"kust", "plain"}
	c.cfg.DefaultNamespace = c.ns
	res, err := c.check(c.layer())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"missing core/ConfigMap/" + c.ns + "/k-conf", "missing core/ConfigMap/" + c.ns + "/no-namespace"}
	if got := findings(res); !cmp.Equal(got, want) {
		t.Fatalf("findings %v, want %v", got, want)
	}
	c.kubectl("apply", "--server-side", "-k", base)
	c.kubectl("apply", "--server-side", "-n", c.ns, "-f", plain)
	if res, _ := c.check(c.layer()); len(findings(res)) != 0 {
		t.Errorf("after applying: %v\n%s", findings(res), diffs(res[c.ns]))
	}
}
