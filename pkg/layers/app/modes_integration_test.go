//go:build integration

package app

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/ignore"
)

// TestAppCompareModes checks how auto mode chooses per kind, and that the
// report says which comparison each target used.
func TestAppCompareModes(t *testing.T) {
	k := testenv.KubeForTest(t)
	c := newCluster(t, k)
	c.kubectl("set", "image", "-n", c.ns, "deployment/web", "web=nginx:1.28")
	c.kubectl("label", "-n", c.ns, "configmap/settings", "owner=bob")

	compared := func(res map[string]drift.TargetResult) map[string][]string {
		m, _ := res[c.ns].Details["compare"].(map[string][]string)
		return m
	}
	t.Run("auto as the deployed ServiceAccount compares read-only", func(t *testing.T) {
		res, err := c.check(c.layer())
		if err != nil {
			t.Fatal(err)
		}
		// Services and RoleBindings have defaults, so they differ as
		// written and take the comparison too.
		want := map[string][]string{CompareReadOnly: {"configmaps", "deployments.apps", "rolebindings.rbac.authorization.k8s.io", "services"}}
		if d := cmp.Diff(want, compared(res)); d != "" {
			t.Errorf("compare (-want +got):\n%s", d)
		}
		if got := len(findings(res)); got != 2 {
			t.Errorf("%d findings, want 2: %v", got, findings(res))
		}
	})
	t.Run("auto as admin compares by dry run", func(t *testing.T) {
		deployed := c.cfg.Kubeconfig
		c.cfg.Kubeconfig = k.Kubeconfig
		defer func() { c.cfg.Kubeconfig = deployed }()
		res, err := c.check(c.layer())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{CompareDryRun: {"configmaps", "deployments.apps", "rolebindings.rbac.authorization.k8s.io", "services"}}
		if d := cmp.Diff(want, compared(res)); d != "" {
			t.Errorf("compare (-want +got):\n%s", d)
		}
	})
	t.Run("forced dry-run without the permission is a clear error", func(t *testing.T) {
		c.cfg.Compare = CompareDryRun
		defer func() { c.cfg.Compare = CompareAuto }()
		res, _ := c.check(c.layer())
		r := res[c.ns]
		if r.Status != drift.StatusUnknown || !strings.Contains(r.Error, `cannot update resource "deployments"`) {
			t.Errorf("%s %q", r.Status, r.Error)
		}
	})
}

// TestAppObjectsADryRunCannotReplace covers a Job (its selector and pod
// template labels are generated and immutable, so a dry-run replace of the
// Git object always fails) and an immutable ConfigMap recreated live with
// other data (a replace of an immutable object fails): each is in sync or
// a finding as the facts say, in both modes, and no error quotes the
// object.
func TestAppObjectsADryRunCannotReplace(t *testing.T) {
	k := testenv.KubeForTest(t, testenv.WithControllers())
	for _, mode := range []string{CompareReadOnly, CompareDryRun} {
		t.Run(mode, func(t *testing.T) {
			c := newCluster(t, k)
			if mode == CompareDryRun {
				c.cfg.Kubeconfig, c.cfg.Compare = k.Kubeconfig, CompareDryRun
			}
			objs := `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: NS
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox:1.37
          command: [sh, -c, "echo a-secret-looking-argument"]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: frozen
  namespace: NS
immutable: true
data:
  mode: production
`
			file := filepath.Join(c.repo, "apps", "job.yaml")
			if err := os.WriteFile(file, []byte(strings.ReplaceAll(objs, "NS", c.ns)), 0o644); err != nil {
				t.Fatal(err)
			}
			c.kubectl("apply", "--server-side", "-f", file)
			res, err := c.check(c.layer())
			if err != nil {
				t.Fatal(err)
			}
			if r := res[c.ns]; r.Status != drift.StatusInSync {
				t.Fatalf("%s %q %v\n%s", r.Status, r.Error, findings(res), diffs(r))
			}
			if m, _ := res[c.ns].Details["compare"].(map[string][]string); !slices.Contains(m[CompareReadOnly], "jobs.batch") {
				// In dry-run mode too: the Job's dry run is refused.
				t.Errorf("compare %v, want jobs.batch read-only", m)
			}
			c.kubectl("delete", "-n", c.ns, "configmap/frozen")
			recreated := filepath.Join(t.TempDir(), "frozen.yaml")
			if err := os.WriteFile(recreated, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: frozen\n  namespace: "+c.ns+"\nimmutable: true\ndata:\n  mode: debug\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			c.kubectl("create", "-f", recreated)
			res, err = c.check(c.layer())
			if err != nil {
				t.Fatal(err)
			}
			r := res[c.ns]
			if got := findings(res); r.Error != "" || !cmp.Equal(got, []string{"changed core/ConfigMap/" + c.ns + "/frozen"}) {
				t.Fatalf("findings %v, error %q", got, r.Error)
			}
			for _, line := range []string{"-  mode: production", "+  mode: debug", "# changed by kubectl-create at 20"} {
				if !strings.Contains(r.Findings[0].Diff, line) {
					t.Errorf("diff lacks %q:\n%s", line, r.Findings[0].Diff)
				}
			}
			if mode == CompareDryRun {
				note, _ := r.Findings[0].Details["compare_note"].(string)
				if !strings.Contains(note, "dry-run replace refused") || strings.Contains(note, "production") {
					t.Errorf("compare_note %q", note)
				}
			}
		})
	}
}

// TestAppWithControllers runs real controllers: Deployments get
// ReplicaSets, Pods, status and revision annotations, none of which is
// drift; a replica count that the HPA's manager writes through the scale
// subresource is, until a managers rule sets it aside, and that rule
// silences nothing else.
func TestAppWithControllers(t *testing.T) {
	k := testenv.KubeForTest(t, testenv.WithControllers())
	c := newCluster(t, k)
	c.cfg.Unmanaged = &Unmanaged{Namespaces: []string{c.ns}}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(c.kubectl("get", "-n", c.ns, "deployment/web", "-o", "yaml"), "deployment.kubernetes.io/revision") {
		if time.Now().After(deadline) {
			t.Fatal("the deployment controller never wrote the revision")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if rs := c.kubectl("get", "-n", c.ns, "replicasets", "-o", "name"); !strings.Contains(rs, "replicaset.apps/web-") {
		t.Fatalf("no ReplicaSet: %q", rs)
	}
	res, err := c.check(c.layer())
	if err != nil || len(findings(res)) != 0 || res[c.ns].Error != "" {
		t.Fatalf("with controllers: %v %v %q\n%s", findings(res), err, res[c.ns].Error, diffs(res[c.ns]))
	}

	c.kubectl("patch", "-n", c.ns, "deployment/web", "--subresource=scale", "--field-manager=kube-controller-manager",
		"--type=merge", "-p", `{"spec":{"replicas":7}}`)
	res, _ = c.check(c.layer())
	if got := findings(res); !cmp.Equal(got, []string{"changed apps/Deployment/" + c.ns + "/web"}) ||
		!strings.Contains(res[c.ns].Findings[0].Diff, "+  replicas: 7") {
		t.Fatalf("scaled by the HPA's manager: %v\n%s", got, diffs(res[c.ns]))
	}
	hpa := ignore.Rule{Layer: drift.LayerApp, Kind: "Deployment", Managers: []string{"kube-controller-manager"}}
	if res, _ := c.check(c.layer(hpa)); len(findings(res)) != 0 {
		t.Fatalf("the managers rule did not silence replicas: %v\n%s", findings(res), diffs(res[c.ns]))
	}
	c.kubectl("set", "image", "-n", c.ns, "deployment/web", "web=nginx:1.28")
	res, _ = c.check(c.layer(hpa))
	if got := findings(res); !cmp.Equal(got, []string{"changed apps/Deployment/" + c.ns + "/web"}) {
		t.Fatalf("findings %v", got)
	}
	if d := res[c.ns].Findings[0].Diff; strings.Contains(d, "replicas") || !strings.Contains(d, "+        image: nginx:1.28") {
		t.Errorf("the rule silenced more or less than replicas:\n%s", d)
	}
}

// TestAppGitOptOuts covers what Git itself says about comparing: the
// driftd.io/ignore annotation (whole object, or paths with *), and an
// object declared twice, which is an error naming both files and is not
// compared at all.
func TestAppGitOptOuts(t *testing.T) {
	k := testenv.KubeForTest(t)
	c := newCluster(t, k)
	c.kubectl("set", "image", "-n", c.ns, "deployment/web", "web=nginx:1.28")
	c.kubectl("label", "-n", c.ns, "configmap/settings", "owner=bob")
	c.kubectl("patch", "-n", c.ns, "secret/creds", "--type=merge", "-p", `{"stringData":{"password":"typed-by-hand"}}`)

	web := filepath.Join(c.repo, "apps", "web.yaml")
	b, err := os.ReadFile(web)
	if err != nil {
		t.Fatal(err)
	}
	// Paths, with a * segment: the image of any container.
	annotated := strings.Replace(string(b), "  labels: {app: web}\nspec:\n  replicas: 2",
		"  labels: {app: web}\n  annotations:\n    driftd.io/ignore: /spec/template/spec/containers/*/image\nspec:\n  replicas: 2", 1)
	if annotated == string(b) {
		t.Fatal("web.yaml has changed: update the test")
	}
	if err := os.WriteFile(web, []byte(annotated), 0o644); err != nil {
		t.Fatal(err)
	}
	// The whole ConfigMap.
	cfg := filepath.Join(c.repo, "apps", "config.yaml")
	b, _ = os.ReadFile(cfg)
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), "  name: settings\n", "  name: settings\n  annotations: {driftd.io/ignore: \"true\"}\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// A second copy of the Secret, with a guess at its live value.
	dup := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: " + c.ns + "\nstringData:\n  username: shop\n  password: typed-by-hand\n"
	if err := os.WriteFile(filepath.Join(c.repo, "apps", "guess.yaml"), []byte(dup), 0o644); err != nil {
		t.Fatal(err)
	}

	res, err := c.check(c.layer())
	if err != nil {
		t.Fatal(err)
	}
	r := res[c.ns]
	if got := findings(res); len(got) != 1 || got[0] != "changed core/ConfigMap/"+c.ns+"/settings" {
		t.Fatalf("findings %v, want only the annotated ConfigMap, marked ignored\n%s", got, diffs(r))
	}
	if by, _ := r.Findings[0].Details["ignored_by"].(string); !strings.Contains(by, "annotation driftd.io/ignore in apps/config.yaml") {
		t.Errorf("ignored_by %q", by)
	}
	for _, want := range []string{"core/Secret/" + c.ns + "/creds is declared twice", "apps/config.yaml (document 2)", "apps/guess.yaml (document 1)", "neither is compared"} {
		if !strings.Contains(r.Error, want) {
			t.Errorf("error lacks %q: %q", want, r.Error)
		}
	}
}
