// Package deploy holds driftd's Kubernetes manifests, alert rules and
// Alertmanager example; its tests validate them with the real tools.
package deploy

import (
	"os"
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/driftd/driftd/internal/testenv"
)

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testenv.Unavailable(t, "%s: %v", name, err)
	}
	return p
}

func runOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func TestRulesWithPromtool(t *testing.T) {
	promtool := tool(t, "promtool")
	runOK(t, promtool, "check", "rules", "prometheus/driftd-rules.yml")
	runOK(t, promtool, "test", "rules", "prometheus/driftd-rules_test.yml")
}

func TestAlertmanagerExample(t *testing.T) {
	amtool := tool(t, "amtool")
	runOK(t, amtool, "check-config", "alertmanager/alertmanager.yml")
	b, err := exec.Command(amtool, "config", "routes", "test", "--config.file=alertmanager/alertmanager.yml",
		"alertname=DriftdDriftDetected", "layer=infra", "target=network").Output()
	if out := string(b); err != nil || out != "platform-team\n" {
		t.Errorf("drift alert routed to %q (%v), want platform-team", out, err)
	}
}

// TestPrometheusRuleInSync: the Operator's PrometheusRule carries exactly
// the plain rule groups.
func TestPrometheusRuleInSync(t *testing.T) {
	var plain struct {
		Groups []any `yaml:"groups"`
	}
	var crd struct {
		Spec struct {
			Groups []any `yaml:"groups"`
		} `yaml:"spec"`
	}
	for path, v := range map[string]any{"prometheus/driftd-rules.yml": &plain, "base/prometheusrule.yaml": &crd} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if len(plain.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	if diff := cmp.Diff(plain.Groups, crd.Spec.Groups); diff != "" {
		t.Errorf("base/prometheusrule.yaml is out of date; run make rules (-plain +crd):\n%s", diff)
	}
}
