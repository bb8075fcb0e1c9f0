//go:build integration

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/helmrender"
)

// chartDir is the test chart the app layer's tests use too.
const chartDir = "../../pkg/layers/app/testdata/helm/charts/web"

// packageChart makes web-0.1.0.tgz as helm package does: the chart's files
// under a directory named after it.
func packageChart(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(chartDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(chartDir, p)
		if err := tw.WriteHeader(&tar.Header{Name: "web/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chartRepo serves a chart repository on loopback and counts requests.
func chartRepo(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	tgz := packageChart(t)
	sum := sha256.Sum256(tgz)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/index.yaml":
			fmt.Fprintf(w, "apiVersion: v1\nentries:\n  web:\n    - apiVersion: v2\n      name: web\n      version: 0.1.0\n      digest: %s\n      urls: [web-0.1.0.tgz]\ngenerated: \"2026-12-01T00:00:00Z\"\n", hex.EncodeToString(sum[:]))
		case "/web-0.1.0.tgz":
			_, _ = w.Write(tgz)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &hits
}

// TestCheckHelm runs the real driftd binary, as the deployed
// ServiceAccount, on releases declared in driftd.yaml: a chart of the
// repository, a chart from a chart repository on loopback (refused unless
// allowed), and a chart whose template loops without end, which its
// rendering child pays for alone.
func TestCheckHelm(t *testing.T) {
	k := testenv.KubeForTest(t)
	kubectl := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(k.Kubectl, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	kubectl("", "create", "namespace", "charts")
	repoURL, hits := chartRepo(t)
	repo := t.TempDir()
	if err := os.CopyFS(filepath.Join(repo, "charts", "web"), os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(repo, "charts/loop/Chart.yaml"), "apiVersion: v2\nname: loop\nversion: 1.0.0\n")
	write(t, filepath.Join(repo, "charts/loop/templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata:\n  x: \"{{ range until 1000000000 }}x{{ end }}\"\n")

	// Installed as helm install would: the charts' own rendering.
	for _, req := range []helmrender.Request{
		{Chart: "charts/web", ReleaseName: "site", Namespace: "charts"},
		{Chart: "web", RepoURL: repoURL, Version: "0.1.0", ReleaseName: "remote", Namespace: "charts"},
	} {
		k.HelmInstall(t, repo, req, helmrender.Capabilities{}, helmrender.Options{AllowRemote: true})
	}

	cfg := filepath.Join(t.TempDir(), "driftd.yaml")
	config := func(allow bool, releases ...string) {
		write(t, cfg, fmt.Sprintf(`repo: {url: "file:///nonexistent"}
cache_dir: %s
layers:
  app:
    kubeconfig: %s
    timeout: 20s
    helm:
      allow_remote_charts: %t
      releases:
%s`, filepath.Join(filepath.Dir(cfg), "cache"), k.DeployedKubeconfig(t), allow, strings.Join(releases, "")))
	}
	site := "        - {name: site, namespace: charts, chart: charts/web}\n"
	remote := fmt.Sprintf("        - {name: remote, namespace: charts, chart: web, repo: %q, version: 0.1.0}\n", repoURL)
	loop := "        - {name: loop, namespace: charts, chart: charts/loop}\n"

	config(false, site, remote)
	before := hits.Load()
	if code, out := checkRun(t, "-c", cfg, "--repo", repo); code != 1 || !strings.Contains(out, "allow_remote_charts") || hits.Load() != before {
		t.Errorf("a chart repository without allow_remote_charts: exit %d, %d requests to it, want 1 and none:\n%s", code, hits.Load()-before, out)
	}

	config(true, site, remote)
	if code, out := checkRun(t, "-c", cfg, "--repo", repo); code != 0 || hits.Load() == before {
		t.Errorf("allowed: exit %d, want 0 (in sync), after fetching the chart:\n%s", code, out)
	}
	kubectl("", "set", "image", "-n", "charts", "deployment/remote-web", "web=nginx:1.27")
	code, out := checkRun(t, "-c", cfg, "--repo", repo)
	if code != 2 || !strings.Contains(out, "apps/Deployment/charts/remote-web") || strings.Contains(out, "site-web") {
		t.Errorf("after set image on the remote chart's Deployment: exit %d, want 2 naming it alone:\n%s", code, out)
	}
	kubectl("", "set", "image", "-n", "charts", "deployment/remote-web", "web=nginx:1.25")

	// The looping chart: its child is killed at the timeout, it is the
	// error, and the chart beside it is still compared.
	config(true, site, loop)
	kubectl("", "set", "image", "-n", "charts", "deployment/site-web", "web=nginx:1.27")
	start := time.Now()
	code, out = checkRun(t, "-c", cfg, "--repo", repo, "-o", "json")
	took := time.Since(start)
	// Time or memory, whichever the loop runs out of first.
	bounded := strings.Contains(out, helmrender.ErrTimeout.Error()) || strings.Contains(out, "out of memory")
	if code != 1 || !strings.Contains(out, "helm: driftd.yaml layers.app.helm.releases[1]: chart charts/loop") || !bounded ||
		!strings.Contains(out, `"object": "apps/Deployment/charts/site-web"`) {
		t.Errorf("a looping chart beside a drifted one: exit %d, want 1 with the loop's timeout and the other's finding:\n%s", code, out)
	}
	if took > time.Minute {
		t.Errorf("the check took %s with a looping chart", took)
	}

	// Eight charts that loop without printing: each may take a quarter of
	// the app timeout (20s), all of them together the timeout, not eight
	// quarters.
	spin := []string{site}
	for i := range 8 {
		write(t, filepath.Join(repo, fmt.Sprintf("charts/spin%d/Chart.yaml", i)), fmt.Sprintf("apiVersion: v2\nname: spin%d\nversion: 1.0.0\n", i))
		write(t, filepath.Join(repo, fmt.Sprintf("charts/spin%d/templates/cm.yaml", i)), "{{ range until 2000000000 }}{{ end }}\n")
		spin = append(spin, fmt.Sprintf("        - {name: spin%d, namespace: charts, chart: charts/spin%d}\n", i, i))
	}
	config(true, spin...)
	start = time.Now()
	code, out = checkRun(t, "-c", cfg, "--repo", repo, "-o", "json")
	if took := time.Since(start); code != 1 || took > 35*time.Second || !strings.Contains(out, `"object": "apps/Deployment/charts/site-web"`) {
		t.Errorf("eight spinning charts: exit %d after %s, want 1 within the 20s timeout (and some), the first chart still compared:\n%.3000s", code, took, out)
	}
}
