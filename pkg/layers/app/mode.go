package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var ssarResource = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews"}

// kindMode decides once per kind and target, and only when an object of
// that kind differs as written, how the kind is compared.
type kindMode struct {
	once func() (string, string)
}

// newKindMode returns the comparison mode of gvr in ns for this check:
// forced by the config, or, in auto mode, dry-run where a
// SelfSubjectAccessReview says driftd may update the kind (a dry run is
// authorized like the write itself) and read-only elsewhere. The second
// value says why, for the report.
func (l *Layer) newKindMode(ctx context.Context, gvr schema.GroupVersionResource, ns string) *kindMode {
	return &kindMode{once: sync.OnceValues(func() (string, string) {
		switch l.cfg.Compare {
		case CompareReadOnly, CompareDryRun:
			return l.cfg.Compare, "compare: " + l.cfg.Compare
		}
		allowed, err := l.access.canUpdate(ctx, gvr, ns, func() (bool, error) { return l.canUpdate(ctx, gvr, ns) })
		switch {
		case err != nil:
			l.logger.Warn("access review failed: comparing read-only", "resource", gvrString(gvr), "namespace", ns, "error", err)
			return CompareReadOnly, "access review failed"
		case allowed:
			return CompareDryRun, "update allowed"
		}
		return CompareReadOnly, "update not allowed"
	})}
}

// canUpdate asks the API server whether driftd's identity may update gvr
// in ns.
func (l *Layer) canUpdate(ctx context.Context, gvr schema.GroupVersionResource, ns string) (bool, error) {
	review := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authorization.k8s.io/v1",
		"kind":       "SelfSubjectAccessReview",
		"spec": map[string]any{"resourceAttributes": map[string]any{
			"verb": "update", "group": gvr.Group, "version": gvr.Version, "resource": gvr.Resource, "namespace": ns,
		}},
	}}
	out, err := l.dyn.Resource(ssarResource).Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("self subject access review: %w", err)
	}
	allowed, _, _ := unstructured.NestedBool(out.Object, "status", "allowed")
	return allowed, nil
}

// dryRunRefused reports whether a dry-run replace failed for a reason that
// the read-only comparison does not have: the object cannot be replaced
// (immutable fields of a Job, an immutable ConfigMap recreated live) or,
// in auto mode, the permission went away since the access review.
func dryRunRefused(err error, mode string) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsMethodNotSupported(err) ||
		(mode != CompareDryRun && apierrors.IsForbidden(err))
}

// apiError describes an API error without quoting the object: an invalid
// object's message repeats its content (a whole pod template), so only the
// reason and the fields are kept.
func apiError(err error) string {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return err.Error()
	}
	s := st.Status()
	if s.Reason != metav1.StatusReasonInvalid {
		return safeMessage(s)
	}
	var fields []string
	if s.Details != nil {
		for _, c := range s.Details.Causes {
			fields = append(fields, fmt.Sprintf("%s: %s", c.Field, c.Type))
		}
	}
	slices.Sort(fields)
	msg := fmt.Sprintf("%s (%d)", s.Reason, s.Code)
	if len(fields) > 0 {
		msg += ": " + strings.Join(slices.Compact(fields), "; ")
	}
	return msg
}

// safeMessage keeps of an API error's message what cannot quote an
// object: RBAC's own refusal whole (it names the user, verb and
// resource), an admission webhook's or policy's name, and otherwise only
// the reason and code. What a webhook or policy says may quote the object,
// a Secret's data included.
func safeMessage(s metav1.Status) string {
	msg := s.Message
	for _, cut := range []string{" denied the request", " denied request"} {
		if i := strings.Index(msg, cut); i >= 0 {
			return msg[:i+len(cut)] + fmt.Sprintf(" (%s, %d)", reasonOf(s), s.Code)
		}
	}
	if s.Reason == metav1.StatusReasonForbidden && strings.Contains(msg, " is forbidden: User ") && strings.Contains(msg, " cannot ") {
		return msg
	}
	return fmt.Sprintf("%s (%d)", reasonOf(s), s.Code)
}

func reasonOf(s metav1.Status) string {
	if s.Reason == "" {
		return "Failure"
	}
	return string(s.Reason)
}

// modeSummary says which comparison each kind of a target used, for the
// target's details: {"read-only": ["configmaps", "deployments.apps"]}.
func modeSummary(used map[string]map[string]bool) map[string][]string {
	if len(used) == 0 {
		return nil
	}
	out := map[string][]string{}
	for mode, kinds := range used {
		for k := range kinds {
			out[mode] = append(out[mode], k)
		}
		sort.Strings(out[mode])
	}
	return out
}

// accessTTL is how long an access review's answer is reused: a permission
// granted shows up within it, and one revoked earlier makes the dry run
// fail as forbidden, which auto mode answers by comparing read-only.
const accessTTL = 10 * time.Minute

// accessCache remembers access reviews across checks, so that a steady
// state check asks nothing but its LISTs.
type accessCache struct {
	mu      sync.Mutex
	answers map[accessKey]accessAnswer
	now     func() time.Time
}

type accessKey struct {
	gvr schema.GroupVersionResource
	ns  string
}

type accessAnswer struct {
	allowed bool
	at      time.Time
}

// canUpdate returns the remembered answer for gvr in ns, or asks review.
// Failed reviews are not remembered.
func (a *accessCache) canUpdate(_ context.Context, gvr schema.GroupVersionResource, ns string, review func() (bool, error)) (bool, error) {
	k := accessKey{gvr, ns}
	a.mu.Lock()
	ans, ok := a.answers[k]
	now := a.now()
	a.mu.Unlock()
	if ok && now.Sub(ans.at) < accessTTL {
		return ans.allowed, nil
	}
	allowed, err := review()
	if err != nil {
		return false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.answers == nil {
		a.answers = map[accessKey]accessAnswer{}
	}
	a.answers[k] = accessAnswer{allowed: allowed, at: now}
	return allowed, nil
}
