//go:build integration

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/layers/app"
	"github.com/driftd/driftd/pkg/repofs"
)

// TestRemoteResourcesAllowed exercises layers.app.allow_remote_resources:
// kustomize fetches remote resources in a kustomize-build child process
// that the check's context bounds, whatever timeout the URL asks for, and
// that still reads local files only inside the repository.
func TestRemoteResourcesAllowed(t *testing.T) {
	bin := driftdBinary(t)
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nx:\n  a0: &a0 [l, l, l, l, l, l, l, l, l, l]\n"
	for i := 1; i <= 9; i++ {
		bomb += fmt.Sprintf("  a%d: &a%d [*a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d]\n", i, i, i-1)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cm.yaml":
			fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: remote}\ndata: {k: v}\n")
		case "/bomb.yaml":
			fmt.Fprint(w, bomb)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	silent := silentServer(t)

	opts := app.LoadOptions{RemoteRenderer: []string{bin, kustomizeBuildCommand}, Timeout: time.Minute}
	load := func(t *testing.T, ctx context.Context, files map[string]string) ([]app.Object, error) {
		t.Helper()
		base := t.TempDir()
		write(t, filepath.Join(base, "secret.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {p: TOP-SECRET}\n")
		repo := filepath.Join(base, "repo")
		for p, c := range files {
			if target, ok := strings.CutPrefix(c, "symlink:"); ok {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, filepath.Join(repo, p)); err != nil {
					t.Fatal(err)
				}
				continue
			}
			write(t, filepath.Join(repo, p), c)
		}
		rfs, err := repofs.Open(repo, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer rfs.Close()
		return app.Load(ctx, rfs, []string{"apps"}, opts)
	}

	t.Run("fetched", func(t *testing.T) {
		objs, err := load(t, t.Context(), map[string]string{"apps/kustomization.yaml": "resources: ['" + srv.URL + "/cm.yaml']\nnamePrefix: x-\n"})
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != 1 || objs[0].Obj.GetName() != "x-remote" {
			t.Fatalf("objects %v, want x-remote", objs)
		}
	})
	t.Run("a URL's own timeout does not outlast the check", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := load(t, ctx, map[string]string{"apps/kustomization.yaml": "resources: ['http://" + silent + "/x.yaml?timeout=120s']\n"})
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("took %s under a 2s deadline", took)
		}
		if err == nil || !strings.Contains(err.Error(), "apps") {
			t.Errorf("error %v, want one naming the kustomization", err)
		}
	})
	t.Run("remote alias bomb", func(t *testing.T) {
		_, err := load(t, t.Context(), map[string]string{"apps/kustomization.yaml": "resources: ['" + srv.URL + "/bomb.yaml']\n"})
		if err == nil {
			t.Fatal("a remote alias bomb rendered")
		}
	})
	t.Run("local files stay in the repository", func(t *testing.T) {
		objs, err := load(t, t.Context(), map[string]string{
			"apps/kustomization.yaml": "resources: [s.yaml]\n",
			"apps/s.yaml":             "symlink:../../secret.yaml",
		})
		if err == nil || len(objs) != 0 {
			t.Fatalf("read a file outside the repository: %v %v", objs, err)
		}
		if strings.Contains(err.Error(), "TOP-SECRET") {
			t.Errorf("error quotes the file: %v", err)
		}
	})
}
