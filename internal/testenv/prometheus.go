package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
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
	env := startForTest(t, "prometheus/start.sh", "prometheus/stop.sh", state, pf, af)
	return &Prometheus{URL: env["PROMETHEUS_URL"], AlertmanagerURL: env["ALERTMANAGER_URL"], State: state}
}
