package deploy

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/driftd/driftd/internal/testenv"
)

// renderRBAC renders a kustomization with kustomize's Go API and returns
// its RBAC objects.
func renderRBAC(t *testing.T, dir string) []testenv.RBACObject {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize %s: %v", dir, err)
	}
	var docs []testenv.RBACObject
	for _, r := range m.Resources() {
		if !strings.HasPrefix(r.GetApiVersion(), "rbac.authorization.k8s.io/") {
			continue
		}
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var d testenv.RBACObject
		if err := yaml.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		docs = append(docs, d)
	}
	return docs
}

// TestApplyOverlayRBACShape checks the rendered overlays without an API
// server (TestApplyOverlayLeastPrivilege asks a real one): driftd-apply
// names its kinds, grants create and patch (and delete only with the prune
// component) on every rule, is bound by RoleBindings in "shop" and
// "payments" only, and nothing bound to driftd grants a dangerous verb.
func TestApplyOverlayRBACShape(t *testing.T) {
	// Cluster-scoped, RBAC and pod-reaching kinds apply must never write
	// (a RoleBinding could not grant the cluster-scoped ones anyway).
	forbidden := []string{
		"*", "pods", "nodes", "namespaces", "persistentvolumes", "persistentvolumeclaims",
		"customresourcedefinitions", "mutatingwebhookconfigurations", "validatingwebhookconfigurations",
		"roles", "rolebindings", "clusterroles", "clusterrolebindings", "certificatesigningrequests",
	}
	for overlay, wantVerbs := range map[string][]string{
		"overlays/apply":       {"create", "patch"},
		"overlays/apply-prune": {"create", "patch", "delete"},
	} {
		docs := renderRBAC(t, overlay)
		var found bool
		var boundIn []string
		for _, d := range docs {
			switch {
			case d.Kind == "ClusterRole" && d.Metadata.Name == "driftd-apply":
				found = true
				if len(d.Rules) == 0 {
					t.Errorf("%s: driftd-apply has no rules", overlay)
				}
				for i, r := range d.Rules {
					if !slices.Equal(r.Verbs, wantVerbs) {
						t.Errorf("%s: driftd-apply rule %d (%v) has verbs %v, want %v (a rule added without its pair in components/apply-prune?)", overlay, i, r.APIGroups, r.Verbs, wantVerbs)
					}
					if len(r.APIGroups) != 1 || r.APIGroups[0] == "*" {
						t.Errorf("%s: driftd-apply rule %d: apiGroups %v, want one group per rule", overlay, i, r.APIGroups)
					}
					for _, res := range r.Resources {
						if strings.Contains(res, "/") || slices.Contains(forbidden, res) {
							t.Errorf("%s: driftd-apply grants %v on %q", overlay, r.Verbs, res)
						}
					}
				}
			case d.RoleRef.Name == "driftd-apply":
				if d.Kind != "RoleBinding" || d.Metadata.Namespace == "" {
					t.Errorf("%s: %s %s binds driftd-apply beyond a namespace", overlay, d.Kind, d.Metadata.Name)
				}
				boundIn = append(boundIn, d.Metadata.Namespace)
			}
		}
		if !found {
			t.Errorf("%s: no ClusterRole driftd-apply", overlay)
		}
		slices.Sort(boundIn)
		if want := []string{"payments", "shop"}; !slices.Equal(boundIn, want) {
			t.Errorf("%s: driftd-apply bound in %v, want %v", overlay, boundIn, want)
		}
		// Whatever else the overlay holds (the base's roles too): no role
		// grants these verbs, and only the prune component deletes.
		for _, d := range docs {
			for _, r := range d.Rules {
				for _, v := range r.Verbs {
					if slices.Contains([]string{"*", "deletecollection", "escalate", "bind", "impersonate"}, v) {
						t.Errorf("%s: %s %s grants %q on %v", overlay, d.Kind, d.Metadata.Name, v, r.Resources)
					}
					prune := overlay == "overlays/apply-prune" && d.Metadata.Name == "driftd-apply"
					if v == "delete" && !prune {
						t.Errorf("%s: %s %s grants delete on %v", overlay, d.Kind, d.Metadata.Name, r.Resources)
					}
				}
			}
		}
	}
}
