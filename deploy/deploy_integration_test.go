//go:build integration

package deploy

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	must("create", "namespace", "payments")

	overlays, err := filepath.Glob("overlays/*")
	if err != nil || len(overlays) < 4 {
		t.Fatalf("overlays: %v (%v), want apply, apply-prune, narrow-secrets and web-config at least", overlays, err)
	}
	for _, dir := range append([]string{"base"}, overlays...) {
		out := must("apply", "--server-side", "--dry-run=server", "--field-manager=driftd-test", "-k", dir)
		for _, want := range []string{"deployment.apps/driftd serverside-applied (server dry run)", "prometheusrule.monitoring.coreos.com/driftd", "servicemonitor.monitoring.coreos.com/driftd", "clusterrole.rbac.authorization.k8s.io/driftd-read", "networkpolicy.networking.k8s.io/driftd serverside-applied (server dry run)"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", dir, want, out)
			}
		}
	}
	// The narrowed overlay binds Secrets only in "shop" and "payments".
	narrow := must("kustomize", "overlays/narrow-secrets")
	for _, ns := range []string{"shop", "payments"} {
		if !strings.Contains(narrow, "kind: RoleBinding\nmetadata:\n  name: driftd-read-secrets\n  namespace: "+ns) {
			t.Errorf("narrow-secrets has no RoleBinding in %s:\n%s", ns, narrow)
		}
	}
	for _, doc := range strings.Split(narrow, "\n---\n") {
		if strings.Contains(doc, "name: driftd-read\n") && strings.Contains(doc, "- secrets") {
			t.Errorf("narrow-secrets' ClusterRole driftd-read still grants Secrets:\n%s", doc)
		}
		if strings.Contains(doc, "kind: ClusterRoleBinding") && strings.Contains(doc, "name: driftd-read-secrets") {
			t.Errorf("driftd-read-secrets is bound cluster-wide:\n%s", doc)
		}
	}

	// The web-config overlay passes the web config file, mounts it, and
	// gives the probes HTTPS and an Authorization header.
	web := must("kustomize", "overlays/web-config")
	for _, want := range []string{
		"- --web.config.file=/etc/driftd/web/web.yml",
		"- mountPath: /etc/driftd/web\n          name: web-config\n          readOnly: true",
		"secretName: driftd-web-config",
		"scheme: HTTPS",
		"name: Authorization",
		"basicAuth:",
		"scheme: https",
	} {
		if !strings.Contains(web, want) {
			t.Errorf("web-config lacks %q:\n%s", want, web)
		}
	}
	if n := strings.Count(web, "scheme: HTTPS"); n != 2 {
		t.Errorf("%d probes use HTTPS, want both", n)
	}

	// What the RBAC grants, asked of the API server itself: the base lets
	// driftd read Secrets everywhere; with narrow-secrets applied over it,
	// only in the listed namespaces.
	sa := "--as=system:serviceaccount:driftd:driftd"
	canI := func(want string, args ...string) {
		t.Helper()
		var out string
		for range 50 { // the authorizer's cache follows the apply
			out, _ = kubectl(append([]string{"auth", "can-i", sa}, args...)...)
			if strings.TrimSpace(out) == want {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("can driftd %s? %q, want %q", strings.Join(args, " "), strings.TrimSpace(out), want)
	}
	must("apply", "--server-side", "--field-manager=driftd-test", "-k", "base")
	canI("yes", "list", "secrets", "-n", "default")
	canI("yes", "list", "secrets", "--all-namespaces")
	canI("no", "update", "configmaps", "-n", "shop")
	must("apply", "--server-side", "--field-manager=driftd-test", "-k", "overlays/narrow-secrets")
	canI("yes", "list", "secrets", "-n", "shop")
	canI("yes", "list", "secrets", "-n", "payments")
	canI("no", "watch", "secrets", "-n", "payments")
	canI("no", "get", "secrets", "-n", "default")
	canI("no", "list", "secrets", "--all-namespaces")
	canI("no", "get", "secrets", "-n", "kube-system")
	canI("yes", "list", "configmaps", "-n", "default")

	// A broken manifest is rejected, so the dry run is a real check: the
	// same NetworkPolicy with a port that is neither a number nor a name.
	broken := exec.Command(k.Kubectl, "--kubeconfig", k.Kubeconfig, "apply", "--server-side", "--dry-run=server", "-n", "driftd", "-f", "-")
	broken.Stdin = strings.NewReader("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: broken}\nspec:\n  podSelector: {}\n  ingress: [{ports: [{port: \"not a port!\"}]}]\n")
	if out, err := broken.CombinedOutput(); err == nil || !strings.Contains(string(out), "port") {
		t.Errorf("a broken manifest was accepted by the dry run (err %v): %s", err, out)
	}
}
