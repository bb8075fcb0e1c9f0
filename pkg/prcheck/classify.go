package prcheck

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/driftd/driftd/pkg/drift"
)

// key names one object within one target of one layer.
type key struct {
	layer          drift.LayerName
	target, object string
}

// Classify merges the base's report and the pull request's (head) into one:
// the pull request's targets and errors, and each finding with its class.
// Findings are matched by layer, target and object:
//
//   - the base has no finding on the object: introduced;
//   - the base has the very same finding (change and diff): already
//     drifted, older than the pull request;
//   - the base has other findings on the object: collision; the object
//     drifted, and the pull request changes it too, so applying it would
//     undo the hand change;
//   - the base has findings and the pull request none: resolved, the
//     pull request writes reality into Git (the base's findings are kept).
//
// A head finding on an object the base does not declare is redacted: its
// live values would be news to whoever wrote the pull request. That holds
// for an object the base reported as unmanaged too, because such findings
// may show only a hash. A redacted finding keeps its change (exists live
// and differs, or missing). A Secret the base declares and the pull
// request's tree compared by value (its values are the pull request's: in
// the clear, or from a chart's values) is not compared either: whether it
// matches the live one would answer a guess of a value the base keeps
// encrypted; the base's findings on it stand, as already drifted. So it is
// for an object whose values either tree hides (the app layer's
// details.values_hidden: decrypted with SOPS, or holding a Secret's
// values): the pull request could put it in the clear, with values of its
// own, and its diff would show the live ones. Layers in trusted are not
// redacted: the job
// allowed them to run the pull request's code, which could send anything
// anywhere, so hiding its output would protect nothing and hide the plan
// from the reviewer.
func Classify(base, head drift.Report, trusted ...drift.LayerName) drift.Report {
	known := map[key]bool{}
	baseFind := map[key][]drift.Finding{}
	baseTargets := map[key]drift.TargetResult{}
	for _, l := range base.Layers {
		for _, t := range l.Targets {
			baseTargets[key{l.Layer, t.Name, ""}] = t
			for _, o := range t.Managed {
				known[key{l.Layer, t.Name, o}] = true
			}
			for _, f := range t.Findings {
				k := key{l.Layer, t.Name, f.Object}
				baseFind[k] = append(baseFind[k], f)
			}
		}
	}

	out := head
	out.Layers = make([]drift.LayerResult, len(head.Layers))
	for i, l := range head.Layers {
		out.Layers[i] = l
		out.Layers[i].Targets = make([]drift.TargetResult, 0, len(l.Targets))
		seen := map[string]bool{}
		for _, t := range l.Targets {
			seen[t.Name] = true
			nt := t
			nt.Findings = nil
			nt.Ignored = nil
			inHead := map[string]bool{}
			// A Secret the base does not declare is not compared at all:
			// "in sync" or not would tell whether the pull request guessed
			// its value.
			guarded := map[string]bool{}
			if l.Layer == drift.LayerApp && !slices.Contains(trusted, l.Layer) {
				for _, o := range t.Managed {
					if !known[key{l.Layer, t.Name, o}] && strings.HasPrefix(o, "core/Secret/") {
						guarded[o] = true
					}
				}
			}
			for _, o := range slices.Sorted(maps.Keys(guarded)) {
				inHead[o] = true
				nt.Findings = append(nt.Findings, drift.Finding{Object: o, Change: drift.ChangeNotCompared, Class: drift.ClassIntroduced,
					Diff: "# a Secret the base revision does not manage: not compared, so that a pull request cannot test guesses of its value\n"})
			}
			// Secrets whose values the pull request chose: the base's
			// findings stand for them.
			if l.Layer == drift.LayerApp && !slices.Contains(trusted, l.Layer) {
				keysOnly := detailObjects(t.Details, "sops_keys_only")
				hidden := detailObjects(t.Details, "values_hidden")
				maps.Copy(hidden, detailObjects(baseTargets[key{l.Layer, t.Name, ""}].Details, "values_hidden"))
				// A hidden object the pull request no longer declares
				// too: where unmanaged objects are reported, its
				// finding would show it live in full.
				for _, o := range slices.Compact(slices.Sorted(slices.Values(append(slices.Collect(maps.Keys(hidden)), t.Managed...)))) {
					secret := slices.Contains(t.Managed, o) && strings.HasPrefix(o, "core/Secret/") && !keysOnly[o]
					if known[key{l.Layer, t.Name, o}] && (secret || hidden[o]) {
						guarded[o] = true
						inHead[o] = true
						for _, f := range baseFind[key{l.Layer, t.Name, o}] {
							f.Class = drift.ClassAlreadyDrifted
							f.Details = maps.Clone(f.Details)
							if f.Details == nil {
								f.Details = map[string]any{}
							}
							f.Details["pull_request"] = valuesNotCompared
							nt.Findings = append(nt.Findings, f)
						}
					}
				}
			}
			for _, f := range t.Findings {
				k := key{l.Layer, t.Name, f.Object}
				if guarded[f.Object] {
					continue
				}
				inHead[f.Object] = true
				f.Class = classOf(f, baseFind[k])
				if f.Class == drift.ClassCollision {
					f.Details = withChangedBy(f.Details, baseFind[k])
				}
				if !known[k] && !slices.Contains(trusted, l.Layer) {
					f = redact(f)
				}
				nt.Findings = append(nt.Findings, f)
			}
			for _, f := range t.Ignored {
				if guarded[f.Object] {
					continue
				}
				if !known[key{l.Layer, t.Name, f.Object}] && !slices.Contains(trusted, l.Layer) {
					f = redact(f)
				}
				nt.Ignored = append(nt.Ignored, f)
			}
			// If the pull request's target could not be checked, nothing
			// is known about what it resolves.
			if bt, ok := baseTargets[key{l.Layer, t.Name, ""}]; ok && t.Error == "" {
				for _, f := range bt.Findings {
					if !inHead[f.Object] {
						f.Class = drift.ClassResolved
						nt.Findings = append(nt.Findings, f)
					}
				}
			}
			out.Layers[i].Targets = append(out.Layers[i].Targets, nt)
		}
		// A target the pull request removes (a node taken out of the
		// inventory, say): its base findings are resolved by removal.
		for _, bl := range base.Layers {
			if bl.Layer != l.Layer {
				continue
			}
			for _, bt := range bl.Targets {
				if seen[bt.Name] || len(bt.Findings) == 0 {
					continue
				}
				nt := drift.TargetResult{Name: bt.Name, Duration: bt.Duration, Details: bt.Details}
				for _, f := range bt.Findings {
					f.Class = drift.ClassResolved
					nt.Findings = append(nt.Findings, f)
				}
				out.Layers[i].Targets = append(out.Layers[i].Targets, nt)
			}
		}
	}
	out.Normalize()
	return out
}

// valuesNotCompared says why a finding is the base's.
const valuesNotCompared = "the pull request's values of this object are not compared with the live ones, which are secret (that would show them, or test guesses of them): the base's finding"

// detailObjects are the objects a target's details list under name: the
// app layer's sops_keys_only (compared by key names only) and
// values_hidden.
func detailObjects(details map[string]any, name string) map[string]bool {
	out := map[string]bool{}
	ko, _ := details[name].(map[string]any)
	switch objs := ko["objects"].(type) {
	case []string:
		for _, o := range objs {
			out[o] = true
		}
	case []any:
		for _, o := range objs {
			if s, ok := o.(string); ok {
				out[s] = true
			}
		}
	}
	return out
}

// classOf classifies a finding of the pull request by the base's findings
// on the same object. A collision takes who changed the object live from the
// base's finding when it does not say so itself.
func classOf(f drift.Finding, base []drift.Finding) drift.Class {
	if len(base) == 0 {
		return drift.ClassIntroduced
	}
	for _, b := range base {
		if b.Change == f.Change && b.Diff == f.Diff {
			return drift.ClassAlreadyDrifted
		}
	}
	return drift.ClassCollision
}

// withChangedBy returns details with the base's changed_by (who edited the
// object live, where the layer knows) when details lack one.
func withChangedBy(details map[string]any, base []drift.Finding) map[string]any {
	if _, ok := details["changed_by"]; ok {
		return details
	}
	for _, b := range base {
		if by, ok := b.Details["changed_by"]; ok {
			out := maps.Clone(details)
			if out == nil {
				out = map[string]any{}
			}
			out["changed_by"] = by
			return out
		}
	}
	return details
}

// redact keeps a finding's object, change and class, and drops its diff and
// details, which hold live values.
func redact(f drift.Finding) drift.Finding {
	what := "exists live and differs from the pull request"
	switch f.Change {
	case drift.ChangePending:
		what = "the pull request changes this (the plan may hold live values and what its code read)"
	case drift.ChangeMissing:
		what = "does not exist live"
	case drift.ChangeUnmanaged:
		what = "exists live and Git does not declare it"
	}
	return drift.Finding{
		Object:  f.Object,
		Change:  f.Change,
		Class:   f.Class,
		Diff:    fmt.Sprintf("# %s; live values not shown: the base revision does not manage this object, and a pull request may not read what the base does not already show\n", what),
		Details: map[string]any{"redacted": true},
	}
}
