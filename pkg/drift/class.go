package drift

import (
	"fmt"
	"slices"
	"strings"
)

// Class says, in a check of a pull request against its base (`driftd check
// --base`), how a finding relates to the change. Three states are compared:
// the base revision, the pull request's revision, and reality.
type Class string

// The classes, in the order reports list them.
const (
	// ClassCollision: the pull request changes an object that has also
	// drifted live, so merging and applying would undo a hand change.
	ClassCollision Class = "collision"
	// ClassIntroduced: only the pull request's side differs from reality;
	// it is what merging and applying will change.
	ClassIntroduced Class = "introduced"
	// ClassAlreadyDrifted: both sides differ from reality the same way; the
	// drift is older than the pull request.
	ClassAlreadyDrifted Class = "already_drifted"
	// ClassResolved: only the base differs from reality; the pull request
	// writes a hand change into Git.
	ClassResolved Class = "resolved"
)

// Classes lists every class in report order.
func Classes() []Class {
	return []Class{ClassCollision, ClassIntroduced, ClassAlreadyDrifted, ClassResolved}
}

// Title is the class as a heading: "Already drifted".
func (c Class) Title() string {
	s := strings.ReplaceAll(string(c), "_", " ")
	if s == "" {
		return "Drift"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// FailOn selects which findings make `driftd check` exit 2.
type FailOn string

// The --fail-on policies.
const (
	// FailOnAny fails on every finding where the checked tree differs from
	// reality: without --base, any drift; with it, every class but
	// resolved. It is the default.
	FailOnAny FailOn = "any"
	// FailOnIntroduced fails when merging would change reality: introduced
	// and collision findings (apply-before-merge workflows).
	FailOnIntroduced FailOn = "introduced"
	// FailOnCollision fails only when merging would undo a hand change.
	FailOnCollision FailOn = "collision"
	// FailOnDrift fails when reality has drifted from the base: already
	// drifted and collision findings (freeze merges into a drifted system).
	FailOnDrift FailOn = "drift"
	// FailOnNone never fails on findings; a target that could not be
	// checked still exits 1.
	FailOnNone FailOn = "none"
)

// FailOnNames lists the policies for messages and help.
func FailOnNames() string { return "any, introduced, collision, drift or none" }

// ParseFailOn validates a --fail-on value. Without a base there are no
// classes, so only any, drift and none mean something.
func ParseFailOn(s string, withBase bool) (FailOn, error) {
	f := FailOn(s)
	if !slices.Contains([]FailOn{FailOnAny, FailOnIntroduced, FailOnCollision, FailOnDrift, FailOnNone}, f) {
		return "", fmt.Errorf("--fail-on: unknown value %q: use %s", s, FailOnNames())
	}
	if !withBase && (f == FailOnIntroduced || f == FailOnCollision) {
		return "", fmt.Errorf("--fail-on=%s needs --base: without a base revision there is nothing to tell introduced changes from drift", s)
	}
	return f, nil
}

// Fails reports whether a finding of class c fails the check. A finding
// without a class (a check without --base) is plain drift.
func (f FailOn) Fails(c Class) bool {
	switch f {
	case FailOnNone:
		return false
	case FailOnIntroduced:
		return c == ClassIntroduced || c == ClassCollision
	case FailOnCollision:
		return c == ClassCollision
	case FailOnDrift:
		return c == "" || c == ClassAlreadyDrifted || c == ClassCollision
	default:
		return c != ClassResolved
	}
}

// ExitCode is the exit code of `driftd check` under policy f: 1 when
// anything could not be checked (it may hide drift), 2 when a finding fails
// the policy, else 0.
func (r *Report) ExitCode(f FailOn) int {
	if r.Status == StatusUnknown {
		return 1
	}
	if r.Config != nil && f.Fails(r.Config.Class) {
		return 2
	}
	for _, l := range r.Layers {
		for _, t := range l.Targets {
			for _, fd := range t.Findings {
				if f.Fails(fd.Class) {
					return 2
				}
			}
		}
	}
	return 0
}

// CountClasses counts the findings of each class, the config change
// included.
func (r *Report) CountClasses() map[Class]int {
	n := map[Class]int{}
	if r.Config != nil {
		n[r.Config.Class]++
	}
	for _, l := range r.Layers {
		for _, t := range l.Targets {
			for _, fd := range t.Findings {
				n[fd.Class]++
			}
		}
	}
	return n
}
