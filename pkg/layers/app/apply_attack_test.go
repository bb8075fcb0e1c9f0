package app

// Attack tests for the app layer's apply mode (apply.go). Each test says,
// in its comment, what goes wrong and what should happen instead.

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/driftd/driftd/pkg/drift"
)

// TestAttackAppPendingGitChangeIsDrift: Git moved web to v2 (merged), and
// the team's deployment path (kubectl apply in CD, Argo CD) has not run
// yet. Nobody touched the live object: its last-applied-configuration and
// managedFields say kubectl-client-side-apply wrote image v1, as Git said
// then. The app layer never reports "pending" (only the infra layer does),
// so this is a "changed" finding, and apply ships v2 as a side effect: the
// issue's "It never ships merged-but-unapplied Git changes ... a stack,
// node or object with pending changes is left alone". A live value equal
// to what the deployment path last applied (last-applied-configuration,
// or a field owned only by the deployment path's manager with no hand edit
// after it) is a pending Git change, not drift.
func TestAttackAppPendingGitChangeIsDrift(t *testing.T) {
	l := atkLayer()
	git := atkYAML(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "shop/web:v2"}]
`)
	live := atkYAML(t, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  resourceVersion: "41"
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},"name":"web","namespace":"shop"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"shop/web:v1","name":"web"}]}}}}'
  managedFields:
  - manager: kubectl-client-side-apply
    operation: Update
    apiVersion: apps/v1
    time: "2026-12-01T10:00:00Z"
    fieldsType: FieldsV1
    fieldsV1:
      f:metadata: {f:annotations: {.: {}, f:kubectl.kubernetes.io/last-applied-configuration: {}}}
      f:spec:
        f:replicas: {}
        f:selector: {}
        f:template:
          f:metadata: {f:labels: {.: {}, f:app: {}}}
          f:spec:
            f:containers:
              k:{"name":"web"}: {.: {}, f:image: {}, f:name: {}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "shop/web:v1"}]
`)
	f, err := atkCompare(t, l, git, live)
	if err != nil {
		t.Fatal(err)
	}
	if f == nil {
		t.Fatal("no finding: Git and live differ in the image")
	}
	if f.Change == drift.ChangeChanged {
		t.Errorf("a Git change the deployment path has not applied yet (live = last-applied-configuration) is reported as %q, which apply restores, shipping v2:\n%s", f.Change, f.Diff)
	}
}

// TestAttackAppCreateMissingUpserts: "creates a missing object only if it
// is still missing". The layer Gets the object (NotFound), then sends a
// server-side apply, which creates or updates: if the object appeared in
// between (the team's deployment created it with other settings, a
// controller made it), driftd's apply merges Git's object into it and takes
// ownership of its fields, and the result says "applied create". A
// missing object should be created with Create (fieldManager driftd),
// which the API server refuses with AlreadyExists, then reported as
// "created by someone else since the check".
func TestAttackAppCreateMissingUpserts(t *testing.T) {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	want := atkYAML(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\ndata: {mode: git}\n")
	// Someone else's object, created after the check and after apply's Get.
	theirs := atkYAML(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop, resourceVersion: \"7\"}\ndata: {mode: theirs, other: keep}\n")

	scheme := runtime.NewScheme()
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{gvr: "ConfigMapList"}, theirs)
	gets := 0
	dyn.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		gets++
		if gets == 1 {
			return true, nil, apierrors.NewNotFound(gvr.GroupResource(), "cfg")
		}
		return false, nil, nil
	})
	var verbs []string
	dyn.PrependReactor("*", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		verbs = append(verbs, a.GetVerb())
		if p, ok := a.(k8stesting.PatchAction); ok && p.GetPatchType() == types.ApplyPatchType {
			// The API server's answer to a server-side apply of an
			// existing object with no resourceVersion: it merges.
			merged := theirs.DeepCopy()
			_ = unstructured.SetNestedField(merged.Object, "git", "data", "mode")
			return true, merged, nil
		}
		return false, nil, nil
	})

	cfg := Config{}
	cfg.Defaults()
	l := atkLayer()
	l.cfg = cfg
	l.dyn = dyn
	recs := applyRecords{"v1/ConfigMap/shop/cfg": {gvr: gvr, namespace: "shop", name: "cfg", kind: "ConfigMap", want: want}}
	f := drift.Finding{Object: "v1/ConfigMap/shop/cfg", Change: drift.ChangeMissing}
	out := l.Apply(context.Background(), drift.Snapshot{}, drift.TargetResult{Name: "shop", Private: recs}, drift.ApplyRequest{Findings: []drift.Finding{f}})
	if len(out) == 1 && out[0].Result == drift.ResultApplied {
		t.Errorf("the object appeared after the check and apply wrote over it anyway (requests: %s): %+v", strings.Join(verbs, ", "), out[0])
	}
}
