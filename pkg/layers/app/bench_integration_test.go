//go:build integration

package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/kube"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// fleetRepo writes nsCount namespaces of perNS objects each, a quarter each
// of Deployments, Services, ConfigMaps and Secrets, and applies them.
func fleetRepo(b *testing.B, k *testenv.Kube, nsCount, perNS int) string {
	b.Helper()
	repo := b.TempDir()
	dir := filepath.Join(repo, "apps")
	for n := range nsCount {
		ns := fmt.Sprintf("bench%02d", n)
		var s strings.Builder
		fmt.Fprintf(&s, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
		for i := range perNS / 4 {
			fmt.Fprintf(&s, `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app%[2]d, namespace: %[1]s, labels: {app: app%[2]d}}
spec:
  replicas: 2
  selector: {matchLabels: {app: app%[2]d}}
  template:
    metadata: {labels: {app: app%[2]d}}
    spec:
      containers:
        - name: app
          image: registry.example.com/app:%[2]d
          env: [{name: INDEX, value: "%[2]d"}]
          resources: {requests: {cpu: "0.1", memory: 128Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: app%[2]d, namespace: %[1]s}
spec:
  selector: {app: app%[2]d}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app%[2]d, namespace: %[1]s}
data: {index: "%[2]d", mode: production}
---
apiVersion: v1
kind: Secret
metadata: {name: app%[2]d, namespace: %[1]s}
stringData: {token: "token-%[2]d"}
`, ns, i)
		}
		d := filepath.Join(dir, ns)
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "objects.yaml"), []byte(s.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	out, err := exec.Command(k.Kubectl, "--kubeconfig", k.Kubeconfig, "apply", "--server-side", "-R", "-f", dir).CombinedOutput()
	if err != nil {
		b.Fatalf("apply: %v\n%s", err, out[max(0, len(out)-2000):])
	}
	return repo
}

func benchLayer(b *testing.B, k *testenv.Kube) *Layer {
	return benchLayerAs(b, k.Kubeconfig, CompareDryRun)
}

// benchLayerAs is a layer with the given identity and comparison mode.
func benchLayerAs(b *testing.B, kubeconfig, mode string) *Layer {
	cfg := Config{Paths: []string{"apps"}, Kubeconfig: kubeconfig, DefaultNamespace: "default", Compare: mode,
		QPS: 500, Burst: 1000, Parallelism: 8, Timeout: yamlconf.Duration(5 * time.Minute)}
	cfg.Defaults()
	l, err := New(cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func mustInSync(b *testing.B, l *Layer, repo string) {
	res, err := l.Check(context.Background(), drift.Snapshot{Dir: repo})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res {
		r.Normalize()
		if r.Status != drift.StatusInSync {
			b.Fatalf("%s: %s %s %v", r.Name, r.Status, r.Error, r.Findings[:min(2, len(r.Findings))])
		}
	}
}

// listFloor is the least any tool must do: one LIST per kind and namespace,
// with the same concurrency as driftd.
func listFloor(b *testing.B, k *testenv.Kube, nsCount int) {
	rc, err := kube.Config(k.Kubeconfig, "", 500, 1000)
	if err != nil {
		b.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		b.Fatal(err)
	}
	gvrs := []schema.GroupVersionResource{{Group: "apps", Version: "v1", Resource: "deployments"},
		{Version: "v1", Resource: "services"}, {Version: "v1", Resource: "configmaps"}, {Version: "v1", Resource: "secrets"}}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for n := range nsCount {
		for _, g := range gvrs {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if _, err := dyn.Resource(g).Namespace(fmt.Sprintf("bench%02d", n)).List(context.Background(), metav1ListOptions()); err != nil {
					b.Error(err)
				}
			})
		}
	}
	wg.Wait()
	// The cluster-scoped Namespaces, too.
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).List(context.Background(), metav1ListOptions()); err != nil {
		b.Error(err)
	}
}

func timeIt(f func()) time.Duration {
	s := time.Now()
	f()
	return time.Since(s)
}

func kubectlDiff(b *testing.B, k *testenv.Kube, repo string, serverSide bool) {
	args := []string{"--kubeconfig", k.Kubeconfig, "diff", "-R", "-f", filepath.Join(repo, "apps")}
	if serverSide {
		args = append(args, "--server-side")
	}
	out, err := exec.Command(k.Kubectl, args...).CombinedOutput()
	if err != nil {
		b.Fatalf("kubectl %v: %v (exit 1 means differences)\n%s", args, err, out[:min(len(out), 2000)])
	}
}

// BenchmarkAppCheck2000: 2,000 objects in 20 namespaces, no drift, in
// both comparison modes side by side in one run: dry-run replace (as
// admin) and read-only (as deploy/base's ServiceAccount, compare: auto,
// which the access review turns into read-only). Each mode's first check
// (empty cache) is reported against kubectl diff --server-side and the
// LIST floor, and its steady-state check against the floor.
func BenchmarkAppCheck2000(b *testing.B) {
	k := testenv.KubeForTest(b)
	repo := fleetRepo(b, k, 20, 100)
	deployed := k.DeployedKubeconfig(b)
	mustInSync(b, benchLayer(b, k), repo)
	mustInSync(b, benchLayerAs(b, deployed, CompareAuto), repo)
	kubectlDiff(b, k, repo, true)

	var dryFirst, drySteady, roFirst, roSteady, floor, kdiff time.Duration
	b.ResetTimer()
	for range b.N {
		l := benchLayer(b, k)
		dryFirst += timeIt(func() { mustInSync(b, l, repo) })
		drySteady += timeIt(func() { mustInSync(b, l, repo) })
		l = benchLayerAs(b, deployed, CompareAuto)
		roFirst += timeIt(func() { mustInSync(b, l, repo) })
		roSteady += timeIt(func() { mustInSync(b, l, repo) })
		floor += timeIt(func() { listFloor(b, k, 20) })
		kdiff += timeIt(func() { kubectlDiff(b, k, repo, true) })
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(dryFirst.Seconds()/n, "dryrun-first-s/op")
	b.ReportMetric(drySteady.Seconds()/n, "dryrun-steady-s/op")
	b.ReportMetric(roFirst.Seconds()/n, "readonly-first-s/op")
	b.ReportMetric(roSteady.Seconds()/n, "readonly-steady-s/op")
	b.ReportMetric(floor.Seconds()/n, "listfloor-s/op")
	b.ReportMetric(kdiff.Seconds()/n, "kubectldiffss-s/op")
	b.ReportMetric(kdiff.Seconds()/dryFirst.Seconds(), "dryrun-first-speedup-x")
	b.ReportMetric(drySteady.Seconds()/floor.Seconds(), "dryrun-steady-vs-floor")
	b.ReportMetric(kdiff.Seconds()/roFirst.Seconds(), "readonly-first-speedup-x")
	b.ReportMetric(roFirst.Seconds()/floor.Seconds(), "readonly-first-vs-floor")
	b.ReportMetric(roSteady.Seconds()/floor.Seconds(), "readonly-steady-vs-floor")
}

// BenchmarkAppSlowKubectlDiffClientSide compares driftd's first check with
// plain (client-side) kubectl diff, which takes minutes: run it once.
func BenchmarkAppSlowKubectlDiffClientSide(b *testing.B) {
	k := testenv.KubeForTest(b)
	repo := fleetRepo(b, k, 20, 100)
	var first, kdiff time.Duration
	b.ResetTimer()
	for range b.N {
		first += timeIt(func() { mustInSync(b, benchLayer(b, k), repo) })
		kdiff += timeIt(func() { kubectlDiff(b, k, repo, false) })
	}
	b.ReportMetric(first.Seconds()/float64(b.N), "first-s/op")
	b.ReportMetric(kdiff.Seconds()/float64(b.N), "kubectldiff-s/op")
	b.ReportMetric(kdiff.Seconds()/first.Seconds(), "first-speedup-x")
}

// BenchmarkAppSlowMemory measures the peak RSS of a `driftd check` process
// at 2,000 and 8,000 objects.
func BenchmarkAppSlowMemory(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "driftd")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/driftd").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	for _, n := range []int{2000, 8000} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			k := testenv.KubeForTest(b)
			repo := fleetRepo(b, k, 20, n/20)
			cfg := filepath.Join(repo, "driftd.yaml")
			body := fmt.Sprintf("repo: {url: file:///unused}\nlayers:\n  app:\n    paths: [apps]\n    kubeconfig: %s\n    timeout: 5m\n", k.Kubeconfig)
			if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
			var rss int64
			b.ResetTimer()
			for range b.N {
				cmd := exec.Command(bin, "check", "--repo", repo, "-o", "json")
				cmd.Stdout = io.Discard
				if err := cmd.Run(); err != nil {
					b.Fatalf("driftd check: %v", err)
				}
				rss = max(rss, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
			}
			b.ReportMetric(float64(rss)/1024, "peak-rss-MB")
		})
	}
}
