// Package apply is driftd's apply mode: it brings drifted objects back to
// what Git says, only where the config allows it, only the drift, and
// within rails (caps on changes and deletions, a flap breaker, one target
// at a time, stop at the first failure). It acts on the findings of a check
// it has just made, and layers verify that each object is still as that
// check saw it.
package apply

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
)

// The reasons an action is skipped or blocked, also the reason label of
// driftd_apply_blocked_total.
const (
	ReasonNotAllowed   = "not_allowed"
	ReasonPending      = "pending"
	ReasonUnchecked    = "unchecked"
	ReasonPruneOff     = "prune_off"
	ReasonMaxChanges   = "max_changes"
	ReasonMaxDeletions = "max_deletions"
	ReasonFlapping     = "flapping"
	ReasonEarlierFail  = "earlier_failure"
	ReasonIgnored      = "ignored"
	ReasonWindow       = "window"
)

// Options configure one apply run.
type Options struct {
	// Config is the apply section of driftd.yaml.
	Config config.Apply
	// DryRun asks every layer for its actions without taking them.
	DryRun bool
	// Layers are the layers that can apply, by name.
	Layers map[drift.LayerName]drift.Applier
	// Breaker remembers restores across runs for the flap breaker; nil
	// disables it.
	Breaker *Breaker
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Reviewed, in a real run, is the dry run of the same revision that
	// the operator was shown: its actions count against the caps, and the
	// layers are not asked again. Each object is still verified when it is
	// changed.
	Reviewed *Result
	// Logger, when set, gets one line per action, with its diff (before
	// and after, as the finding showed it; never a secret value).
	Logger *slog.Logger
}

// Result is the outcome of one apply run.
type Result struct {
	// Revision is the revision whose findings were applied.
	Revision string `json:"revision"`
	// DryRun is set when nothing was changed on purpose.
	DryRun bool `json:"dry_run"`
	// Actions lists every drifted object and what became of it, in report
	// order.
	Actions []drift.ActionResult `json:"actions"`
	// Blocked names the rail that stopped the whole run, if one did.
	Blocked string `json:"blocked,omitempty"`
}

// Count returns how many actions ended with result r.
func (r Result) Count(result string) int {
	n := 0
	for _, a := range r.Actions {
		if a.Result == result {
			n++
		}
	}
	return n
}

// planned is one target's findings that apply may act on.
type planned struct {
	layer  drift.LayerName
	target drift.TargetResult
	todo   []drift.Finding
}

// Run plans and applies the drift of rep, a check of snap.
func Run(ctx context.Context, rep drift.Report, snap drift.Snapshot, o Options) Result {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	res := Result{Revision: rep.Revision, DryRun: o.DryRun}
	skip := func(l drift.LayerName, t string, f drift.Finding, result, reason string) {
		res.Actions = append(res.Actions, drift.ActionResult{Layer: l, Target: t, Object: f.Object, Action: drift.ActionFor(f), Result: result, Reason: reason, Diff: f.Diff})
	}

	var plan []planned
	changes, deletions := 0, 0
	for _, l := range rep.Layers {
		for _, t := range l.Targets {
			if len(t.Findings) == 0 {
				continue
			}
			switch {
			case l.Error != "":
				// Part of Git could not be read: what it declares would
				// look unmanaged, and a prune would delete it.
				for _, f := range t.Findings {
					skip(l.Layer, t.Name, f, drift.ResultSkipped, ReasonUnchecked+": the "+string(l.Layer)+" layer could not read all of Git: "+firstLine(l.Error))
				}
				continue
			case !allowed(o.Config.Targets[string(l.Layer)], t.Name):
				for _, f := range t.Findings {
					skip(l.Layer, t.Name, f, drift.ResultSkipped, ReasonNotAllowed+": the target is not in apply.targets."+string(l.Layer))
				}
				continue
			case o.Layers[l.Layer] == nil:
				for _, f := range t.Findings {
					skip(l.Layer, t.Name, f, drift.ResultSkipped, ReasonNotAllowed+": the "+string(l.Layer)+" layer cannot apply")
				}
				continue
			case t.Status == drift.StatusUnknown:
				for _, f := range t.Findings {
					skip(l.Layer, t.Name, f, drift.ResultSkipped, ReasonUnchecked+": the target could not be checked completely: "+t.Error)
				}
				continue
			case slices.ContainsFunc(t.Findings, func(f drift.Finding) bool { return f.Change == drift.ChangePending }):
				for _, f := range t.Findings {
					skip(l.Layer, t.Name, f, drift.ResultSkipped, ReasonPending+": the target has changes merged in Git and never applied; they belong to the deployment path, not to apply")
				}
				continue
			}
			p := planned{layer: l.Layer, target: t}
			for _, f := range t.Findings {
				if f.Change == drift.ChangeUnmanaged && !o.Config.Prune {
					skip(l.Layer, t.Name, f, drift.ResultSkipped, ReasonPruneOff+": deleting what Git does not declare needs apply.prune")
					continue
				}
				// One read of the breaker's history per object.
				switch why := o.Breaker.Tripped(key(l.Layer, t.Name, f.Object), now(), o.Config.FlapBreaker); {
				case why != "":
					skip(l.Layer, t.Name, f, drift.ResultBlocked, ReasonFlapping+": "+why)
				default:
					p.todo = append(p.todo, f)
					changes++
					if f.Change == drift.ChangeUnmanaged {
						deletions++
					}
				}
			}
			if len(p.todo) > 0 {
				plan = append(plan, p)
			}
		}
	}

	blockAll := func(block string) Result {
		res.Blocked = block
		for _, p := range plan {
			for _, f := range p.todo {
				skip(p.layer, p.target.Name, f, drift.ResultBlocked, block)
			}
		}
		o.log(res)
		return res
	}
	open, why := o.Config.Windows.Open(now())
	switch {
	case !open && changes > 0:
		return blockAll(ReasonWindow + ": " + why + "; nothing was applied")
	case changes > o.Config.MaxChanges:
		return blockAll(fmt.Sprintf("%s: %d changes exceed apply.max_changes (%d); nothing was applied", ReasonMaxChanges, changes, o.Config.MaxChanges))
	case deletions > o.Config.MaxDeletions:
		return blockAll(fmt.Sprintf("%s: %d deletions exceed apply.max_deletions (%d); nothing was applied", ReasonMaxDeletions, deletions, o.Config.MaxDeletions))
	}

	// The cap counts what the layers will do, not the findings: one
	// finding may become a write, a reload and a restart, and one plan
	// many resources. A real run takes that from the dry run the operator
	// reviewed (Options.Reviewed), or asks the layers' dry run first.
	var planned []drift.ActionResult
	before := len(res.Actions)
	switch {
	case o.DryRun:
		planned = o.execute(ctx, plan, snap, true, now, &res.Actions)
	case o.Reviewed != nil && o.Reviewed.DryRun && o.Reviewed.Revision == rep.Revision:
		planned = o.Reviewed.Actions
	default:
		var discard []drift.ActionResult
		planned = o.execute(ctx, plan, snap, true, now, &discard)
	}
	if block := capBlock(planned, o.Config); block != "" {
		// The dry run's actions will not be taken: each is blocked instead.
		res.Actions = res.Actions[:before]
		return blockAll(block)
	}
	if !o.DryRun {
		o.execute(ctx, plan, snap, false, now, &res.Actions)
	}
	o.log(res)
	return res
}

// capBlock checks the actions a dry run reports against the caps.
func capBlock(acts []drift.ActionResult, c config.Apply) string {
	changes, deletions := 0, 0
	for _, a := range acts {
		if a.Result != drift.ResultWouldApply {
			continue
		}
		changes++
		if a.Action == "delete" {
			deletions++
		}
	}
	switch {
	case changes > c.MaxChanges:
		return fmt.Sprintf("%s: the layers would make %d changes (writes, reloads, restarts, plans), above apply.max_changes (%d); nothing was applied", ReasonMaxChanges, changes, c.MaxChanges)
	case deletions > c.MaxDeletions:
		return fmt.Sprintf("%s: the layers would make %d deletions, above apply.max_deletions (%d); nothing was applied", ReasonMaxDeletions, deletions, c.MaxDeletions)
	}
	return ""
}

// execute runs the plan, one target at a time, stopping at the first
// failure, and appends every action to out. It returns the actions of this
// execution alone.
func (o Options) execute(ctx context.Context, plan []planned, snap drift.Snapshot, dryRun bool, now func() time.Time, out *[]drift.ActionResult) []drift.ActionResult {
	var mine []drift.ActionResult
	add := func(a drift.ActionResult) {
		mine = append(mine, a)
		*out = append(*out, a)
	}
	failed := false
	for _, p := range plan {
		if failed || ctx.Err() != nil {
			reason := ReasonEarlierFail + ": an earlier action failed; apply stops at the first failure"
			if !failed {
				reason = ReasonEarlierFail + ": " + ctx.Err().Error()
			}
			for _, f := range p.todo {
				add(drift.ActionResult{Layer: p.layer, Target: p.target.Name, Object: f.Object, Action: drift.ActionFor(f), Result: drift.ResultBlocked, Reason: reason, Diff: f.Diff})
			}
			continue
		}
		acts := o.Layers[p.layer].Apply(ctx, snap, p.target, drift.ApplyRequest{Findings: p.todo, DryRun: dryRun})
		byObject := map[string]drift.Finding{}
		for _, f := range p.todo {
			byObject[f.Object] = f
		}
		for _, a := range acts {
			a.Layer, a.Target = p.layer, p.target.Name
			if a.Result == drift.ResultFailed {
				failed = true
			}
			if a.Result == drift.ResultApplied {
				// One action may restore several objects (the infra
				// layer applies a stack's plan: "addr1, addr2").
				objs := []string{a.Object}
				if _, ok := byObject[a.Object]; !ok {
					objs = strings.Split(a.Object, ", ")
				}
				for _, obj := range objs {
					if f, ok := byObject[obj]; ok {
						o.Breaker.Record(key(p.layer, p.target.Name, obj), now(), changedBy(f), o.Config.FlapBreaker.Within.Std())
					}
				}
			}
			add(a)
		}
	}
	return mine
}

// log writes one line per action: applied and failed ones at info and
// warn, with their diff; the others at debug.
func (o Options) log(res Result) {
	if o.Logger == nil {
		return
	}
	for _, a := range res.Actions {
		attrs := []any{"layer", a.Layer, "target", a.Target, "object", a.Object, "action", a.Action, "result", a.Result, "dry_run", res.DryRun, "revision", res.Revision}
		switch a.Result {
		case drift.ResultApplied:
			o.Logger.Info("apply action", append(attrs, "diff", a.Diff)...)
		case drift.ResultFailed, drift.ResultBlocked:
			o.Logger.Warn("apply action", append(attrs, "reason", a.Reason)...)
		default:
			o.Logger.Debug("apply action", append(attrs, "reason", a.Reason)...)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// allowed reports whether target matches one of the patterns.
func allowed(patterns []string, target string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, target); ok {
			return true
		}
	}
	return false
}

func key(l drift.LayerName, target, object string) string {
	return string(l) + "\x00" + target + "\x00" + object
}

// changedBy names who changed the object live, where the layer knows it.
func changedBy(f drift.Finding) string {
	if v, ok := f.Details["changed_by"]; ok {
		return fmt.Sprint(v)
	}
	return ""
}
