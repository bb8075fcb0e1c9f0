// Package drifttest holds helpers that layer tests share to read results.
package drifttest

import (
	"maps"
	"slices"

	"github.com/driftd/driftd/pkg/drift"
)

// ByName normalizes results and indexes them by target name.
func ByName(results []drift.TargetResult) map[string]drift.TargetResult {
	out := make(map[string]drift.TargetResult, len(results))
	for _, r := range results {
		r.Normalize()
		out[r.Name] = r
	}
	return out
}

// Findings lists "TARGET CHANGE OBJECT" for every finding, by target name,
// then in each target's (sorted) order. With one target, leave the target
// out by passing withTarget false.
func Findings(res map[string]drift.TargetResult, withTarget bool) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(res)) {
		for _, f := range res[name].Findings {
			s := string(f.Change) + " " + f.Object
			if withTarget {
				s = name + " " + s
			}
			out = append(out, s)
		}
	}
	return out
}
