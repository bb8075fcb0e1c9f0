//go:build integration

package deploy

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/testenv"
)

// TestDeployedServiceAccountIsReadOnly asks the API server itself, with a
// real token of the ServiceAccount driftd/driftd and deploy/base's RBAC
// applied, what driftd may do: read what it compares everywhere, write
// nothing, and never reach into a pod.
func TestDeployedServiceAccountIsReadOnly(t *testing.T) {
	k := testenv.KubeForTest(t)
	kc := k.DeployedKubeconfig(t)
	run := func(args ...string) (string, error) {
		out, err := exec.Command(k.Kubectl, append([]string{"--kubeconfig", kc}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	// The kubeconfig authenticates as the ServiceAccount, not as admin.
	who, err := run("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if err != nil || who != "system:serviceaccount:driftd:driftd" {
		t.Fatalf("auth whoami with the deployed kubeconfig: %q (%v), want system:serviceaccount:driftd:driftd", who, err)
	}
	// A second call (another test on the same API server) works too, and
	// the first kubeconfig still does.
	if kc2 := k.DeployedKubeconfig(t); kc2 == kc {
		t.Errorf("DeployedKubeconfig returned the same file twice: %s", kc2)
	} else if out, err := exec.Command(k.Kubectl, "--kubeconfig", kc2, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").CombinedOutput(); err != nil || string(out) != who {
		t.Errorf("second deployed kubeconfig: %q (%v)", out, err)
	}

	canI := func(want string, args ...string) {
		t.Helper()
		// auth can-i exits 1 on "no": the answer on stdout is what counts
		// (stderr may carry a warning about a cluster-scoped resource).
		out, _ := exec.Command(k.Kubectl, append([]string{"--kubeconfig", kc, "auth", "can-i"}, args...)...).Output()
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("can driftd %s? %q, want %q", strings.Join(args, " "), got, want)
		}
	}
	for _, r := range []string{"deployments.apps", "configmaps", "secrets", "namespaces", "jobs.batch", "clusterroles.rbac.authorization.k8s.io"} {
		canI("yes", "list", r, "--all-namespaces")
		canI("yes", "get", r, "-n", "default")
		// driftd never watches: it LISTs once per kind and namespace.
		canI("no", "watch", r, "--all-namespaces")
	}
	for _, verb := range []string{"create", "update", "patch", "delete", "deletecollection"} {
		for _, r := range []string{"deployments.apps", "configmaps", "secrets"} {
			canI("no", verb, r, "-n", "default")
			canI("no", verb, r, "--all-namespaces")
		}
	}
	canI("no", "update", "deployments.apps", "--subresource=scale", "-n", "default")
	canI("no", "create", "pods", "-n", "default")
	canI("no", "create", "pods/exec", "-n", "default")
	canI("no", "get", "pods/exec", "-n", "default")
	canI("no", "create", "pods/portforward", "-n", "default")
	canI("no", "create", "serviceaccounts/token", "-n", "driftd")
	canI("no", "escalate", "clusterroles.rbac.authorization.k8s.io")
	canI("no", "bind", "clusterroles.rbac.authorization.k8s.io")
	canI("no", "impersonate", "users")
	// Leader election: its own Lease, in its own namespace only.
	canI("yes", "update", "leases.coordination.k8s.io", "-n", "driftd")
	canI("no", "update", "leases.coordination.k8s.io", "-n", "kube-system")

	// The answers above are the authorizer's; a real request agrees. The
	// ConfigMap exists (created as admin), so the refusal is RBAC's.
	admin := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(k.Kubectl, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	admin("create", "configmap", "driftd-probe", "-n", "default", "--from-literal=k=v")
	if out, err := run("get", "configmap", "driftd-probe", "-n", "default", "-o", "jsonpath={.data.k}"); err != nil || out != "v" {
		t.Errorf("get configmap as driftd: %q (%v), want v", out, err)
	}
	if out, err := run("label", "configmap", "driftd-probe", "-n", "default", "edited=yes"); err == nil || !strings.Contains(out, "forbidden") {
		t.Errorf("label configmap as driftd: err %v, output %q; want forbidden", err, out)
	}
	if out, err := run("delete", "configmap", "driftd-probe", "-n", "default"); err == nil || !strings.Contains(out, "forbidden") {
		t.Errorf("delete configmap as driftd: err %v, output %q; want forbidden", err, out)
	}
}
