package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/driftd/driftd/pkg/drift"
)

// FieldManager is the field manager driftd's apply mode writes as.
const FieldManager = "driftd"

// ApplyConfig configures what the app layer's apply mode may do.
type ApplyConfig struct {
	// ForceConflictsWith lists the field managers (globs) that Git wins
	// over: a server-side apply that conflicts only with them is forced.
	// A conflict with any other manager (a controller, an operator) is
	// reported and never forced. It defaults to the managers of hand
	// edits (DefaultForceConflictsWith); an empty list forces nothing.
	ForceConflictsWith []string `yaml:"force_conflicts_with"`
	// PruneProtected lists, as Kind/name (namespaced: Kind/namespace/name),
	// the Namespaces, PersistentVolumeClaims and CustomResourceDefinitions
	// that pruning may delete. Any other object of those kinds is never
	// deleted.
	PruneProtected []string `yaml:"prune_allowed"`
}

// DefaultForceConflictsWith are the field managers of hand edits: kubectl
// edit, patch, set, scale, label and annotate, and kubectl itself (kubectl
// scale writes as "kubectl"). Git wins over people; not over controllers.
func DefaultForceConflictsWith() []string {
	return []string{"kubectl", "kubectl-edit", "kubectl-patch", "kubectl-set", "kubectl-scale", "kubectl-label", "kubectl-annotate", "kubectl-client-side-apply"}
}

// protectedKinds are never pruned unless listed by name.
func protectedKinds() []string {
	return []string{"Namespace", "PersistentVolumeClaim", "CustomResourceDefinition"}
}

// applyRecord is what a check saw of one drifted object, for apply mode to
// act on exactly that.
type applyRecord struct {
	gvr             schema.GroupVersionResource
	namespace, name string
	kind            string
	// want is Git's object (nil for an unmanaged object).
	want *unstructured.Unstructured
	// liveRV is the live resourceVersion the check compared ("" when the
	// object was missing).
	liveRV string
	// aside are the pointers ignore rules and the annotation set aside,
	// and managers the field managers whose fields are set aside: apply
	// writes none of them.
	aside    []string
	managers []string
	// keysOnly: Git holds this Secret's values encrypted and no key was
	// configured, so apply has nothing to write.
	keysOnly bool
	// unstable: a chart's template rendered this object with values drawn
	// for this rendering only (a random password, a fresh certificate,
	// lookup's empty answer), which would replace the live ones.
	unstable bool
}

// applyRecords are a target's records, by finding object. They travel in
// drift.TargetResult.Private.
type applyRecords map[string]applyRecord

// Apply implements drift.Applier: a server-side apply as field manager
// driftd for changed and missing objects, a delete for unmanaged ones,
// each only if the object is still as the check saw it.
func (l *Layer) Apply(ctx context.Context, _ drift.Snapshot, target drift.TargetResult, req drift.ApplyRequest) []drift.ActionResult {
	recs, _ := target.Private.(applyRecords)
	var out []drift.ActionResult
	for _, f := range req.Findings {
		r := l.applyOne(ctx, recs, f, req.DryRun)
		out = append(out, r)
		if r.Result == drift.ResultFailed {
			break
		}
	}
	return out
}

func (l *Layer) applyOne(ctx context.Context, recs applyRecords, f drift.Finding, dryRun bool) drift.ActionResult {
	res := drift.ActionResult{Object: f.Object, Diff: f.Diff}
	rec, ok := recs[f.Object]
	if !ok {
		res.Action, res.Result, res.Reason = "restore", drift.ResultFailed, "the check kept no record of this object"
		return res
	}
	if rec.keysOnly {
		res.Action, res.Result, res.Reason = drift.ActionFor(f), drift.ResultSkipped, keysOnlyNote+": apply has no values to write"
		return res
	}
	if rec.unstable {
		res.Action, res.Result, res.Reason = drift.ActionFor(f), drift.ResultSkipped, "its chart template "+unstableNote
		return res
	}
	ri := l.dyn.Resource(rec.gvr).Namespace(rec.namespace)
	live, err := ri.Get(ctx, rec.name, metav1.GetOptions{})
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		res.Result, res.Reason = drift.ResultFailed, "get: "+apiError(err)
		return res
	}
	var dry []string
	if dryRun {
		dry = []string{metav1.DryRunAll}
	}
	done := drift.ResultApplied
	if dryRun {
		done = drift.ResultWouldApply
	}

	switch f.Change {
	case drift.ChangeUnmanaged:
		res.Action = "delete"
		switch {
		case !exists:
			res.Result, res.Reason = drift.ResultSkipped, "gone since the check"
		case live.GetResourceVersion() != rec.liveRV:
			res.Result, res.Reason = drift.ResultSkipped, "changed since the check: check again"
		case l.protected(rec):
			res.Result, res.Reason = drift.ResultSkipped, rec.kind+" is never pruned unless listed in layers.app.apply.prune_allowed"
		default:
			rv := rec.liveRV
			err := ri.Delete(ctx, rec.name, metav1.DeleteOptions{DryRun: dry, Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
			res.Result = done
			if err != nil {
				res.Result, res.Reason = drift.ResultFailed, "delete: "+apiError(err)
			}
		}
		return res
	case drift.ChangeMissing:
		res.Action = "create"
		if exists {
			res.Result, res.Reason = drift.ResultSkipped, "created by someone else since the check: check again"
			return res
		}
	default:
		res.Action = "restore"
		switch {
		case !exists:
			res.Result, res.Reason = drift.ResultSkipped, "deleted since the check: check again"
			return res
		case live.GetResourceVersion() != rec.liveRV:
			res.Result, res.Reason = drift.ResultSkipped, "changed since the check: check again"
			return res
		}
	}

	body := runtime.DeepCopyJSON(rec.want.Object)
	for _, p := range rec.aside {
		removePointer(body, p)
	}
	if exists && len(rec.managers) > 0 {
		dropOwned(normalize(live, l.secretKey), []map[string]any{body}, managedFields(live, rec.managers))
	}
	md, _ := body["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		body["metadata"] = md
	}
	if exists {
		// What was reviewed is what is applied: the server refuses the
		// apply if the object changed in the meantime.
		md["resourceVersion"] = rec.liveRV
	}
	if !exists {
		// Create, not a server-side apply, which would merge into an
		// object that appeared since the Get.
		_, err := ri.Create(ctx, &unstructured.Unstructured{Object: body}, metav1.CreateOptions{FieldManager: FieldManager, DryRun: dry})
		switch {
		case err == nil:
			res.Result = done
		case apierrors.IsAlreadyExists(err):
			res.Result, res.Reason = drift.ResultSkipped, "created by someone else since the check: check again"
		default:
			res.Result, res.Reason = drift.ResultFailed, "create: "+apiError(err)
		}
		return res
	}
	data, err := json.Marshal(body)
	if err != nil {
		res.Result, res.Reason = drift.ResultFailed, "encode: "+err.Error()
		return res
	}
	force := false
	for {
		_, err = ri.Patch(ctx, rec.name, types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force, DryRun: dry})
		if err == nil {
			res.Result = done
			return res
		}
		managers, fields := conflicts(err)
		switch {
		case len(managers) == 0 && apierrors.IsConflict(err):
			res.Result, res.Reason = drift.ResultSkipped, "changed since the check: check again"
		case len(managers) > 0 && !force && l.forceOver(managers):
			force = true
			continue
		case len(managers) > 0:
			res.Result, res.Reason = drift.ResultFailed, fmt.Sprintf("conflict with field manager %s on %s: not forced (Git wins only over layers.app.apply.force_conflicts_with)",
				strings.Join(managers, ", "), strings.Join(fields, ", "))
		default:
			res.Result, res.Reason = drift.ResultFailed, "server-side apply: "+apiError(err)
		}
		return res
	}
}

// conflicts reads the field managers and fields of a server-side apply
// conflict from the API's status causes.
func conflicts(err error) (managers, fields []string) {
	var st apierrors.APIStatus
	if !apierrors.IsConflict(err) || !asStatus(err, &st) {
		return nil, nil
	}
	d := st.Status().Details
	if d == nil {
		return nil, nil
	}
	for _, c := range d.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		// "conflict with \"kubectl-patch\" using v1"
		if _, rest, ok := strings.Cut(c.Message, `conflict with "`); ok {
			if m, _, ok := strings.Cut(rest, `"`); ok && !slices.Contains(managers, m) {
				managers = append(managers, m)
			}
		}
		fields = append(fields, c.Field)
	}
	return managers, fields
}

func asStatus(err error, st *apierrors.APIStatus) bool {
	s, ok := err.(apierrors.APIStatus) //nolint:errorlint // client-go returns *StatusError unwrapped
	if ok {
		*st = s
	}
	return ok
}

func (l *Layer) forceOver(managers []string) bool {
	for _, m := range managers {
		if !matchAny(l.cfg.Apply.ForceConflictsWith, m) {
			return false
		}
	}
	return true
}

func (l *Layer) protected(rec applyRecord) bool {
	if !slices.Contains(protectedKinds(), rec.kind) {
		return false
	}
	name := rec.kind + "/" + rec.name
	if rec.namespace != "" {
		name = rec.kind + "/" + rec.namespace + "/" + rec.name
	}
	return !slices.Contains(l.cfg.Apply.PruneProtected, name)
}
