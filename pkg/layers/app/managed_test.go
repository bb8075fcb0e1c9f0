package app

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestChangedBy(t *testing.T) {
	live := readObject(t, "testdata/compare/managed-fields/live.yaml")
	mfs := live.GetManagedFields()
	for i := range mfs {
		ts := metav1.Date(2026, 11, 22, 10, i, 0, 0, metav1.Now().Location())
		mfs[i].Time = &ts
	}
	live.SetManagedFields(mfs)
	git := readObject(t, "testdata/compare/managed-fields/git.yaml")
	key := []byte("k")
	want, have := normalize(git, key), normalize(live, key)
	// The replicas and the sidecar are set aside as an ignore rule would;
	// hostNetwork, which kubectl-edit added, is what differs.
	dropOwned(have, []map[string]any{want}, managedFields(live, []string{"kube-controller-manager", "istio-*"}))
	by := changedBy(live, want, have)
	if len(by) != 1 || by[0].Manager != "kubectl-edit" || by[0].Operation != "Update" || by[0].Time == "" {
		t.Fatalf("changed by %+v, want kubectl-edit with its time", by)
	}
	// Without the rule, the replicas' and the sidecar's managers are named
	// too, the latest first.
	by = changedBy(live, normalize(git, key), normalize(live, key))
	var names []string
	for _, c := range by {
		names = append(names, c.Manager)
	}
	if !slices.Equal(names, []string{"kubectl-edit", "istio-sidecar-injector", "kube-controller-manager"}) {
		t.Errorf("changed by %v", names)
	}
}
