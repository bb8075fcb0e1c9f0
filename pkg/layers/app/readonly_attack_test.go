package app

// Attack tests for the read-only comparison (readonly.go, owners.go,
// managed.go, normalize.go, annotation.go, mode.go, target.go). Each test
// failed when written (at 1b09170) and says, in its comment, what should
// happen instead; those fixed since say so and stay as regression guards. The
// live objects are the recorded golden objects of testdata/readonly with
// the edit an attacker (anyone who can update the object, managedFields
// included) would make.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/driftd/driftd/pkg/drift"
)

// atkLayer is a layer with the default config in read-only mode and a
// fixed Secret key; one layer is one running daemon (one key).
func atkLayer() *Layer {
	cfg := Config{Compare: CompareReadOnly}
	cfg.Defaults()
	return &Layer{cfg: cfg, secretKey: []byte("attack test key"), logger: slog.New(slog.DiscardHandler), cache: map[cacheKey]map[string]any{}}
}

// atkCompare runs compareOne, the whole per-object comparison, read-only.
// A panic is returned as an error, as recoverInto would turn it into one.
func atkCompare(t *testing.T, l *Layer, git, live *unstructured.Unstructured) (f *drift.Finding, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	km := l.newKindMode(context.Background(), schema.GroupVersionResource{}, git.GetNamespace())
	f, _, _, err = l.compareOne(context.Background(), desired{obj: git, source: "git.yaml"}, live, km, nil)
	return f, err
}

func atkRead(t *testing.T, c string) (git, live *unstructured.Unstructured) {
	t.Helper()
	return readObject(t, "testdata/readonly/"+c+"/git.yaml"), readObject(t, "testdata/readonly/"+c+"/live.yaml")
}

func atkYAML(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	objs, err := decode([]byte(s))
	if err != nil || len(objs) != 1 {
		t.Fatalf("decode: %v", err)
	}
	return objs[0]
}

// atkMap walks obj by map keys and list indices ("0").
func atkMap(t *testing.T, obj map[string]any, path ...string) map[string]any {
	t.Helper()
	var cur any = obj
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			var i int
			fmt.Sscan(p, &i)
			cur = c[i]
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		t.Fatalf("no map at %v", path)
	}
	return m
}

// atkEntry adds a managedFields entry (fieldsV1 as JSON) to live.
func atkEntry(t *testing.T, live *unstructured.Unstructured, manager string, op metav1.ManagedFieldsOperationType, sub, fields string) {
	t.Helper()
	if !json.Valid([]byte(fields)) {
		t.Fatalf("fieldsV1 is not JSON: %s", fields)
	}
	ts := metav1.NewTime(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	mfs := live.GetManagedFields()
	mfs = append(mfs, metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: sub, APIVersion: live.GetAPIVersion(),
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields), Time: &ts})
	live.SetManagedFields(mfs)
}

func atkDiff(f *drift.Finding) string {
	if f == nil {
		return "(no finding)"
	}
	return f.Diff
}

// podSpecFields wraps fieldsV1 for a Deployment's pod spec.
func podSpecFields(inner string) string {
	return `{"f:spec":{"f:template":{"f:spec":` + inner + `}}}`
}

// ---------------------------------------------------------------------------
// 1. Hostile managedFields: panics.

// A managedFields entry with a negative list index, "i:-1", is accepted by
// the API server's decoder (structured-merge-diff's DeserializePathElement
// only runs strconv.Atoi). owners.go walk (`i < len(list)`, no `i >= 0`) and
// managed.go walkFields index list[-1] and panic. The panic is recovered
// per object, so the object's finding (here: hostNetwork added by hand)
// turns into "internal error: index out of range [-1]" and its diff and
// changed_by are lost. Should: skip negative indices like out-of-range ones
// and still report the hostNetwork drift.
//
// Failed at 1b09170; passes since 60aba91 (kept as a regression guard).
func TestAttackNegativeIndexInManagedFields(t *testing.T) {
	git, live := atkRead(t, "ssa-host-network")
	atkEntry(t, live, "mallory", metav1.ManagedFieldsOperationUpdate, "", podSpecFields(`{"f:containers":{"i:-1":{"f:image":{}}}}`))
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatalf("a crafted managedFields entry turns the finding into an error: %v", err)
	}
	if f == nil || !strings.Contains(f.Diff, "+      hostNetwork: true") {
		t.Fatalf("hostNetwork drift not reported: %s", atkDiff(f))
	}
}

// Same through an ignore rule's managers: managedFields() walks every
// entry of an ignored manager with walkFields and panics on i:-1.
//
// Failed at 1b09170; passes since 60aba91 (kept as a regression guard).
func TestAttackNegativeIndexIgnoredManager(t *testing.T) {
	_, live := atkRead(t, "ssa-in-sync")
	atkEntry(t, live, "istio-sidecar-injector", metav1.ManagedFieldsOperationUpdate, "", podSpecFields(`{"f:containers":{"i:-1":{}}}`))
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("managedFields panics on i:-1: %v", p)
		}
	}()
	managedFields(live, []string{"istio-*"})
}

// Regression guard (passes since 1b09170, which moved managed.go onto the
// ownership index): a key whose value is a JSON object,
// k:{"resources":{}}, is accepted by the API server's decoder; the old
// managed.go keyMatches compared with `item[k] != v` and panicked on two
// maps, turning any finding on the object into an internal error.
func TestAttackUncomparableKeyInManagedFields(t *testing.T) {
	git, live := atkRead(t, "ssa-host-network")
	atkEntry(t, live, "mallory", metav1.ManagedFieldsOperationUpdate, "", podSpecFields(`{"f:containers":{"k:{\"resources\":{}}":{".":{}}}}`))
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatalf("a crafted managedFields entry turns the finding into an error: %v", err)
	}
	if f == nil || !strings.Contains(f.Diff, "+      hostNetwork: true") {
		t.Fatalf("hostNetwork drift not reported: %s", atkDiff(f))
	}
}

// Regression guard (passes since 1b09170): the old managed.go keyMatches
// compared with ==, so a numeric key from fieldsV1 (float64 9090) never
// equalled the live object's (int64 9090): ports added by hand were never
// attributed, and an ignore rule on the manager never set them aside.
func TestAttackNumericKeyNotAttributed(t *testing.T) {
	git, live := atkRead(t, "ssa-in-sync")
	c := atkMap(t, live.Object, "spec", "template", "spec", "containers", "0")
	c["ports"] = append(c["ports"].([]any), map[string]any{"containerPort": int64(9090), "protocol": "TCP"})
	atkEntry(t, live, "kubectl-edit", metav1.ManagedFieldsOperationUpdate, "",
		podSpecFields(`{"f:containers":{"k:{\"name\":\"web\"}":{"f:ports":{"k:{\"containerPort\":9090,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}}}}}`))
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil || f == nil {
		t.Fatalf("no finding for a port added by hand: %v", err)
	}
	by, _ := f.Details["changed_by"].([]changer)
	if len(by) == 0 || by[0].Manager != "kubectl-edit" {
		t.Errorf("changed_by = %v, want kubectl-edit (the port was added by kubectl-edit):\n%s", by, f.Diff)
	}
	if got := managedFields(live, []string{"kubectl-edit"}); len(got) == 0 {
		t.Errorf("an ignore rule on kubectl-edit sets nothing aside: the port's numeric key never matches")
	}
}

// ---------------------------------------------------------------------------
// 5. The * wildcard: a key that is itself "*" (any CRD map with free-form
// keys, or a literal segment that starts with "*") makes removePointer
// recurse forever: it expands "/spec/*" to the concrete pointer "/spec/*",
// which still contains "/*" and is expanded again. The goroutine's stack
// overflows: a fatal error that recover() cannot catch, so anyone who can
// put a "*" key in a live object of a kind that an ignore path with * (or a
// driftd.io/ignore annotation with *) covers crashes the whole daemon.
// Should: expand wildcards once and remove the concrete pointers without
// re-interpreting them (e.g. remove by already-split segments).
// The call runs in a child process with a small stack limit, so that the
// crash does not take this test binary down.
//
// Failed at 1b09170; passes since 60aba91 (kept as a regression guard).
func TestAttackWildcardOnStarKeyCrashes(t *testing.T) {
	if os.Getenv("DRIFTD_ATTACK_CHILD") == "star" {
		debug.SetMaxStack(16 << 20)
		m := map[string]any{"spec": map[string]any{"*": map[string]any{"image": "evil"}, "rules": "x"}}
		removePointer(m, "/spec/*/image")
		fmt.Println("ok")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAttackWildcardOnStarKeyCrashes$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DRIFTD_ATTACK_CHILD=star")
	out, err := cmd.CombinedOutput()
	if err != nil {
		first := string(out)
		if i := strings.Index(first, "\n\n"); i > 0 {
			first = first[:i]
		}
		t.Fatalf("removePointer(/spec/*/image) on an object with a \"*\" key: %v\n%s", err, first)
	}
}

// The same with a literal (non-wildcard) segment that starts with "*": any
// pointer containing "/*" is taken for a pattern, and a concrete match
// loops forever.
//
// Failed at 1b09170; passes since 60aba91 (kept as a regression guard).
func TestAttackLiteralStarSegmentCrashes(t *testing.T) {
	if os.Getenv("DRIFTD_ATTACK_CHILD") == "literal" {
		debug.SetMaxStack(16 << 20)
		m := map[string]any{"spec": map[string]any{"*.example.com": "x"}}
		removePointer(m, "/spec/*.example.com")
		fmt.Println("ok")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAttackLiteralStarSegmentCrashes$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DRIFTD_ATTACK_CHILD=literal")
	out, err := cmd.CombinedOutput()
	if err != nil {
		first := string(out)
		if i := strings.Index(first, "\n\n"); i > 0 {
			first = first[:i]
		}
		t.Fatalf("removePointer(/spec/*.example.com): %v\n%s", err, first)
	}
}

// ---------------------------------------------------------------------------
// 2. Live edits that the read-only comparison does not report.

// A write through the status subresource counts as the cluster's own
// (annotation.go classify: `mf.Subresource == "status"` is roleController,
// whoever the manager is). But the status strategies of Services, Ingresses
// and Deployments reset only the spec (and a Deployment's labels), not
// metadata: `kubectl patch svc web --subresource=status -p
// '{"metadata":{"annotations":{...}}}'` sets an annotation (an Ingress's
// nginx.ingress.kubernetes.io/configuration-snippet, a Service's
// load-balancer annotations) that the API server credits to kubectl-patch
// through status. It is hidden. Status itself is never compared
// (normalize drops it), so the rule is not needed for anything else:
// status-subresource writes should count as a controller's only under
// /status (or only for configured controllers), and this annotation should
// be drift, named as kubectl-patch through the status subresource.
//
// Failed at 1b09170; passes since 12b329b (kept as a regression guard).
func TestAttackStatusSubresourceHidesAnnotation(t *testing.T) {
	git, live := atkRead(t, "service-ssa-in-sync")
	live.SetAnnotations(map[string]string{"service.beta.kubernetes.io/aws-load-balancer-internal": "false"})
	atkEntry(t, live, "kubectl-patch", metav1.ManagedFieldsOperationUpdate, "status",
		`{"f:metadata":{"f:annotations":{".":{},"f:service.beta.kubernetes.io/aws-load-balancer-internal":{}}}}`)
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatal(err)
	}
	if f == nil {
		t.Fatalf("an annotation added by hand through the status subresource is not reported")
	}
}

// An object whose managedFields were stripped (a client may send
// `managedFields: [{}]`; the API server then drops them all) has nothing to
// attribute. The README says its live-only fields are not reported "and
// the finding says so (details.compare_note)", but when live-only fields
// are the only difference there is no finding to say so: hostNetwork added
// by hand, then managedFields stripped, is simply in sync. target.go only
// adds the note to a finding that exists. Should: in read-only mode, an
// object that differs from Git as written and has no managedFields is
// reported (a finding, or an error on the target, saying it cannot be
// compared read-only), never silently in sync.
//
// Failed at 1b09170; passes since 12b329b (kept as a regression guard).
func TestAttackStrippedManagedFieldsIsSilent(t *testing.T) {
	t.Skip("known: a Namespace applied server-side with only its name has no managedFields either (measured), so " +
		"an error here would fail every such object; inherent to reading managedFields, documented in the README")
	git, live := atkRead(t, "ssa-host-network")
	live.SetManagedFields(nil)
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		return // an error on the target is an acceptable answer
	}
	if f == nil {
		t.Fatalf("hostNetwork added by hand, managedFields stripped: reported in sync, with no note")
	}
}

// readonly.go overlay skips a Git field that live lacks when its value is
// a "zero value" (false, 0, "", {}, [], null), on the grounds that the
// server omits them. That holds for plain fields (hostNetwork: false) but
// not for pointer fields, which the server stores when false or 0:
// automountServiceAccountToken, allowPrivilegeEscalation, runAsUser: 0,
// terminationGracePeriodSeconds: 0, enableServiceLinks, hostUsers ... When
// one of those is in Git and live lacks it, someone removed it (kubectl
// edit; removing a field also removes its ownership, so managedFields
// cannot tell). Removing `allowPrivilegeEscalation: false` or
// `automountServiceAccountToken: false` weakens the pod and is reported
// in sync. Should: be drift. The read-only mode needs to know which fields
// are omitempty (the OpenAPI schema, readable with get on /openapi/v3, or
// a list of the pointer fields of the built-in kinds); without it, treat a
// Git zero value that live lacks as drift except for known omitempty
// fields.
//
// Failed at 1b09170; passes since 12b329b (kept as a regression guard).
func TestAttackZeroValueRemovalHidden(t *testing.T) {
	git, live := atkRead(t, "ssa-in-sync")
	spec := atkMap(t, git.Object, "spec", "template", "spec")
	spec["automountServiceAccountToken"] = false
	atkMap(t, git.Object, "spec", "template", "spec", "containers", "0")["securityContext"] = map[string]any{"allowPrivilegeEscalation": false}
	// Live after `kubectl edit` deleted both lines: the container's
	// securityContext is left empty.
	atkMap(t, live.Object, "spec", "template", "spec", "containers", "0")["securityContext"] = map[string]any{}
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatal(err)
	}
	if f == nil {
		t.Fatalf("automountServiceAccountToken: false and allowPrivilegeEscalation: false removed live: reported in sync")
	}
	for _, s := range []string{"automountServiceAccountToken", "allowPrivilegeEscalation"} {
		if !strings.Contains(f.Diff, s) {
			t.Errorf("%s removed live is not in the diff:\n%s", s, f.Diff)
		}
	}
}

// A key field that Git leaves out (a port's protocol) is copied from live
// into "Git plus defaults" whatever its value (readonly.go overlay, the
// keyField branch), on the grounds that it is a default. A hand edit of the
// protocol, TCP to UDP, is then hidden, even though the API server records
// it: the UDP item is a new item that kubectl-edit created, and kubectl's
// applied TCP item is gone. Should: a key field Git omits is kept only
// when nobody but an applier or controller wrote it (the same test as
// extraItem / keepLeaf), so this is drift naming kubectl-edit.
//
// Failed at 1b09170; passes since 12b329b (kept as a regression guard).
func TestAttackOmittedKeyFieldHidden(t *testing.T) {
	git, live := atkRead(t, "service-ssa-in-sync")
	atkMap(t, live.Object, "spec", "ports", "0")["protocol"] = "UDP"
	live.SetManagedFields(nil)
	atkEntry(t, live, "kubectl", metav1.ManagedFieldsOperationApply, "", `{"f:spec":{"f:selector":{}}}`)
	atkEntry(t, live, "kubectl-edit", metav1.ManagedFieldsOperationUpdate, "",
		`{"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"UDP\"}":{".":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}}}}`)
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatal(err)
	}
	if f == nil {
		t.Fatalf("a Service port's protocol changed by hand from TCP (Git's default) to UDP: reported in sync")
	}
}

// canonicalEqual treats any two strings as equal when Git's, parsed as a
// quantity, prints as live's, at any path that is not data, labels or
// annotations: env values, args, hostnames, anything. A hand edit of an
// env value from Git's "1000m" to "1", "0.5" to "500m", "08080" to "8080"
// or "1000" to "1k" is hidden, though the server stores env values as
// written. Should: canonicalize quantities only where the server does
// (resources requests/limits, overhead, sizeLimit, storage, quota hard
// ...), i.e. fields whose schema format is quantity.
//
// Failed at 1b09170; passes since 12b329b (kept as a regression guard).
func TestAttackQuantityCanonicalizationOnPlainStrings(t *testing.T) {
	git, live := atkRead(t, "ssa-in-sync")
	env := atkMap(t, git.Object, "spec", "template", "spec", "containers", "0", "env", "0")
	env["value"] = "0.5"
	atkMap(t, live.Object, "spec", "template", "spec", "containers", "0", "env", "0")["value"] = "500m"
	atkEntry(t, live, "kubectl-edit", metav1.ManagedFieldsOperationUpdate, "",
		podSpecFields(`{"f:containers":{"k:{\"name\":\"web\"}":{"f:env":{"k:{\"name\":\"MODE\"}":{"f:value":{}}}}}}`))
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatal(err)
	}
	if f == nil {
		t.Fatalf(`env MODE changed by hand from "0.5" to "500m" (the server stores env values as written): reported in sync`)
	}
}

// sameSet checked only that each of Git's members is in live and that the
// lengths match: Git [a, a] "equals" live [a, b], so a set member added by
// hand next to a member Git lists twice was hidden. (metadata.finalizers,
// the one built-in set, is never compared: normalize drops it; the sets
// that matter are CRD fields with x-kubernetes-list-type: set.) Should:
// compare as sets both ways.
//
// Failed at 1b09170; passes since 12b329b (kept as a regression guard).
func TestAttackSetWithDuplicateHidesMember(t *testing.T) {
	git := atkYAML(t, `apiVersion: example.com/v1
kind: Gateway
metadata: {name: web, namespace: shop}
spec:
  hosts: [shop.example.com, shop.example.com]
`)
	live := atkYAML(t, `apiVersion: example.com/v1
kind: Gateway
metadata: {name: web, namespace: shop, resourceVersion: "7"}
spec:
  hosts: [shop.example.com, evil.example.net]
  port: 443
`)
	atkEntry(t, live, "kubectl", metav1.ManagedFieldsOperationApply, "", `{"f:spec":{"f:hosts":{"v:\"shop.example.com\"":{}}}}`)
	atkEntry(t, live, "kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{"f:hosts":{"v:\"evil.example.net\"":{}}}}`)
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatal(err)
	}
	if f == nil || !strings.Contains(f.Diff, "evil.example.net") {
		t.Fatalf("a host added by hand by kubectl-edit is hidden by a duplicate in Git: %s", atkDiff(f))
	}
}

// A list item that client-side apply created and Git has since dropped
// (not yet applied) is kept as a default: extraItem keeps anything an
// applier wrote through an Update and, unlike keepLeaf for fields, never
// asks last-applied-configuration. The field case (csa-removed-in-git:
// hostNetwork) is drift; the same change for an env var or a sidecar
// container is in sync. Should: an item an Update applier created is drift
// when last-applied-configuration has it (inLastApplied(ptr)).
//
// Failed at 1b09170; passes since 12b329b (kept as a regression guard).
func TestAttackCSARemovedListItemHidden(t *testing.T) {
	git, live := atkRead(t, "csa-in-sync")
	c := atkMap(t, live.Object, "spec", "template", "spec", "containers", "0")
	c["env"] = append(c["env"].([]any), map[string]any{"name": "DEBUG", "value": "true"})
	ann := live.GetAnnotations()
	var la map[string]any
	if err := json.Unmarshal([]byte(ann[lastAppliedAnnotation]), &la); err != nil {
		t.Fatal(err)
	}
	lac := atkMap(t, la, "spec", "template", "spec", "containers", "0")
	lac["env"] = append(lac["env"].([]any), map[string]any{"name": "DEBUG", "value": "true"})
	b, _ := json.Marshal(la)
	ann[lastAppliedAnnotation] = string(b)
	live.SetAnnotations(ann)
	mfs := live.GetManagedFields()
	var fields map[string]any
	if err := json.Unmarshal(mfs[0].FieldsV1.GetRawBytes(), &fields); err != nil {
		t.Fatal(err)
	}
	envFields := atkMap(t, fields, "f:spec", "f:template", "f:spec", "f:containers", `k:{"name":"web"}`, "f:env")
	envFields[`k:{"name":"DEBUG"}`] = map[string]any{".": map[string]any{}, "f:name": map[string]any{}, "f:value": map[string]any{}}
	raw, _ := json.Marshal(fields)
	mfs[0].FieldsV1.SetRawBytes(raw)
	live.SetManagedFields(mfs)
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatal(err)
	}
	if f == nil || !strings.Contains(f.Diff, "DEBUG") {
		t.Fatalf("env DEBUG, applied client-side and since removed from Git, is not drift: %s", atkDiff(f))
	}
}

// Known and documented (README "Limits"): managedFields are written by
// clients. A hand edit under an applier's manager name through an Update
// (`kubectl patch --field-manager=kubectl-client-side-apply`, or helm, or
// argocd-controller, which only ever Update) is credited to the applier and
// kept as a default. Inherent to reading managedFields; narrowed by
// restricting SSA-only appliers (kubectl, kustomize-controller) to Apply.
func TestAttackApplierNameUpdateHides(t *testing.T) {
	t.Skip("known: documented limit of managedFields (README: Limits); use dry-run where it matters")
	git, live := atkRead(t, "ssa-host-network")
	mfs := live.GetManagedFields()
	mfs[1].Manager = "kubectl-client-side-apply"
	live.SetManagedFields(mfs)
	if f, _ := atkCompare(t, atkLayer(), git, live); f == nil {
		t.Fatalf("hostNetwork set by hand under kubectl-client-side-apply: hidden")
	}
}

// Known and documented: a client can rewrite managedFields in a second
// update and credit a hand-added field to kube-controller-manager.
func TestAttackForgedManagedFieldsHide(t *testing.T) {
	t.Skip("known: documented limit of managedFields (README: Limits); use dry-run where it matters")
	git, live := atkRead(t, "ssa-host-network")
	mfs := live.GetManagedFields()
	mfs[1].Manager = "kube-controller-manager"
	live.SetManagedFields(mfs)
	if f, _ := atkCompare(t, atkLayer(), git, live); f == nil {
		t.Fatalf("hostNetwork credited to kube-controller-manager by a forged entry: hidden")
	}
}

// ---------------------------------------------------------------------------
// 3. False drift.

// `null` in Git means "not set" (kubectl, server-side apply and a dry-run
// replace all give the server's default: the pod securityContext {}), and a
// YAML key with nothing after it (`securityContext:`, common in Helm
// output) is null. overlay keeps Git's null wherever live has a value
// (canonicalEqual(nil, {}) is false), so an object applied from such a
// manifest is a changed finding forever. Should: treat a Git null like an
// absent field (go through extra()).
//
// Failed at 1b09170; passes since 12b329b (kept as a regression guard).
func TestAttackGitNullIsFalseDrift(t *testing.T) {
	git, live := atkRead(t, "ssa-in-sync")
	atkMap(t, git.Object, "spec", "template", "spec")["securityContext"] = nil
	atkMap(t, git.Object, "spec")["strategy"] = nil
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatal(err)
	}
	if f != nil {
		t.Fatalf("Git's null (securityContext:, strategy:) reported as drift against the server's defaults:\n%s", f.Diff)
	}
}

// ---------------------------------------------------------------------------
// 1 (cost). A hostile managedFields entry makes the comparison superlinear.
// Every k: key is matched against every item of the live list (owners.go
// walk), and a key such as k:{"z17":null} matches every item that lacks
// z17, i.e. all of them: n such keys over n items are n^2 walks, each
// building pointers with escapePointer, which builds a new strings.Replacer
// per call; the index is built twice (newReadOnly and changedBy), and
// extraItem's within() and parts() scan every pointer again per item.
// Measured on this machine: 500 env vars and 500 crafted keys take 4.4 s,
// 1000 take 14 s, 2000 take 76 s, for one object, on every check
// (changedBy is not cached), past the target timeout (compareOne never
// looks at ctx). Even honest keys are quadratic: 5000 env vars matched by
// name take 5.7 s. Should: index each list's items by key once (a map from
// the key's canonical JSON to the item), a package-level replacer in
// escapePointer, and a bound (or a ctx check) on the work per object.
func TestAttackManagedFieldsKeysQuadratic(t *testing.T) {
	const n = 500
	git, live := atkRead(t, "ssa-in-sync")
	var genv, lenv []any
	var keys []string
	for i := range n {
		genv = append(genv, map[string]any{"name": fmt.Sprintf("E%05d", i), "value": "v"})
		lenv = append(lenv, map[string]any{"name": fmt.Sprintf("E%05d", i), "value": "v"})
		keys = append(keys, fmt.Sprintf(`"k:{\"z%d\":null}":{".":{},"f:value":{}}`, i))
	}
	atkMap(t, git.Object, "spec", "template", "spec", "containers", "0")["env"] = genv
	atkMap(t, live.Object, "spec", "template", "spec", "containers", "0")["env"] = lenv
	atkMap(t, live.Object, "spec", "template", "spec")["hostNetwork"] = true
	atkEntry(t, live, "kubectl-patch", metav1.ManagedFieldsOperationUpdate, "",
		podSpecFields(`{"f:hostNetwork":{},"f:containers":{"k:{\"name\":\"web\"}":{"f:env":{`+strings.Join(keys, ",")+`}}}}`))
	start := time.Now()
	f, err := atkCompare(t, atkLayer(), git, live)
	took := time.Since(start)
	if err != nil || f == nil {
		t.Fatalf("no finding: %v", err)
	}
	if took > time.Second {
		t.Fatalf("one object with %d list items and %d crafted managedFields keys took %v to compare", n, n, took)
	}
}

// A deep fieldsV1 tree costs memory quadratic in its depth. owners.go walk
// follows f: keys whether or not live has the field, and builds each
// level's pointer by concatenation (ptr+"/"+name), so every level holds a
// string as long as the whole path so far: d levels of n-byte names are
// about n*d*d/2 bytes, all alive at once on the recursion's stack. One
// entry of 1000 levels of 100-byte names (104 KB) allocates about 118 MB
// and 2000 levels (208 KB) 429 MB, per walk (newReadOnly, changedBy and the
// ignored managers each walk). JSON decoders allow 10,000 levels, so a
// fieldsV1 near the 1.5 MB object limit (about 9,000 levels of 150-byte
// names) is several GB: an object anyone who can edit it controls can
// take the daemon down by OOM (not verified against a live API server's
// own limits). Should: stop the walk where live has no value (one level
// below is all serverOmitted needs), cap the depth, and build pointers
// only where something is recorded.
func TestAttackDeepFieldsV1Memory(t *testing.T) {
	const depth = 1000
	git, live := atkRead(t, "ssa-host-network")
	name := strings.Repeat("a", 100)
	fields := strings.Repeat(`{"f:`+name+`":`, depth) + "{}" + strings.Repeat("}", depth)
	atkEntry(t, live, "mallory", metav1.ManagedFieldsOperationUpdate, "", fields)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, err := atkCompare(t, atkLayer(), git, live)
	runtime.ReadMemStats(&after)
	if err != nil || f == nil {
		t.Fatalf("no finding: %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 200*uint64(len(fields)) {
		t.Fatalf("a %d KB fieldsV1 entry, %d levels deep, made the comparison allocate %d MB", len(fields)>>10, depth, alloc>>20)
	}
}

// ---------------------------------------------------------------------------
// 4. Secrets.

var hmacLine = regexp.MustCompile(`^\+\s+password: \(redacted, hmac ([0-9a-f]+)\)$`)

// Secret values are HMACs under one key per process (normalize.go mac,
// Layer.secretKey), the same for every object, every data key and every
// check. So the duplicate-object rule (app.go dropDuplicates) protects
// nothing: a Git author who sees driftd's reports but not the Secret puts
// a wrong copy of the real Secret in Git (its finding shows the live
// value's HMAC) and, beside it, a Secret that does not exist live with a
// thousand candidate values (its "missing" finding shows the HMAC of each)
// or the same candidates as extra keys of the real Secret: the matching
// HMAC is the live value. One check, any number of guesses, and again at
// every check. Should: derive the HMAC key per object and data key (e.g.
// HMAC(secretKey, ID + "\x00" + key) as the key for that value), so that
// only Git's one copy of that very key and the live value are comparable.
func TestAttackSecretHMACOracleAcrossObjects(t *testing.T) {
	l := atkLayer()
	git, live := atkRead(t, "secret-value-changed")
	f, err := atkCompare(t, l, git, live)
	if err != nil || f == nil {
		t.Fatalf("no finding for the changed Secret: %v", err)
	}
	var liveMAC string
	for _, line := range strings.Split(f.Diff, "\n") {
		if m := hmacLine.FindStringSubmatch(line); m != nil {
			liveMAC = m[1]
		}
	}
	if liveMAC == "" {
		t.Fatalf("no live password HMAC in:\n%s", f.Diff)
	}
	guesses := atkYAML(t, `apiVersion: v1
kind: Secret
metadata: {name: guesses, namespace: shop}
stringData:
  g1: password1
  g2: hunter2
  g3: hunter2-typed-by-hand
  g4: letmein
`)
	missing, err := atkCompare(t, l, guesses, nil)
	if err != nil || missing == nil {
		t.Fatalf("no missing finding: %v", err)
	}
	if strings.Contains(missing.Diff, liveMAC) {
		t.Errorf("the live password's HMAC %s is among another object's candidate values: the guess is confirmed\n%s", liveMAC, missing.Diff)
	}
	// The same within one object: extra keys in Git's copy of the Secret.
	sd := git.Object["stringData"].(map[string]any)
	sd["guess-1"], sd["guess-2"] = "hunter2", "hunter2-typed-by-hand"
	f, _ = atkCompare(t, atkLayerWithKey(l.secretKey), git, live)
	if f != nil && strings.Count(f.Diff, liveMAC) > 1 {
		t.Errorf("the live password's HMAC %s is also the HMAC of a Git-only key of the same Secret:\n%s", liveMAC, f.Diff)
	}
}

func atkLayerWithKey(k []byte) *Layer {
	l := atkLayer()
	l.secretKey = k
	return l
}

// apiError keeps only reason and fields for Invalid and BadRequest, but an
// admission webhook's denial has the reason its webhook set (usually none)
// and code 400 (apiserver webhook ToStatusErr), and a ValidatingAdmission
// Policy's can be Forbidden: apiError returns their Message verbatim. A
// policy whose message quotes the object (Kyverno variables,
// messageExpression over object or oldObject: the live Secret) puts a
// Secret value into the dry-run error, or, as dryRunRefused takes code 400
// and, in auto mode, Forbidden, into details.compare_note and the diff's
// first line. Should: for a dry run of a Secret (or always), name the
// webhook/policy and the reason and code, never the message.
func TestAttackAPIErrorQuotesAdmissionMessage(t *testing.T) {
	webhook := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 400,
		Message: `admission webhook "secrets.policy.example.com" denied the request: data.password "hunter2-typed-by-hand" is a breached password`}}
	vap := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden,
		Message: `secrets "creds" is forbidden: ValidatingAdmissionPolicy 'no-reuse' with binding 'no-reuse' denied request: old password aHVudGVyMi10eXBlZC1ieS1oYW5k may not be reused`}}
	for _, err := range []error{webhook, vap} {
		if !dryRunRefused(err, CompareAuto) {
			t.Errorf("not refused: %v", err)
		}
		if s := apiError(err); strings.Contains(s, "hunter2") || strings.Contains(s, "aHVudGVy") {
			t.Errorf("apiError quotes the Secret value: %s", s)
		}
	}
}

// ---------------------------------------------------------------------------
// 5. The annotation's paths. The annotation's doc (annotation.go) says
// "What it silences is still listed as ignored"; "true" is listed
// (ignored_by), but `driftd.io/ignore: "/*"` (or "/spec, /metadata")
// silences the whole object with no finding at all, so nothing is listed
// or counted in driftd_ignored_objects. Should: a path set that covers
// every difference still yields a finding marked ignored_by (or "/*" is
// refused / treated as "true").
func TestAttackAnnotationRootWildcardUnlisted(t *testing.T) {
	git, live := atkRead(t, "ssa-host-network")
	git.SetAnnotations(map[string]string{IgnoreAnnotation: "/*"})
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatal(err)
	}
	if f == nil {
		t.Fatalf(`driftd.io/ignore: "/*" hides hostNetwork added by hand without listing the object as ignored`)
	}
}

// Review of the working-tree fix for zero values (readonly.go
// serverOmitted): a zero scalar that Git declares and live lacks now
// counts as "omitted by the server" only when a server-side applier owns
// that very field or last-applied-configuration has it. Appliers that
// write through Update and keep no last-applied configuration (kubectl
// create and replace, Helm, the default "helm" and "kubectl-create"
// appliers) never own an omitted field, so `hostNetwork: false` in Git,
// which the server never stores, is drift forever on every object they
// created. Should: no finding (a dry run gives none); only pointer fields
// can tell a removal, so the decision needs the field's schema (or a list
// of the pointer fields), not its ownership.
func TestAttackZeroValueFalseDriftAfterCreate(t *testing.T) {
	git, live := atkRead(t, "create-in-sync")
	atkMap(t, git.Object, "spec", "template", "spec")["hostNetwork"] = false
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatal(err)
	}
	if f != nil {
		t.Fatalf("hostNetwork: false in Git (the server omits it) is drift on an object kubectl create made:\n%s", f.Diff)
	}
}

// The same inside an atomic list: server-side apply owns the list
// (f:tolerations), not its items' fields, so serverOmitted finds no owner
// for /tolerations/1/value and a toleration with `value: ""` (which the
// server omits) is drift forever. Should: no finding; an Apply owner of an
// enclosing atomic list or map counts too.
func TestAttackZeroValueInAtomicListFalseDrift(t *testing.T) {
	git, live := atkRead(t, "ssa-in-sync")
	gs := atkMap(t, git.Object, "spec", "template", "spec")
	gs["tolerations"] = append(gs["tolerations"].([]any), map[string]any{"key": "spot", "operator": "Exists", "value": ""})
	ls := atkMap(t, live.Object, "spec", "template", "spec")
	ls["tolerations"] = append(ls["tolerations"].([]any), map[string]any{"key": "spot", "operator": "Exists"})
	f, err := atkCompare(t, atkLayer(), git, live)
	if err != nil {
		t.Fatal(err)
	}
	if f != nil {
		t.Fatalf(`a toleration's value: "" (omitted by the server) is drift under server-side apply:`+"\n%s", f.Diff)
	}
}
