//go:build integration

package deploy

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/testenv"
)

// applyManaged are the kinds that deploy/overlays/apply lets driftd write.
var applyManaged = []string{
	"configmaps", "secrets", "services", "serviceaccounts",
	"deployments.apps", "statefulsets.apps", "daemonsets.apps",
	"jobs.batch", "cronjobs.batch",
	"ingresses.networking.k8s.io", "networkpolicies.networking.k8s.io",
	"horizontalpodautoscalers.autoscaling", "poddisruptionbudgets.policy",
}

// TestApplyOverlayLeastPrivilege applies the RBAC of deploy/overlays/apply,
// then deploy/overlays/apply-prune, then overlays/apply again, to a real
// kube-apiserver and asks it, with a real token of the ServiceAccount
// driftd/driftd, what driftd may do: create and patch the managed kinds in
// "shop" and "payments" and nowhere else; delete only with the prune
// component, and only there; never exec, tokens, RBAC, namespaces, nodes,
// CRDs or webhooks. Real server-side applies with field manager "driftd"
// agree with the answers.
func TestApplyOverlayLeastPrivilege(t *testing.T) {
	k := testenv.KubeForTest(t)
	admin := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(k.Kubectl, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The RoleBindings need their namespaces; "other" is a namespace that
	// exists and is not managed.
	for _, ns := range []string{"shop", "payments", "other"} {
		admin("create", "namespace", ns)
	}
	kc := k.DeployedKubeconfig(t)
	k.ApplyDeployedRBAC(t, "overlays/apply")

	canI := func(want string, args ...string) {
		t.Helper()
		// auth can-i exits 1 on "no": the answer on stdout is what counts.
		out, _ := exec.Command(k.Kubectl, append([]string{"--kubeconfig", kc, "auth", "can-i"}, args...)...).Output()
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("can driftd %s? %q, want %q", strings.Join(args, " "), got, want)
		}
	}
	// settled waits until the authorizer, which follows RBAC through an
	// informer, answers want: after a narrowing, ApplyDeployedRBAC may return
	// before the permission is gone. A ClusterRole is seen whole, so one
	// answer from it stands for all of its rules.
	settled := func(want string, args ...string) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			out, _ := exec.Command(k.Kubectl, append([]string{"--kubeconfig", kc, "auth", "can-i"}, args...)...).Output()
			if got = strings.TrimSpace(string(out)); got == want {
				return
			}
		}
		t.Fatalf("can driftd %s? still %q after 30s, want %q", strings.Join(args, " "), got, want)
	}
	// apply is `kubectl apply --server-side --field-manager=driftd` as the
	// ServiceAccount.
	apply := func(ns, manifest string) (string, error) {
		cmd := exec.Command(k.Kubectl, "--kubeconfig", kc, "apply", "--server-side", "--field-manager=driftd", "-n", ns, "-f", "-")
		cmd.Stdin = strings.NewReader(manifest)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	asDriftd := func(args ...string) (string, error) {
		out, err := exec.Command(k.Kubectl, append([]string{"--kubeconfig", kc}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	managed := []string{"shop", "payments"}
	unmanaged := []string{"default", "kube-system", "other", "driftd"}

	// noDelete: without the prune component driftd deletes nothing.
	noDelete := func(t *testing.T) {
		t.Helper()
		for _, ns := range append(managed, unmanaged...) {
			for _, r := range applyManaged {
				canI("no", "delete", r, "-n", ns)
			}
		}
	}

	t.Run("apply", func(t *testing.T) {
		for _, r := range applyManaged {
			for _, ns := range managed {
				canI("yes", "create", r, "-n", ns)
				canI("yes", "patch", r, "-n", ns)
				// Server-side apply never PUTs, and never deletes a
				// collection.
				canI("no", "update", r, "-n", ns)
				canI("no", "deletecollection", r, "-n", ns)
			}
			for _, ns := range unmanaged {
				canI("no", "create", r, "-n", ns)
				canI("no", "patch", r, "-n", ns)
			}
			canI("no", "create", r, "--all-namespaces")
			canI("no", "patch", r, "--all-namespaces")
		}
		noDelete(t)
		for _, ns := range managed {
			// Kinds driftd does not manage, and subresources of those it
			// does: not granted by naming the kind.
			canI("no", "create", "pods", "-n", ns)
			canI("no", "create", "persistentvolumeclaims", "-n", ns)
			canI("no", "create", "pods", "--subresource=exec", "-n", ns)
			canI("no", "get", "pods", "--subresource=exec", "-n", ns)
			canI("no", "create", "pods", "--subresource=attach", "-n", ns)
			canI("no", "create", "pods", "--subresource=portforward", "-n", ns)
			canI("no", "create", "pods", "--subresource=eviction", "-n", ns)
			canI("no", "create", "serviceaccounts", "--subresource=token", "-n", ns)
			canI("no", "patch", "deployments.apps", "--subresource=scale", "-n", ns)
			canI("no", "patch", "deployments.apps", "--subresource=status", "-n", ns)
			canI("no", "update", "deployments.apps", "--subresource=scale", "-n", ns)
			canI("no", "create", "leases.coordination.k8s.io", "-n", ns)
			// RBAC: driftd may not write it, escalate or bind.
			for _, r := range []string{"roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io"} {
				canI("no", "create", r, "-n", ns)
				canI("no", "patch", r, "-n", ns)
				canI("no", "delete", r, "-n", ns)
			}
			canI("no", "escalate", "roles.rbac.authorization.k8s.io", "-n", ns)
			canI("no", "bind", "roles.rbac.authorization.k8s.io", "-n", ns)
			canI("no", "bind", "clusterroles.rbac.authorization.k8s.io", "-n", ns)
		}
		canI("no", "create", "serviceaccounts", "--subresource=token", "-n", "driftd")
		for _, r := range []string{"clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io"} {
			canI("no", "create", r)
			canI("no", "patch", r)
			canI("no", "escalate", r)
			canI("no", "bind", r)
		}
		for _, r := range []string{
			"namespaces", "nodes", "persistentvolumes",
			"customresourcedefinitions.apiextensions.k8s.io",
			"mutatingwebhookconfigurations.admissionregistration.k8s.io",
			"validatingwebhookconfigurations.admissionregistration.k8s.io",
			"certificatesigningrequests.certificates.k8s.io",
			"storageclasses.storage.k8s.io",
		} {
			canI("no", "create", r)
			canI("no", "patch", r)
			canI("no", "delete", r)
		}
		canI("no", "update", "certificatesigningrequests.certificates.k8s.io", "--subresource=approval")
		canI("no", "impersonate", "users")
		canI("no", "impersonate", "serviceaccounts", "-n", "shop")
		canI("no", "create", "*.*", "-n", "shop")
		// The base's read access is still there.
		canI("yes", "list", "deployments.apps", "--all-namespaces")
	})

	configMap := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {color: blue}\n"
	deployment := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.example.com/web:1.0}]
`
	t.Run("server-side apply", func(t *testing.T) {
		// Creates, then changes, each as the ServiceAccount.
		for _, m := range []string{configMap, deployment, strings.Replace(configMap, "blue", "green", 1), strings.Replace(deployment, "1.0", "1.1", 1)} {
			if out, err := apply("shop", m); err != nil || !strings.Contains(out, "serverside-applied") {
				t.Errorf("server-side apply into shop as driftd: %v\n%s\n%s", err, out, m)
			}
		}
		if out, err := asDriftd("get", "configmap", "web", "-n", "shop", "-o", "jsonpath={.data.color} {.metadata.managedFields[*].manager}"); err != nil || out != "green driftd" {
			t.Errorf("configmap shop/web: %q (%v), want green written by driftd", out, err)
		}
		if out, err := asDriftd("get", "deployment", "web", "-n", "shop", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); err != nil || out != "registry.example.com/web:1.1" {
			t.Errorf("deployment shop/web's image: %q (%v)", out, err)
		}
		for _, m := range []string{configMap, deployment} {
			if out, err := apply("default", m); err == nil || !strings.Contains(out, "forbidden") {
				t.Errorf("server-side apply into default as driftd: err %v, output %q; want forbidden", err, out)
			}
		}
		// An object that exists but is not managed here stays refused.
		admin("create", "configmap", "web", "-n", "other", "--from-literal=color=red")
		if out, err := apply("other", configMap); err == nil || !strings.Contains(out, "forbidden") {
			t.Errorf("server-side apply over other/web as driftd: err %v, output %q; want forbidden", err, out)
		}
		if out, err := asDriftd("delete", "configmap", "web", "-n", "shop"); err == nil || !strings.Contains(out, "forbidden") {
			t.Errorf("delete shop/web as driftd without prune: err %v, output %q; want forbidden", err, out)
		}
	})

	// Why the ClusterRole grants create: a server-side apply that creates
	// the object is refused with patch alone, and one that changes an
	// existing object needs nothing more. A Role granting only patch on
	// ConfigMaps, in a namespace of its own, shows it.
	t.Run("apply that creates needs create", func(t *testing.T) {
		admin("create", "namespace", "patch-only")
		admin("create", "role", "patch-configmaps", "-n", "patch-only", "--verb=patch", "--resource=configmaps")
		admin("create", "rolebinding", "patch-configmaps", "-n", "patch-only", "--role=patch-configmaps", "--serviceaccount=driftd:driftd")
		canI("yes", "patch", "configmaps", "-n", "patch-only")
		out, err := apply("patch-only", configMap)
		if err == nil || !strings.Contains(out, "forbidden") || !strings.Contains(out, `cannot create resource "configmaps"`) {
			t.Errorf("server-side apply creating a ConfigMap with patch alone: err %v, output %q; want forbidden to create", err, out)
		}
		admin("create", "configmap", "web", "-n", "patch-only", "--from-literal=color=blue")
		if out, err := apply("patch-only", strings.Replace(configMap, "blue}", "blue, size: m}", 1)); err != nil {
			t.Errorf("server-side apply changing an existing ConfigMap with patch alone: %v\n%s", err, out)
		}
		if out, err := asDriftd("get", "configmap", "web", "-n", "patch-only", "-o", "jsonpath={.data.size}"); err != nil || out != "m" {
			t.Errorf("configmap patch-only/web's size: %q (%v), want m", out, err)
		}
	})

	t.Run("prune", func(t *testing.T) {
		k.ApplyDeployedRBAC(t, "overlays/apply-prune")
		for _, r := range applyManaged {
			for _, ns := range managed {
				canI("yes", "delete", r, "-n", ns)
				canI("no", "deletecollection", r, "-n", ns)
			}
			for _, ns := range unmanaged {
				canI("no", "delete", r, "-n", ns)
			}
			canI("no", "delete", r, "--all-namespaces")
		}
		for _, ns := range managed {
			canI("no", "delete", "persistentvolumeclaims", "-n", ns)
			canI("no", "delete", "pods", "-n", ns)
			canI("no", "delete", "rolebindings.rbac.authorization.k8s.io", "-n", ns)
		}
		for _, r := range []string{"namespaces", "customresourcedefinitions.apiextensions.k8s.io", "persistentvolumes", "nodes"} {
			canI("no", "delete", r)
		}
		if out, err := asDriftd("delete", "configmap", "web", "-n", "shop"); err != nil {
			t.Errorf("delete shop/web as driftd with prune: %v\n%s", err, out)
		}
		if out, err := asDriftd("delete", "configmap", "web", "-n", "other"); err == nil || !strings.Contains(out, "forbidden") {
			t.Errorf("delete other/web as driftd with prune: err %v, output %q; want forbidden", err, out)
		}
	})

	t.Run("prune taken away", func(t *testing.T) {
		k.ApplyDeployedRBAC(t, "overlays/apply")
		settled("no", "delete", "configmaps", "-n", "shop")
		noDelete(t)
		canI("yes", "patch", "deployments.apps", "-n", "shop")
	})
}
