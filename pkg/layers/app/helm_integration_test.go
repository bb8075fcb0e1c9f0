//go:build integration

package app

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/helmrender"
)

// thisRepo is how the repository's HelmReleases and Applications name it.
// It is only compared, never fetched.
const thisRepo = "http://127.0.0.1:9/platform/config.git"

var crdsOnce sync.Map

// installCRDs serves the Flux, Argo CD and Sealed Secrets kinds (as an
// admin, as their installers would).
func installCRDs(t *testing.T, c *cluster) {
	t.Helper()
	if _, done := crdsOnce.LoadOrStore(c.kube.Kubeconfig, true); done {
		return
	}
	c.kubectl("apply", "--server-side", "-f", "testdata/crds")
	c.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", "testdata/crds")
}

// copyTree copies testdata/helm/charts into the test's repository.
func copyChart(t *testing.T, repo string) {
	t.Helper()
	src := filepath.Join("testdata", "helm", "charts")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(repo, "charts", rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeRepoFile(t *testing.T, repo, name, body string) {
	t.Helper()
	p := filepath.Join(repo, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// helmInstall installs a release as helm install does, which asks the
// cluster for its version and APIs.
func helmInstall(t *testing.T, c *cluster, req helmrender.Request) {
	t.Helper()
	caps, err := c.layer().capabilities()
	if err != nil {
		t.Fatal(err)
	}
	c.kube.HelmInstall(t, c.repo, req, caps, helmrender.Options{})
}

// TestAppHelmChart: a chart directory with a helper template, a values
// file over the defaults, a conditional object, a hook and a test, declared
// three ways (driftd.yaml, a Flux HelmRelease, an Argo CD Application).
// Installed from the chart's own rendering, each is in sync as the deployed
// ServiceAccount sees it; `kubectl set image` on the rendered Deployment is
// exactly one finding, which names the chart, its template and values file.
func TestAppHelmChart(t *testing.T) {
	k := testenv.KubeForTest(t)
	for _, how := range []string{"driftd.yaml", "HelmRelease", "Application"} {
		t.Run(how, func(t *testing.T) {
			c := newCluster(t, k)
			installCRDs(t, c)
			copyChart(t, c.repo)
			c.cfg.Paths = nil
			c.cfg.Helm.RepoURLs = []string{thisRepo}
			switch how {
			case "driftd.yaml":
				c.cfg.Helm.Releases = []HelmRelease{{Name: "site", Namespace: c.ns, Chart: "charts/web", ValuesFiles: []string{"charts/web/values-prod.yaml"}}}
			case "HelmRelease":
				writeRepoFile(t, c.repo, "flux/site.yaml", fmt.Sprintf(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: site
  namespace: %s
spec:
  interval: 10m
  chart:
    spec:
      chart: ./charts/web
      sourceRef:
        kind: GitRepository
        name: flux-system
        namespace: flux-system
      valuesFiles:
        - ./charts/web/values.yaml
        - ./charts/web/values-prod.yaml
`, c.ns))
				c.cfg.Paths = []string{"flux"}
				c.kubectl("apply", "--server-side", "-f", filepath.Join(c.repo, "flux"))
			case "Application":
				writeRepoFile(t, c.repo, "argo/site.yaml", fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: site
  namespace: %s
spec:
  project: default
  source:
    repoURL: %s
    targetRevision: main
    path: charts/web
    helm:
      valueFiles:
        - values-prod.yaml
  destination:
    server: https://kubernetes.default.svc
    namespace: %s
`, c.ns, thisRepo, c.ns))
				c.cfg.Paths = []string{"argo"}
				c.kubectl("apply", "--server-side", "-f", filepath.Join(c.repo, "argo"))
			}
			helmInstall(t, c, helmrender.Request{Chart: "charts/web", ReleaseName: "site", Namespace: c.ns,
				ValuesFiles: []string{"charts/web/values-prod.yaml"}})

			res, err := c.check(c.layer())
			if err != nil {
				t.Fatal(err)
			}
			r := res[c.ns]
			if r.Status != drift.StatusInSync {
				t.Fatalf("installed release: %s %q %v\n%s", r.Status, r.Error, findings(res), diffs(r))
			}
			// The Service is there by values-prod.yaml, the -cluster
			// ConfigMap by the cluster's APIs.
			want := []string{"apps/Deployment/" + c.ns + "/site-web", "core/ConfigMap/" + c.ns + "/site-web",
				"core/Service/" + c.ns + "/site-web", "core/ConfigMap/" + c.ns + "/site-web-cluster"}
			for _, id := range want {
				if !slices.Contains(r.Managed, id) {
					t.Errorf("%s is not among the objects compared: %v", id, r.Managed)
				}
			}
			for _, id := range r.Managed {
				if strings.Contains(id, "migrate") || strings.Contains(id, "-test") {
					t.Errorf("a hook or test is compared: %s", id)
				}
			}

			if v := c.kubectl("get", "configmap", "-n", c.ns, "site-web-cluster", "-o", "jsonpath={.data.kubeVersion}"); !strings.HasPrefix(v, "v1.") {
				t.Errorf("rendered kube version %q", v)
			}

			c.kubectl("set", "image", "-n", c.ns, "deployment/site-web", "web=nginx:1.27")
			res, err = c.check(c.layer())
			if err != nil {
				t.Fatal(err)
			}
			r = res[c.ns]
			if got := findings(res); !slices.Equal(got, []string{"changed apps/Deployment/" + c.ns + "/site-web"}) {
				t.Fatalf("after kubectl set image: %v\n%s", got, diffs(r))
			}
			src, _ := r.Findings[0].Details["source"].(string)
			wantSrc := "charts/web/templates/deployment.yaml (chart web 0.1.0, release " + c.ns + "/site, values charts/web/values-prod.yaml"
			if how != "driftd.yaml" {
				// Flux lists the chart's own values.yaml; Argo CD
				// names the file relative to the chart.
				wantSrc = "charts/web/templates/deployment.yaml (chart web 0.1.0, release " + c.ns + "/site"
			}
			if !strings.HasPrefix(src, wantSrc) || !strings.Contains(src, "values-prod.yaml") {
				t.Errorf("source %q, want it to start %q and name the values file", src, wantSrc)
			}
			if d := r.Findings[0].Diff; !strings.Contains(d, "nginx:1.27") || !strings.HasPrefix(d, "# rendered from "+wantSrc) {
				t.Errorf("diff:\n%s", r.Findings[0].Diff)
			}
		})
	}
}
