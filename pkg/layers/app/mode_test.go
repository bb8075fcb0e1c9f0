package app

import (
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TestAccessCache: an answer is reused within accessTTL and asked again
// after it; a failed review is not remembered.
func TestAccessCache(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	a := accessCache{now: func() time.Time { return now }}
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	asked := 0
	answer, fail := true, false
	review := func() (bool, error) {
		asked++
		if fail {
			return false, errors.New("boom")
		}
		return answer, nil
	}
	for range 3 {
		if ok, err := a.canUpdate(t.Context(), gvr, "shop", review); !ok || err != nil {
			t.Fatalf("canUpdate = %v, %v", ok, err)
		}
	}
	if asked != 1 {
		t.Errorf("asked %d times within the TTL, want 1", asked)
	}
	answer = false
	now = now.Add(accessTTL)
	if ok, _ := a.canUpdate(t.Context(), gvr, "shop", review); ok || asked != 2 {
		t.Errorf("after the TTL: allowed %v, asked %d; want a new answer", ok, asked)
	}
	if _, err := a.canUpdate(t.Context(), gvr, "other", review); err != nil || asked != 3 {
		t.Errorf("another namespace was not asked on its own: %v, %d", err, asked)
	}
	fail = true
	now = now.Add(accessTTL)
	if _, err := a.canUpdate(t.Context(), gvr, "shop", review); err == nil {
		t.Fatal("a failed review was not reported")
	}
	fail = false
	if _, err := a.canUpdate(t.Context(), gvr, "shop", review); err != nil || asked != 5 {
		t.Errorf("a failed review was remembered: %v, asked %d", err, asked)
	}
}

// TestAPIErrorQuotesNoObject: the API server's message for an invalid
// object repeats its content; apiError keeps only the reason and fields.
func TestAPIErrorQuotesNoObject(t *testing.T) {
	err := apierrors.NewInvalid(schema.GroupKind{Group: "batch", Kind: "Job"}, "migrate", field.ErrorList{
		field.Invalid(field.NewPath("spec", "template"), map[string]any{"command": "echo a-secret-looking-argument"}, "field is immutable"),
		field.Required(field.NewPath("spec", "selector"), ""),
	})
	got := apiError(err)
	if strings.Contains(got, "a-secret-looking-argument") || !strings.Contains(err.Error(), "a-secret-looking-argument") {
		t.Fatalf("apiError quotes the object (or the test no longer shows it would): %q", got)
	}
	for _, want := range []string{"Invalid (422)", "spec.selector: FieldValueRequired", "spec.template: FieldValueInvalid"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New(`User "system:serviceaccount:driftd:driftd" cannot update resource "deployments" in API group "apps"`))
	if got := apiError(forbidden); !strings.Contains(got, `cannot update resource "deployments"`) {
		t.Errorf("forbidden: %q", got)
	}
	if !dryRunRefused(err, CompareDryRun) || dryRunRefused(forbidden, CompareDryRun) || !dryRunRefused(forbidden, CompareAuto) {
		t.Error("dryRunRefused: invalid is always refused; forbidden only in auto mode")
	}
}
