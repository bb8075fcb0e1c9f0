package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Prometheus is a running Prometheus and Alertmanager.
type Prometheus struct {
	// URL and AlertmanagerURL are their base URLs.
	URL, AlertmanagerURL string
	// State is the environment's state directory.
	State string
}

// PrometheusForTest starts Prometheus and Alertmanager with the given
// configs through testenv/prometheus/start.sh, and stops them at the end of
// the test. In promYML, @ALERTMANAGER@ stands for Alertmanager's address.
func PrometheusForTest(t testing.TB, promYML, amYML string) *Prometheus {
	t.Helper()
	for _, b := range []string{"prometheus", "prometheus-alertmanager"} {
		if _, err := exec.LookPath(b); err != nil {
			Unavailable(t, "%s: %v", b, err)
		}
	}
	state := t.TempDir()
	pf, af := filepath.Join(state, "in-prometheus.yml"), filepath.Join(state, "in-alertmanager.yml")
	if err := os.WriteFile(pf, []byte(promYML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(af, []byte(amYML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), "prometheus/start.sh", state, pf, af, strconv.Itoa(os.Getpid())); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		if err := run(context.Background(), "prometheus/stop.sh", state); err != nil {
			t.Errorf("stop prometheus: %v", err)
		}
	})
	env, err := readEnv(filepath.Join(state, "env"))
	if err != nil {
		t.Fatal(err)
	}
	return &Prometheus{URL: env["PROMETHEUS_URL"], AlertmanagerURL: env["ALERTMANAGER_URL"], State: state}
}
