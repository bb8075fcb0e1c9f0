package report

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/driftd/driftd/pkg/drift"
)

// located is a finding with the layer and target it was found in.
type located struct {
	layer  drift.LayerName
	target string
	f      drift.Finding
}

// classGroup holds the findings of one class, in report order.
type classGroup struct {
	class    drift.Class
	findings []located
}

// groupByClass groups the findings of a check against a base revision by
// class, in the order of drift.Classes(), followed by any finding without
// a class. Within a group, findings keep report order (layer, target,
// object). Classes without findings are left out. The config change
// (r.Config) is not among them: every renderer shows it first, on its own.
func groupByClass(r drift.Report) []classGroup {
	order := append(drift.Classes(), "")
	byClass := map[drift.Class][]located{}
	for _, l := range r.Layers {
		for _, t := range l.Targets {
			for _, f := range t.Findings {
				c := f.Class
				if !knownClass(c) {
					c = ""
				}
				byClass[c] = append(byClass[c], located{l.Layer, t.Name, f})
			}
		}
	}
	var out []classGroup
	for _, c := range order {
		if fs := byClass[c]; len(fs) > 0 {
			out = append(out, classGroup{c, fs})
		}
	}
	return out
}

func knownClass(c drift.Class) bool { return slices.Contains(drift.Classes(), c) }

// classLabel is the class in lower case for counts and table cells:
// "already drifted". A finding without a class is "unclassified".
func classLabel(c drift.Class) string {
	if c == "" || !knownClass(c) {
		return "unclassified"
	}
	return strings.ReplaceAll(string(c), "_", " ")
}

// classCounts is the header line of a check against a base revision:
// "2 collision, 1 introduced, 3 already drifted, 1 resolved", every class
// named even when it has none, the config change included. Findings
// without a class, which a check against a base should not have, are
// counted last when there are any.
func classCounts(r drift.Report) string {
	n := r.CountClasses()
	var parts []string
	other := 0
	for c, k := range n {
		if !knownClass(c) {
			other += k
		}
	}
	for _, c := range drift.Classes() {
		parts = append(parts, fmt.Sprintf("%d %s", n[c], classLabel(c)))
	}
	if other > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", other, classLabel("")))
	}
	return strings.Join(parts, ", ")
}

// classMeaning is the one line that explains a class to the reader of a
// pull request.
func classMeaning(c drift.Class) string {
	switch c {
	case drift.ClassCollision:
		return "merging and applying would undo a change made live"
	case drift.ClassIntroduced:
		return "only the pull request differs from live: merging and applying will make this change"
	case drift.ClassAlreadyDrifted:
		return "live already differs from the base the same way: the drift is older than the pull request"
	case drift.ClassResolved:
		return "the pull request writes a change made live into Git: live already matches it (not a failure)"
	default:
		return "differs from live"
	}
}

// configMeaning explains the config change (drift.Report.Config).
const configMeaning = "the pull request changes driftd's config; its settings were not used by this check"

// changer is who last wrote the fields in which Git and live differ, as
// the app layer records it in a finding's details["changed_by"]: a list
// of field managers, the latest first. In process the app layer stores
// its own struct type; a report read back from JSON holds maps. Both
// shapes, and a single object instead of a list, are read through their
// JSON form.
type changer struct {
	Manager     string `json:"manager"`
	Operation   string `json:"operation"`
	Subresource string `json:"subresource"`
	Time        string `json:"time"`
}

// maxChangers bounds how many changers a report names per finding.
const maxChangers = 3

// changedBy returns the changers a finding's details name, or nil.
func changedBy(f drift.Finding) []changer {
	v, ok := f.Details["changed_by"]
	if !ok || v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var list []changer
	if err := json.Unmarshal(raw, &list); err != nil {
		var one changer
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil
		}
		list = []changer{one}
	}
	out := list[:0]
	for _, c := range list {
		if c.Manager != "" {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// describeChangers names the changers for a sentence, each value passed
// through quote (which makes it safe for the output format): "kubectl-edit
// at 2026-11-22T09:58:00Z, hpa through the scale subresource".
func describeChangers(cs []changer, quote func(string) string) string {
	var parts []string
	for i, c := range cs {
		if i == maxChangers {
			parts = append(parts, fmt.Sprintf("%d more", len(cs)-maxChangers))
			break
		}
		s := quote(c.Manager)
		if c.Subresource != "" {
			s += " through the " + quote(c.Subresource) + " subresource"
		}
		if c.Time != "" {
			s += " at " + quote(c.Time)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// changeNote is the sentence that names who changed a finding's object
// live, and when, from details["changed_by"]; empty when the layer does
// not know. For a collision it says what merging would undo.
func changeNote(f drift.Finding, quote func(string) string) string {
	cs := changedBy(f)
	if len(cs) == 0 {
		return ""
	}
	who := describeChangers(cs, quote)
	if f.Class == drift.ClassCollision {
		return "Merging and applying would undo the change made live by " + who + "."
	}
	return "Changed live by " + who + "."
}

// findingMeaning is what a finding's class means for it, naming who
// changed the object live and when where the layer knows: the one line
// JUnit and SARIF give a finding.
func findingMeaning(f drift.Finding, quote func(string) string) string {
	msg := classMeaning(f.Class)
	note := changeNote(f, quote)
	if note == "" {
		return msg
	}
	note = strings.ToLower(note[:1]) + strings.TrimSuffix(note[1:], ".")
	if f.Class == drift.ClassCollision {
		return note // says what merging would undo, and whose
	}
	return msg + "; " + note
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut with
// an ellipsis, so that a name or an error from a live system cannot make a
// fixed part of a report arbitrarily long.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !runeStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func runeStart(b byte) bool { return b&0xc0 != 0x80 }
