package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/driftd/driftd/pkg/drift"
)

var t0 = time.Unix(1_800_000_000, 0)

func rep(synced bool, layers ...drift.LayerResult) drift.Report {
	r := drift.Report{Revision: "abc123", Source: drift.SourceStatus{Synced: synced}, Layers: layers}
	r.Normalize()
	return r
}

func drifted(name string, n int) drift.TargetResult {
	t := drift.TargetResult{Name: name}
	for i := range n {
		t.Findings = append(t.Findings, drift.Finding{Object: "obj" + string(rune('a'+i)), Change: drift.ChangeDrifted})
	}
	return t
}

// metricNames are the series the golden files cover (not the histogram,
// whose buckets are covered by promtool check metrics).
var metricNames = []string{
	"driftd_drift_objects", "driftd_check_success", "driftd_last_check_timestamp_seconds",
	"driftd_drift_since_timestamp_seconds", "driftd_repo_sync_success", "driftd_repo_revision_info",
	"driftd_checks_skipped_total", "driftd_drift_object_info",
}

func compareGolden(t *testing.T, reg *prometheus.Registry, name string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, mf := range mfs {
			for _, n := range metricNames {
				if mf.GetName() == n {
					b.WriteString(testutilText(t, reg, n))
				}
			}
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.GatherAndCompare(reg, f, metricNames...); err != nil {
		t.Error(err)
	}
}

func TestMetricsLifecycle(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, false)

	// Nothing is exported before the first check.
	if n, err := testutil.GatherAndCount(reg, "driftd_check_success"); err != nil || n != 0 {
		t.Fatalf("series before the first check: %d %v", n, err)
	}

	m.Observe(rep(true,
		drift.LayerResult{Layer: drift.LayerInfra, Targets: []drift.TargetResult{drifted("network", 2), {Name: "dns"}}},
		drift.LayerResult{Layer: drift.LayerNode, Targets: []drift.TargetResult{drift.Fail("node1", errors.New("dial: refused"))}},
	), t0)
	compareGolden(t, reg, "metrics-1.prom")

	// A minute later: still drifted (drift_since is kept), node1 is back,
	// dns could not be checked (its last good state is kept), a check was
	// skipped, and the repo could not be synced.
	m.Skipped()
	m.Observe(rep(false,
		drift.LayerResult{Layer: drift.LayerInfra, Targets: []drift.TargetResult{drifted("network", 3), drift.Fail("dns", errors.New("timeout"))}},
		drift.LayerResult{Layer: drift.LayerNode, Targets: []drift.TargetResult{{Name: "node1"}}},
	), t0.Add(time.Minute))
	compareGolden(t, reg, "metrics-2.prom")

	// The drift is fixed: drift_since returns to 0. The node layer's
	// inventory breaks: its targets keep their state but fail, and a "*"
	// target makes the failure visible.
	m.Observe(rep(true,
		drift.LayerResult{Layer: drift.LayerInfra, Targets: []drift.TargetResult{{Name: "network"}, {Name: "dns"}}},
		drift.LayerResult{Layer: drift.LayerNode, Error: "nodes/inventory.yaml:3: unknown field"},
	), t0.Add(2*time.Minute))
	compareGolden(t, reg, "metrics-3.prom")
}

func TestMetricsPerObject(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, true)
	m.Observe(rep(true, drift.LayerResult{Layer: drift.LayerApp, Targets: []drift.TargetResult{drifted("web", 2)}}), t0)
	if n, err := testutil.GatherAndCount(reg, "driftd_drift_object_info"); err != nil || n != 2 {
		t.Errorf("per-object series: %d %v, want 2", n, err)
	}
	reg2 := prometheus.NewPedanticRegistry()
	NewMetrics(reg2, false).Observe(rep(true, drift.LayerResult{Layer: drift.LayerApp, Targets: []drift.TargetResult{drifted("web", 2)}}), t0)
	if n, _ := testutil.GatherAndCount(reg2, "driftd_drift_object_info"); n != 0 {
		t.Errorf("per-object series without the option: %d", n)
	}
}

func TestMetricsIgnoredObjects(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, false)
	tr := drifted("web", 1)
	tr.Ignored = []drift.Finding{{Object: "a", Change: drift.ChangeChanged}, {Object: "b", Change: drift.ChangeChanged}}
	m.Observe(rep(true, drift.LayerResult{Layer: drift.LayerApp, Targets: []drift.TargetResult{tr}}), t0)
	want := `# HELP driftd_ignored_objects Findings of the last successful check of a target that ignore rules silenced.
# TYPE driftd_ignored_objects gauge
driftd_ignored_objects{layer="app",target="web"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "driftd_ignored_objects"); err != nil {
		t.Error(err)
	}
}
