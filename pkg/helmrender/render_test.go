package helmrender

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/driftd/driftd/pkg/repofs"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// testCaps is what discovery of a 1.37 cluster gives, in part.
var testCaps = Capabilities{
	KubeVersion: "v1.37.1",
	APIVersions: []string{"v1", "apps/v1", "apps/v1/Deployment", "policy/v1", "policy/v1/PodDisruptionBudget"},
}

func openRepo(t testing.TB, dir string) *repofs.FS {
	t.Helper()
	rfs, err := repofs.Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rfs.Close() })
	return rfs
}

// summary lists a result's objects as "template: Kind name".
func summary(res Result) []string {
	var out []string
	for _, m := range res.Objects {
		out = append(out, fmt.Sprintf("%s: %s %s", m.Template, m.Object.GetKind(), m.Object.GetName()))
	}
	return out
}

// manifestYAML renders a result as helm template prints it.
func manifestYAML(t *testing.T, res Result) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, m := range res.Objects {
		y, err := sigsyaml.Marshal(m.Object.Object)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s", m.Template, y)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got, rerun with -update to accept):\n%s", p, diff)
	}
}

func TestRender(t *testing.T) {
	rfs := openRepo(t, "testdata/repo")
	tests := []struct {
		name    string
		req     Request
		want    []string
		golden  string
		applied []string
	}{
		{
			name: "defaults",
			req:  Request{Chart: "charts/web", ReleaseName: "shop", Namespace: "store"},
			want: []string{
				"web/charts/common/templates/serviceaccount.yaml: ServiceAccount shop-common",
				"web/templates/capabilities.yaml: ConfigMap shop-web-cluster",
				"web/templates/deployment.yaml: Deployment shop-web",
			},
			golden: "web-defaults.golden.yaml",
		},
		{
			name: "values file, inline values and parameters",
			req: Request{
				Chart: "charts/web", ReleaseName: "shop", Namespace: "store",
				ValuesFiles: []string{"charts/web/values-prod.yaml"},
				Values:      map[string]any{"greeting": "inline wins over files", "service": map[string]any{"port": 8080}},
				Parameters: []Parameter{
					{Name: "image.tag", Value: "1.28", String: true},
					{Name: "replicaCount", Value: "5"},
				},
			},
			want: []string{
				"web/charts/common/templates/serviceaccount.yaml: ServiceAccount shop-common",
				"web/templates/capabilities.yaml: ConfigMap shop-web-cluster",
				"web/charts/db/templates/pvc.yaml: PersistentVolumeClaim shop-db",
				"web/templates/service.yaml: Service shop-web",
				"web/templates/deployment.yaml: Deployment shop-web",
			},
			golden:  "web-prod.golden.yaml",
			applied: []string{"charts/web/values-prod.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Render(t.Context(), rfs, tt.req, testCaps, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summary(res)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			if res.Chart != "web" || res.Version != "1.2.3" || res.Hooks != 1 || res.Tests != 1 || res.CRDs != 1 {
				t.Errorf("chart %s %s, %d hooks, %d tests, %d CRDs; want web 1.2.3, 1 hook, 1 test, 1 CRD", res.Chart, res.Version, res.Hooks, res.Tests, res.CRDs)
			}
			if diff := cmp.Diff(tt.applied, res.ValuesFiles); diff != "" {
				t.Errorf("values files (-want +got):\n%s", diff)
			}
			if len(res.Volatile) > 0 {
				t.Errorf("volatile functions %v, want none", res.Volatile)
			}
			golden(t, tt.golden, manifestYAML(t, res))
		})
	}
}

func TestRenderCapabilities(t *testing.T) {
	rfs := openRepo(t, "testdata/repo")
	req := Request{Chart: "charts/web", ReleaseName: "shop"}
	data := func(caps Capabilities) map[string]any {
		t.Helper()
		res, err := Render(t.Context(), rfs, req, caps, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Objects {
			if m.Object.GetKind() == "ConfigMap" {
				return m.Object.Object["data"].(map[string]any)
			}
		}
		t.Fatal("no ConfigMap")
		return nil
	}
	got := data(testCaps)
	want := map[string]any{"kubeVersion": "v1.37.1", "minor": "37", "pdb": "policy/v1", "isInstall": "true", "revision": "1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("1.37 with policy/v1 (-want +got):\n%s", diff)
	}
	got = data(Capabilities{KubeVersion: "1.30.2-gke.1", APIVersions: []string{"v1", "apps/v1"}})
	want = map[string]any{"kubeVersion": "v1.30.2-gke.1", "minor": "30", "pdb": "none", "isInstall": "true", "revision": "1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("1.30 without policy/v1 (-want +got):\n%s", diff)
	}

	if _, err := Render(t.Context(), rfs, req, Capabilities{KubeVersion: "one point thirty"}, Options{}); err == nil || !strings.Contains(err.Error(), `kube version "one point thirty"`) && !strings.Contains(err.Error(), "kube version one point thirty") {
		t.Errorf("invalid kube version: error %v", err)
	}
	// The chart asks for kubeVersion >=1.28.
	_, err := Render(t.Context(), rfs, req, Capabilities{KubeVersion: "v1.27.3"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "incompatible with Kubernetes v1.27.3") {
		t.Errorf("old cluster: error %v", err)
	}
}

// TestReplaceDefaults: with ReplaceDefaults (Flux's valuesFiles), the
// values files replace values.yaml instead of layering over it.
func TestReplaceDefaults(t *testing.T) {
	rfs := openRepo(t, "testdata/repo")
	// values.yaml alone sets image and service; the templates need them.
	const noImage = "nil pointer evaluating interface {}."
	render := func(req Request) error {
		_, err := Render(t.Context(), rfs, req, testCaps, Options{})
		return err
	}
	req := Request{Chart: "charts/web", ReleaseName: "shop", ValuesFiles: []string{"charts/web/values-prod.yaml"}}
	if err := render(req); err != nil {
		t.Errorf("layered: %v", err)
	}
	req.ReplaceDefaults = true
	if err := render(req); err == nil || !strings.Contains(err.Error(), noImage) {
		t.Errorf("replacing: error %v, want values.yaml gone", err)
	}
	req.ValuesFiles = []string{"charts/web/values.yaml", "charts/web/values-prod.yaml"}
	if err := render(req); err != nil {
		t.Errorf("replacing, values.yaml listed: %v", err)
	}
	req.ValuesFiles, req.IgnoreMissingValuesFiles = []string{"charts/web/absent.yaml"}, true
	if err := render(req); err == nil || !strings.Contains(err.Error(), noImage) {
		t.Errorf("replacing with only a missing file: error %v, want values.yaml gone, as source-controller does", err)
	}
}

// TestRenderConcurrent: Render keeps no shared state (run with -race).
func TestRenderConcurrent(t *testing.T) {
	rfs := openRepo(t, "testdata/repo")
	want, err := Render(t.Context(), rfs, benchRequest, testCaps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := Render(t.Context(), rfs, benchRequest, testCaps, Options{})
			if err == nil && !cmp.Equal(summary(want), summary(got)) {
				err = fmt.Errorf("rendered %v, want %v", summary(got), summary(want))
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
