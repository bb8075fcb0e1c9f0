//go:build integration

package deploy

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/testenv"
)

// TestManifestsServerSideDryRun applies every manifest with a server-side
// dry run against a real kube-apiserver: schemas, RBAC rules and references
// are validated by the server itself.
func TestManifestsServerSideDryRun(t *testing.T) {
	k := testenv.KubeForTest(t)
	kubectl := func(args ...string) (string, error) {
		out, err := exec.Command(k.Kubectl, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...).CombinedOutput()
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := kubectl(args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	must("apply", "--server-side", "-f", "testdata/crds")
	must("wait", "--for=condition=Established", "--timeout=30s", "crd/servicemonitors.monitoring.coreos.com", "crd/prometheusrules.monitoring.coreos.com")
	// Namespaced objects need their namespace to exist, even in a dry run.
	must("create", "namespace", "driftd")
	must("create", "namespace", "shop")

	for _, dir := range []string{"base", "overlays/apply", "overlays/narrow-secrets"} {
		out := must("apply", "--server-side", "--dry-run=server", "--field-manager=driftd-test", "-k", dir)
		for _, want := range []string{"deployment.apps/driftd serverside-applied (server dry run)", "prometheusrule.monitoring.coreos.com/driftd", "servicemonitor.monitoring.coreos.com/driftd", "clusterrole.rbac.authorization.k8s.io/driftd-read", "networkpolicy.networking.k8s.io/driftd serverside-applied (server dry run)"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", dir, want, out)
			}
		}
	}
	// The narrowed overlay reads Secrets only in "shop".
	narrow := must("kustomize", "overlays/narrow-secrets")
	if !strings.Contains(narrow, "name: driftd-read-secrets\n  namespace: shop") {
		t.Errorf("narrow-secrets has no Role for shop:\n%s", narrow)
	}
	for _, doc := range strings.Split(narrow, "\n---\n") {
		if strings.Contains(doc, "kind: ClusterRole\n") && strings.Contains(doc, "- secrets") {
			t.Errorf("narrow-secrets' ClusterRole still grants Secrets:\n%s", doc)
		}
	}
	// A broken manifest is rejected, so the dry run is a real check: the
	// same NetworkPolicy with a port that is neither a number nor a name.
	broken := exec.Command(k.Kubectl, "--kubeconfig", k.Kubeconfig, "apply", "--server-side", "--dry-run=server", "-n", "driftd", "-f", "-")
	broken.Stdin = strings.NewReader("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: broken}\nspec:\n  podSelector: {}\n  ingress: [{ports: [{port: \"not a port!\"}]}]\n")
	if out, err := broken.CombinedOutput(); err == nil || !strings.Contains(string(out), "port") {
		t.Errorf("a broken manifest was accepted by the dry run (err %v): %s", err, out)
	}
}
