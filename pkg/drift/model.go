package drift

import (
	"context"
	"slices"
	"strings"
	"time"
)

// LayerName names one of driftd's layers.
type LayerName string

// The layers driftd knows about, in the order reports list them.
const (
	LayerInfra LayerName = "infra"
	LayerNode  LayerName = "node"
	LayerApp   LayerName = "app"
)

// Layers returns every layer driftd knows, in the order reports list them.
// Adding a layer starts here.
func Layers() []LayerName { return []LayerName{LayerInfra, LayerNode, LayerApp} }

// Known reports whether l is a layer driftd knows.
func (l LayerName) Known() bool { return slices.Contains(Layers(), l) }

// LayerNames lists the layers for messages: "infra, node or app".
func LayerNames() string {
	ls := Layers()
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = string(l)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Change says how one object differs between Git and reality.
type Change string

// The change kinds a finding can carry.
const (
	// ChangeChanged means the object exists on both sides and differs.
	ChangeChanged Change = "changed"
	// ChangeMissing means the object is in Git but absent in reality.
	ChangeMissing Change = "missing"
	// ChangeUnmanaged means the object exists in a managed scope in reality
	// but Git does not know it.
	ChangeUnmanaged Change = "unmanaged"
	// ChangeDrifted means reality was changed outside the tool that owns it
	// (Terraform's resource_drift).
	ChangeDrifted Change = "drifted"
	// ChangePending means Git changed and the change was never applied
	// (Terraform's resource_changes without matching drift).
	ChangePending Change = "pending"
	// ChangeNotCompared marks, in a check of a pull request, an object the
	// pull request declares that was deliberately not compared (a Secret
	// the base does not manage: comparing it would tell whether a guess of
	// its value is right).
	ChangeNotCompared Change = "not_compared"
)

// Finding is one drifted object.
type Finding struct {
	// Object identifies the object within its target: a Terraform resource
	// address, a file path, or group/kind/namespace/name.
	Object string `json:"object"`
	// Change is the kind of difference.
	Change Change `json:"change"`
	// Diff is a human-readable unified diff. It never holds secret values.
	Diff string `json:"diff,omitempty"`
	// Details holds structured, layer-specific facts, such as Terraform
	// actions. Values must be JSON-encodable and free of secrets.
	Details map[string]any `json:"details,omitempty"`
	// Class is set in a check against a base revision (--base): how the
	// finding relates to the pull request.
	Class Class `json:"class,omitempty"`
}

// TargetResult is the outcome of checking one target: a Terraform stack, a
// node, or a Kubernetes namespace. A target succeeds or fails on its own.
type TargetResult struct {
	// Name identifies the target within its layer.
	Name string `json:"name"`
	// Status is computed by Normalize from Err and Findings.
	Status Status `json:"status"`
	// Error is the reason the target could not be checked, if it could not.
	Error string `json:"error,omitempty"`
	// Findings lists the drifted objects, sorted by Normalize.
	Findings []Finding `json:"findings"`
	// Ignored lists the findings that ignore rules silenced, each with the
	// rule in its details (ignored_by). They do not count as drift.
	Ignored []Finding `json:"ignored,omitempty"`
	// Duration is how long the check of this target took.
	Duration time.Duration `json:"-"`
	// DurationSeconds mirrors Duration for JSON consumers.
	DurationSeconds float64 `json:"duration_seconds"`
	// Details holds structured, layer-specific facts about the check of
	// the target, such as how the app layer compared each kind.
	Details map[string]any `json:"details,omitempty"`
	// Managed lists the objects Git declares in this target, named as
	// findings name them, whether they drifted or not. A check against a
	// base revision uses it to tell what the base already manages; it is
	// not reported.
	Managed []string `json:"-"`
	// Private is the layer's own record of what the check saw, for apply
	// mode to verify that nothing changed since (resourceVersions, content
	// hashes, a saved plan). It is never reported.
	Private any `json:"-"`
}

// Fail returns a result for a target that could not be checked.
func Fail(name string, err error) TargetResult {
	return TargetResult{Name: name, Status: StatusUnknown, Error: err.Error()}
}

// LayerResult is the outcome of one layer.
type LayerResult struct {
	// Layer names the layer.
	Layer LayerName `json:"layer"`
	// Status is the worst status of the layer's targets, or unknown when the
	// layer as a whole failed.
	Status Status `json:"status"`
	// Error is set when the layer could not even enumerate its targets.
	Error string `json:"error,omitempty"`
	// Targets holds one result per target, sorted by name.
	Targets []TargetResult `json:"targets"`
	// Duration is the wall time of the whole layer.
	Duration time.Duration `json:"-"`
	// DurationSeconds mirrors Duration for JSON consumers.
	DurationSeconds float64 `json:"duration_seconds"`
}

// Snapshot is the config repo at one revision, checked out on disk.
type Snapshot struct {
	// Dir is the root of the checkout. Layers must treat it as read-only.
	Dir string
	// Revision is the commit hash, or a description for a local checkout.
	Revision string
	// MaxFileSize bounds any one file a layer reads from Dir; zero means
	// the default of package repofs. Layers read Dir only through repofs.
	MaxFileSize int64
}

// Layer compares one layer of the platform with Git. Implementations must be
// safe to call from one goroutine at a time, must honour ctx, and must report
// a target they could not check as unknown rather than leave it out.
type Layer interface {
	// Name returns the layer's name.
	Name() LayerName
	// Check compares reality with the snapshot and returns one result per
	// target. A non-nil error means the layer could not enumerate its targets
	// at all, for example because its inventory file is broken.
	Check(ctx context.Context, snap Snapshot) ([]TargetResult, error)
}
