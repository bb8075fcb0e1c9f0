package drift

import "context"

// Applier is a layer that can bring drifted objects back to what Git says.
// Apply mode calls it, one target at a time, with findings of a check it
// has just made; never from `driftd check`.
type Applier interface {
	// Apply restores the given findings of one target, as the check whose
	// result is target found them in snap. Before changing an object it
	// makes sure the object is still as the check saw it (the app layer by
	// resourceVersion, the node layer by content, the infra layer by
	// applying the check's saved plan) and skips it otherwise: what was
	// reviewed is what is applied. With req.DryRun it changes nothing and
	// reports what it would do. It stops at the first failure.
	Apply(ctx context.Context, snap Snapshot, target TargetResult, req ApplyRequest) []ActionResult
}

// ApplyRequest is what apply mode asks of a layer for one target.
type ApplyRequest struct {
	// Findings are the findings to restore; all belong to the target.
	Findings []Finding
	// DryRun asks for the actions without taking them.
	DryRun bool
}

// The results of an action.
const (
	ResultApplied    = "applied"
	ResultWouldApply = "would_apply"
	ResultSkipped    = "skipped"
	ResultBlocked    = "blocked"
	ResultFailed     = "failed"
)

// ActionResult is what became of one object in apply mode.
type ActionResult struct {
	// Layer and Target locate the object; Object names it as its finding
	// does.
	Layer  LayerName `json:"layer"`
	Target string    `json:"target"`
	Object string    `json:"object"`
	// Action is what apply does: restore, create, delete, or plan (the
	// infra layer applies a stack's saved plan as one action).
	Action string `json:"action"`
	// Result is applied, would_apply (a dry run), skipped (the object
	// changed since the check, or a rule says not to), blocked (a rail
	// stopped it) or failed.
	Result string `json:"result"`
	// Reason says why an action was skipped, blocked or failed.
	Reason string `json:"reason,omitempty"`
	// Diff is the change, before to after, as the finding showed it.
	Diff string `json:"diff,omitempty"`
}

// ActionFor names what apply does about a finding: create what is
// missing, delete what is unmanaged, restore the rest.
func ActionFor(f Finding) string {
	switch f.Change {
	case ChangeMissing:
		return "create"
	case ChangeUnmanaged:
		return "delete"
	default:
		return "restore"
	}
}
