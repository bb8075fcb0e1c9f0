package infra

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/pkg/drift"
)

const (
	sensitiveText = "(sensitive value)"
	unknownText   = "(known after apply)"
)

// Findings turns a plan into findings. It is pure: the same plan always gives
// the same findings, and no value the plan marks sensitive is ever copied
// into one.
//
// ignored gives, per resource address, the attribute paths that ignore
// rules set aside (JSON Pointers: /tags/owner, /ingress/0/cidr_blocks); a
// change that touches nothing else is marked ignored (details
// "ignored_by"), for the engine to list with the other ignored findings.
func Findings(p *tfjson.Plan, ignored func(addr string) []string) []drift.Finding {
	return findingsWith(p, ignored, nil)
}

// findingsWith is Findings that also honours the configuration's lifecycle
// ignore_changes: drift only in attributes a resource ignores is marked
// ignored, and a planned change that restores the rest is not pending.
func findingsWith(p *tfjson.Plan, ignored func(addr string) []string, lifecycle map[string]ignoreChanges) []drift.Finding {
	out := findings(p, lifecycle)
	markLifecycleIgnored(out, p, lifecycle)
	if ignored == nil {
		return out
	}
	changes := map[string]*tfjson.Change{}
	for _, rc := range p.ResourceDrift {
		if rc != nil {
			changes["drifted "+rc.Address] = rc.Change
		}
	}
	for _, rc := range p.ResourceChanges {
		if rc != nil {
			changes["pending "+rc.Address] = rc.Change
		}
	}
	for i, f := range out {
		paths := ignored(f.Object)
		c := changes[string(f.Change)+" "+f.Object]
		if len(paths) == 0 || c == nil || !onlyIn(c, paths) {
			continue
		}
		out[i].Details["ignored_by"] = "ignore paths " + strings.Join(paths, ", ")
	}
	return out
}

// onlyIn reports whether every known difference between a change's before
// and after values lies under one of the attribute paths (JSON Pointers).
// Values that become known only after apply are consequences, not causes.
func onlyIn(c *tfjson.Change, pointers []string) bool {
	var paths []string
	for _, p := range pointers {
		paths = append(paths, attrPath(p))
	}
	return onlyInPaths(c, paths)
}

// onlyInPaths is onlyIn with paths in terraform's notation (tags.team).
func onlyInPaths(c *tfjson.Change, paths []string) bool {
	if c.Before == nil || c.After == nil {
		return false // created or deleted: the whole object changes
	}
	before, after := flatten(c.Before), flatten(c.After)
	unknown := markSet(c.AfterUnknown)
	for _, k := range sortedKeys(before, after) {
		if unknown.covers(k) {
			continue
		}
		bv, bok := before[k]
		av, aok := after[k]
		if bok == aok && reflect.DeepEqual(bv, av) {
			continue
		}
		if !underAny(k, paths) {
			return false
		}
	}
	return true
}

// attrPath turns a JSON Pointer into terraform's attribute notation:
// /ingress/0/cidr_blocks becomes ingress[0].cidr_blocks.
func attrPath(pointer string) string {
	var b strings.Builder
	for _, seg := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		seg = strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)
		if _, err := strconv.Atoi(seg); err == nil && b.Len() > 0 {
			b.WriteString("[" + seg + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteString(".")
		}
		b.WriteString(seg)
	}
	return b.String()
}

// Managed lists what the stack's configuration manages, named as findings
// name it: every resource the plan covers and every output.
func Managed(p *tfjson.Plan) []string {
	var out []string
	for _, rc := range p.ResourceChanges {
		if rc != nil {
			out = append(out, rc.Address)
		}
	}
	for name := range p.OutputChanges {
		out = append(out, "output."+name)
	}
	return out
}

func findings(p *tfjson.Plan, lifecycle map[string]ignoreChanges) []drift.Finding {
	var out []drift.Finding
	drifted := map[string]*tfjson.ResourceChange{}
	for _, rc := range p.ResourceDrift {
		if rc == nil || rc.Change == nil || rc.Change.Actions.NoOp() {
			continue
		}
		drifted[rc.Address] = rc
		out = append(out, drift.Finding{
			Object:  rc.Address,
			Change:  drift.ChangeDrifted,
			Diff:    driftDiff(rc),
			Details: details(rc),
		})
	}
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Change.Actions.NoOp() || rc.Change.Actions.Read() {
			continue
		}
		if d, ok := drifted[rc.Address]; ok && onlyUndoes(rc.Change, d.Change, lifecycle[configAddress(rc.Address)].paths) {
			// Applying Git would just restore what Terraform last recorded:
			// that is the drift itself, not a pending change.
			continue
		}
		out = append(out, drift.Finding{
			Object:  rc.Address,
			Change:  drift.ChangePending,
			Diff:    changeDiff(rc.Address, rc.Change, verb(rc.Change.Actions)),
			Details: details(rc),
		})
	}
	for name, oc := range p.OutputChanges {
		if oc == nil || oc.Actions.NoOp() {
			continue
		}
		addr := "output." + name
		out = append(out, drift.Finding{
			Object:  addr,
			Change:  drift.ChangePending,
			Diff:    changeDiff(addr, oc, verb(oc.Actions)),
			Details: map[string]any{"actions": actionStrings(oc.Actions)},
		})
	}
	return out
}

// onlyUndoes reports whether the planned change puts back exactly the values
// Terraform recorded before the drift: every attribute of the planned result
// that is known equals its recorded value, but for the attributes under
// ignoredPaths, which the plan leaves as reality has them.
func onlyUndoes(planned, driftChange *tfjson.Change, ignoredPaths []string) bool {
	recorded := flatten(driftChange.Before)
	after := flatten(planned.After)
	unknown := markSet(planned.AfterUnknown)
	for _, k := range sortedKeys(recorded, after) {
		if unknown.covers(k) || underAny(k, ignoredPaths) {
			continue
		}
		rv, rok := recorded[k]
		av, aok := after[k]
		if rok != aok || !reflect.DeepEqual(rv, av) {
			return false
		}
	}
	return true
}

func details(rc *tfjson.ResourceChange) map[string]any {
	d := map[string]any{
		"actions":       actionStrings(rc.Change.Actions),
		"type":          rc.Type,
		"provider_name": rc.ProviderName,
	}
	if rc.ModuleAddress != "" {
		d["module"] = rc.ModuleAddress
	}
	return d
}

func actionStrings(a tfjson.Actions) []string {
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = string(x)
	}
	return out
}

func verb(a tfjson.Actions) string {
	switch {
	case a.Create():
		return "will be created"
	case a.Delete():
		return "will be destroyed"
	case a.Replace():
		return "must be replaced"
	case a.Update():
		return "will be updated in-place"
	default:
		return "will change (" + strings.Join(actionStrings(a), ", ") + ")"
	}
}

// driftDiff describes how reality departs from what Terraform recorded.
func driftDiff(rc *tfjson.ResourceChange) string {
	if rc.Change.After == nil || rc.Change.Actions.Delete() {
		// Listing every attribute of a vanished object helps nobody; its
		// identity does.
		head := fmt.Sprintf("# %s has been deleted outside of Terraform\n", rc.Address)
		if before, ok := rc.Change.Before.(map[string]any); ok && before["id"] != nil && !markSet(rc.Change.BeforeSensitive).covers("id") {
			head += fmt.Sprintf("  - id = %s\n", render(before["id"]))
		}
		return head
	}
	return changeDiff(rc.Address, rc.Change, "has changed outside of Terraform")
}

// changeDiff renders a change attribute by attribute, in terraform's plan
// notation: + added, - removed, ~ changed. Sensitive values are masked and
// values not yet known are shown as such.
func changeDiff(addr string, c *tfjson.Change, headline string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s %s\n", addr, headline)
	before, after := flatten(c.Before), flatten(c.After)
	if c.Before != nil && !isObject(c.Before) {
		before = map[string]any{"value": c.Before}
	}
	if c.After != nil && !isObject(c.After) {
		after = map[string]any{"value": c.After}
	}
	bs, as := markSet(c.BeforeSensitive), markSet(c.AfterSensitive)
	unknown := markSet(c.AfterUnknown)
	show := func(v any, path string, sens marks) string {
		if sens.covers(path) || (path == "value" && sens[""]) {
			return sensitiveText
		}
		return render(v)
	}
	var lines []string
	computed := 0
	for _, k := range sortedKeys(before, after, keysOf(unknown)) {
		bv, bok := before[k]
		av, aok := after[k]
		unk := c.After != nil && unknown.covers(k)
		switch {
		case unk && bok:
			// A value that becomes unknown is almost always derived from
			// another change (an id, a checksum); count it, do not list it.
			computed++
		case unk:
			lines = append(lines, fmt.Sprintf("  + %s = %s", k, unknownText))
		case bok && !aok:
			if bv != nil {
				lines = append(lines, fmt.Sprintf("  - %s = %s", k, show(bv, k, bs)))
			}
		case !bok && aok:
			if av != nil {
				lines = append(lines, fmt.Sprintf("  + %s = %s", k, show(av, k, as)))
			}
		case !reflect.DeepEqual(bv, av) || bs.covers(k) != as.covers(k):
			lines = append(lines, fmt.Sprintf("  ~ %s = %s -> %s", k, show(bv, k, bs), show(av, k, as)))
		}
	}
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	if computed > 0 {
		fmt.Fprintf(&b, "  (%d computed attribute(s) will be known after apply)\n", computed)
	}
	return b.String()
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

func keysOf(m marks) map[string]any {
	out := make(map[string]any, len(m))
	for k := range m {
		if k != "" {
			out[k] = nil
		}
	}
	return out
}

// underAny reports whether the flattened key k is one of paths or lies
// below one.
func underAny(k string, paths []string) bool {
	return slices.ContainsFunc(paths, func(p string) bool {
		return k == p || strings.HasPrefix(k, p+".") || strings.HasPrefix(k, p+"[")
	})
}

// markLifecycleIgnored marks the drifted findings whose change lies only in
// attributes that the resource's lifecycle ignore_changes names (details
// "ignored_by"): Terraform accepts those values as they are, and no plan
// would touch them. A resource deleted outside Terraform stays drift.
func markLifecycleIgnored(out []drift.Finding, p *tfjson.Plan, rules map[string]ignoreChanges) {
	if len(rules) == 0 {
		return
	}
	changes := map[string]*tfjson.Change{}
	for _, rc := range p.ResourceDrift {
		if rc != nil {
			changes[rc.Address] = rc.Change
		}
	}
	for i, f := range out {
		c := changes[f.Object]
		if f.Change != drift.ChangeDrifted || c == nil || f.Details["ignored_by"] != nil {
			continue
		}
		r, ok := rules[configAddress(f.Object)]
		if !ok || c.Before == nil || c.After == nil {
			continue
		}
		if !r.all && !onlyInPaths(c, r.paths) {
			continue
		}
		what := strings.Join(r.paths, ", ")
		if r.all {
			what = "all"
		}
		out[i].Details["ignored_by"] = fmt.Sprintf("lifecycle ignore_changes = [%s] at %s", what, r.where)
	}
}
