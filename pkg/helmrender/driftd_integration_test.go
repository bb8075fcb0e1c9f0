//go:build integration

package helmrender

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDriftdHelmTemplate runs RenderIsolated against the real driftd
// binary's hidden helm-template command: the loop is killed at the
// timeout, the charts around it render.
func TestDriftdHelmTemplate(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "driftd")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/driftd/driftd/cmd/driftd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	repo := hostileRepo(t)
	reqs := []Request{req("good"), req("loop"), req("grow"), req("also-good")}
	opts := Options{Timeout: 3 * time.Second, MemoryLimit: 1 << 30}
	start := time.Now()
	out := RenderIsolated(t.Context(), []string{bin, ChildCommand}, repo, 0, reqs, testCaps, opts)
	if d := time.Since(start); d > 2*opts.Timeout+5*time.Second {
		t.Errorf("took %s", d)
	}
	for _, i := range []int{0, 3} {
		if out[i].Err != nil || len(out[i].Result.Objects) != 1 {
			t.Errorf("%s: %v, %v", reqs[i].Chart, out[i].Err, summary(out[i].Result))
		}
	}
	if !errors.Is(out[1].Err, ErrTimeout) {
		t.Errorf("loop: %v, want ErrTimeout", out[1].Err)
	}
	// Out of memory, or out of time when the collector thrashes under
	// the soft limit first: bounded either way.
	if err := out[2].Err; err == nil || !errors.Is(err, ErrTimeout) && !strings.Contains(err.Error(), "out of memory") {
		t.Errorf("grow: %v, want out of memory or ErrTimeout", err)
	}
}
