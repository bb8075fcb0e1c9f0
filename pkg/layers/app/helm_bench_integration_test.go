//go:build integration

package app

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/helmrender"
	"github.com/driftd/driftd/pkg/repofs"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// BenchmarkAppHelm50: 50 releases of the test chart (200 objects), in
// sync, checked as the deployed ServiceAccount with charts rendered as the
// daemon renders them (one driftd helm-template child per check). Side by
// side in one run: the same objects as plain, pre-rendered manifests, and
// the rendering alone. What charts add over plain manifests, divided by
// the rendering time, is reported as charts-overhead-vs-render: at or
// below 1, charts cost nothing but their rendering.
func BenchmarkAppHelm50(b *testing.B) {
	k := testenv.KubeForTest(b)
	bin := filepath.Join(b.TempDir(), "driftd")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/driftd").CombinedOutput(); err != nil {
		b.Fatalf("go build driftd: %v\n%s", err, out)
	}
	repo := b.TempDir()
	if err := os.CopyFS(filepath.Join(repo, "charts", "web"), os.DirFS("testdata/helm/charts/web")); err != nil {
		b.Fatal(err)
	}
	const ns = "helmbench"
	cfg := Config{Kubeconfig: k.DeployedKubeconfig(b), DefaultNamespace: ns, Timeout: yamlconf.Duration(5 * time.Minute)}
	var reqs []helmrender.Request
	for i := range 50 {
		name := fmt.Sprintf("site%02d", i)
		cfg.Helm.Releases = append(cfg.Helm.Releases, HelmRelease{Name: name, Namespace: ns, Chart: "charts/web", ValuesFiles: []string{"charts/web/values-prod.yaml"}})
		reqs = append(reqs, helmrender.Request{Chart: "charts/web", ReleaseName: name, Namespace: ns, ValuesFiles: []string{"charts/web/values-prod.yaml"}})
	}
	newLayer := func(c Config) *Layer {
		c.Defaults()
		l, err := New(c, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		l.SetHelmRenderer([]string{bin, helmrender.ChildCommand})
		return l
	}
	charts := newLayer(cfg)
	caps, err := charts.capabilities()
	if err != nil {
		b.Fatal(err)
	}
	rfs, err := repofs.Open(repo, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer rfs.Close()
	render := func() []helmrender.Outcome {
		return helmrender.RenderIsolated(b.Context(), []string{bin, helmrender.ChildCommand}, repo, 0, reqs, caps, helmrender.Options{})
	}

	// Installed as helm would, and written out as plain manifests.
	var all strings.Builder
	fmt.Fprintf(&all, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", ns)
	for _, oc := range render() {
		if oc.Err != nil {
			b.Fatal(oc.Err)
		}
		for _, m := range oc.Result.Objects {
			m.Object.SetNamespace(ns)
			y, _ := yaml.Marshal(m.Object.Object)
			fmt.Fprintf(&all, "---\n%s", y)
		}
	}
	plainFile := filepath.Join(repo, "plain", "objects.yaml")
	if err := os.MkdirAll(filepath.Dir(plainFile), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(plainFile, []byte(all.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command(k.Kubectl, "--kubeconfig", k.Kubeconfig, "apply", "--server-side", "--field-manager=helm", "-f", plainFile).CombinedOutput(); err != nil {
		b.Fatalf("install: %v\n%s", err, out)
	}
	plainCfg := cfg
	plainCfg.Helm.Releases = nil
	plainCfg.Paths = []string{"plain"}
	plain := newLayer(plainCfg)
	// First checks fill the caches: what is timed is the steady state.
	mustInSync(b, charts, repo)
	mustInSync(b, plain, repo)

	var tCharts, tPlain, tRender time.Duration
	b.ResetTimer()
	for range b.N {
		tCharts += timeIt(func() { mustInSync(b, charts, repo) })
		tPlain += timeIt(func() { mustInSync(b, plain, repo) })
		tRender += timeIt(func() {
			for _, oc := range render() {
				if oc.Err != nil {
					b.Fatal(oc.Err)
				}
			}
		})
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(tCharts.Seconds()/n, "charts-s/op")
	b.ReportMetric(tPlain.Seconds()/n, "plain-s/op")
	b.ReportMetric(tRender.Seconds()/n, "render-s/op")
	b.ReportMetric((tCharts-tPlain).Seconds()/tRender.Seconds(), "charts-overhead-vs-render")
}
