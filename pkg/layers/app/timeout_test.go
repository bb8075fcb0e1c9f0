package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// TestCheckEndsOnTimeAgainstSilentServer points the layer at an API server
// that accepts connections and never answers. Discovery, REST mapping and
// LISTs must all give up when the check's context ends, not after the
// client's own timeout for each object in turn.
func TestCheckEndsOnTimeAgainstSilentServer(t *testing.T) {
	addr, hits := silentListener(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://%s", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	kinds := []string{"ConfigMap", "Secret", "Service", "ServiceAccount", "Pod", "Endpoints"}
	for i, k := range kinds {
		files[fmt.Sprintf("apps/%d.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: %s\nmetadata: {name: o%d, namespace: ns%d}\n", k, i, i)
	}
	repo := writeTree(t, files)
	cfg := Config{Paths: []string{"apps"}, Kubeconfig: kubeconfig, DefaultNamespace: "default",
		QPS: 500, Burst: 1000, Parallelism: 8, Timeout: yamlconf.Duration(time.Minute)}
	l, err := New(cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	start := time.Now()
	res, err := l.Check(ctx, drift.Snapshot{Dir: repo})
	took := time.Since(start)
	if took > timeout+2*time.Second {
		t.Errorf("check took %s under a %s timeout", took, timeout)
	}
	if hits.Load() == 0 {
		t.Errorf("the server was never asked; the test proves nothing")
	}
	if len(res) != len(kinds) {
		t.Fatalf("got %d targets, want %d (every namespace reported)", len(res), len(kinds))
	}
	for _, r := range res {
		r.Normalize()
		if r.Status != drift.StatusUnknown || r.Error == "" {
			t.Errorf("%s: %s %q, want unknown with an error", r.Name, r.Status, r.Error)
		}
	}
	_ = err
}
