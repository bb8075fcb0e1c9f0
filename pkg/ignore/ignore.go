// Package ignore is driftd's one matcher for ignore rules, on every layer:
// it decides which findings a rule silences, which paths a rule removes
// within an object, and which rules have expired.
package ignore

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// Rule is the one grammar for differences that are not drift, in every
// layer: a selector (layer, target, object, and for the app layer kind and
// name), plus paths within matching objects. A rule without paths ignores
// whole objects. Ignored findings are not drift, but they are counted and
// listed (driftd_ignored_objects, driftd check --show-ignored).
type Rule struct {
	// Layer restricts the rule to one layer. Empty matches all.
	Layer drift.LayerName `yaml:"layer"`
	// Target is a glob on the target: a stack, a node or a namespace.
	Target string `yaml:"target"`
	// Object is a glob on the finding's object: a Terraform resource
	// address (module.edge.aws_security_group.*), a node path
	// (/etc/systemd/system/*.d/99-*.conf), or a Kubernetes object as
	// Kind/name (Deployment/web-*) or its full group/Kind/namespace/name.
	Object string `yaml:"object"`
	// Kind matches the object's kind (app layer) or resource type (infra).
	Kind string `yaml:"kind"`
	// Name is a glob on the object's name (app and infra layers).
	Name string `yaml:"name"`
	// Paths are what to ignore within matching objects: JSON Pointers (RFC
	// 6901) for app objects, attribute paths (/tags/owner) for Terraform
	// resources. The node layer compares whole files and has none.
	Paths []string `yaml:"paths"`
	// Managers are field managers (globs, as recorded in the live
	// object's metadata.managedFields: kube-controller-manager,
	// argocd-controller, ...) whose fields the rule sets aside within
	// matching app objects, wherever they are: an HPA's replicas, a
	// webhook's injected CA bundle.
	Managers []string `yaml:"managers"`
	// Reason says why, for the report.
	Reason string `yaml:"reason"`
	// Expires is the last day (YYYY-MM-DD) the rule applies; after it the
	// rule's findings are reported again, and the report says the rule
	// expired, so that acknowledged drift cannot quietly become permanent.
	Expires yamlconf.Date `yaml:"expires"`
}

// Validate reports what makes the rule unable to ever match, relative to
// the rule: a rule that could never match is an error, not a silent no-op.
func (r Rule) Validate() []yamlconf.FieldError {
	var errs []yamlconf.FieldError
	add := func(msg string, path ...string) { errs = append(errs, yamlconf.FieldError{Path: path, Msg: msg}) }
	if r.Layer != "" && !r.Layer.Known() {
		add(fmt.Sprintf("unknown layer %q: use %s", r.Layer, drift.LayerNames()), "layer")
	}
	for _, g := range []struct{ key, v string }{{"target", r.Target}, {"object", r.Object}, {"name", r.Name}} {
		if _, err := path.Match(g.v, ""); err != nil {
			add(fmt.Sprintf("%q is not a valid glob: %v", g.v, err), g.key)
		}
	}
	for j, p := range r.Paths {
		if !strings.HasPrefix(p, "/") {
			add(fmt.Sprintf("%q is not a JSON Pointer: it must start with /", p), "paths", strconv.Itoa(j))
		}
	}
	if len(r.Managers) > 0 && r.Layer != "" && r.Layer != drift.LayerApp {
		add("only the app layer has field managers", "managers")
	}
	for j, m := range r.Managers {
		if _, err := path.Match(m, ""); err != nil {
			add(fmt.Sprintf("%q is not a valid glob: %v", m, err), "managers", strconv.Itoa(j))
		}
	}
	if r.Layer == drift.LayerNode {
		for _, f := range []struct{ key, v string }{{"kind", r.Kind}, {"name", r.Name}} {
			if f.v != "" {
				add(fmt.Sprintf("the node layer has no %s: match files with object (a path glob)", f.key), f.key)
			}
		}
		if len(r.Paths) > 0 {
			add("the node layer compares whole files and has no paths: match files with object", "paths")
		}
	}
	return errs
}

// Set holds the rules of one check, judged at one time.
type Set struct {
	rules []Rule
	now   time.Time
}

// New returns the rules as they apply at now.
func New(rules []Rule, now time.Time) *Set {
	return &Set{rules: rules, now: now}
}

// Object is what a rule matches within a target: the finding's object and,
// where the layer has them, its kind and name.
type Object struct {
	// ID is the finding's object: an address, a path, or
	// group/Kind/namespace/name.
	ID string
	// Kind is a Kubernetes kind or a Terraform resource type.
	Kind string
	// Name is the object's name.
	Name string
}

// ObjectOf derives the kind and name of a finding's object from its layer's
// identity scheme.
func ObjectOf(layer drift.LayerName, id string) Object {
	o := Object{ID: id}
	switch layer {
	case drift.LayerApp:
		// group/Kind/namespace/name or group/Kind/name.
		if parts := strings.Split(id, "/"); len(parts) >= 3 {
			o.Kind, o.Name = parts[1], parts[len(parts)-1]
		}
	case drift.LayerInfra:
		// [module.m.]...[data.]type.name[index]
		parts := strings.Split(id, ".")
		for len(parts) >= 2 && parts[0] == "module" {
			parts = parts[2:]
		}
		if len(parts) >= 1 && parts[0] == "data" {
			parts = parts[1:]
		}
		if len(parts) >= 2 {
			o.Kind = parts[0]
			o.Name, _, _ = strings.Cut(parts[1], "[")
		}
	}
	return o
}

// active reports whether rule r applies at s.now: through its expiry day.
func (s *Set) active(r Rule) bool {
	return r.Expires.IsZero() || s.now.Before(r.Expires.AddDate(0, 0, 1))
}

// matches reports whether rule r selects object o of target in layer.
func matches(r Rule, layer drift.LayerName, target string, o Object) bool {
	if r.Layer != "" && r.Layer != layer {
		return false
	}
	if !glob(r.Target, target) {
		return false
	}
	if r.Object != "" && !glob(r.Object, o.ID) && (o.Kind == "" || !glob(r.Object, o.Kind+"/"+o.Name)) {
		return false
	}
	if r.Kind != "" && r.Kind != o.Kind {
		return false
	}
	return glob(r.Name, o.Name)
}

func glob(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

// Paths returns the paths that active rules with paths remove within
// object o of target: JSON Pointers for the app layer, attribute paths for
// the infra layer.
func (s *Set) Paths(layer drift.LayerName, target string, o Object) []string {
	var out []string
	for _, r := range s.rules {
		if len(r.Paths) > 0 && s.active(r) && matches(r, layer, target, o) {
			out = append(out, r.Paths...)
		}
	}
	return out
}

// Managers returns the field managers whose fields active rules set aside
// within object o of target.
func (s *Set) Managers(layer drift.LayerName, target string, o Object) []string {
	var out []string
	for _, r := range s.rules {
		if len(r.Managers) > 0 && s.active(r) && matches(r, layer, target, o) {
			out = append(out, r.Managers...)
		}
	}
	return out
}

// Whole returns the first active rule without paths that silences object
// o of target, and a description of it for the report.
func (s *Set) Whole(layer drift.LayerName, target string, o Object) (string, bool) {
	for i, r := range s.rules {
		if len(r.Paths) == 0 && len(r.Managers) == 0 && s.active(r) && matches(r, layer, target, o) {
			return describe(i, r), true
		}
	}
	return "", false
}

func describe(i int, r Rule) string {
	d := fmt.Sprintf("ignore[%d]", i)
	if r.Reason != "" {
		d += ": " + r.Reason
	}
	if !r.Expires.IsZero() {
		d += fmt.Sprintf(" (until %s)", r.Expires.Format(time.DateOnly))
	}
	return d
}

// Expired returns a notice for each rule past its expiry date.
func (s *Set) Expired() []string {
	var out []string
	for i, r := range s.rules {
		if !s.active(r) {
			out = append(out, fmt.Sprintf("ignore[%d] expired on %s: what it ignored is reported again (%s)", i, r.Expires.Format(time.DateOnly), orNoReason(r.Reason)))
		}
	}
	return out
}

func orNoReason(s string) string {
	if s == "" {
		return "no reason given"
	}
	return "reason: " + s
}

// Apply moves the findings that an active rule without paths silences from
// each target's Findings to its Ignored, noting the rule in the finding's
// details, and adds a notice for each expired rule. It runs once per
// check, on every layer alike.
func (s *Set) Apply(rep *drift.Report) {
	for li := range rep.Layers {
		l := &rep.Layers[li]
		for ti := range l.Targets {
			t := &l.Targets[ti]
			kept := t.Findings[:0]
			for _, f := range t.Findings {
				if _, marked := f.Details["ignored_by"]; marked {
					// The layer found that only ignored paths differ.
					t.Ignored = append(t.Ignored, f)
					continue
				}
				if by, ok := s.Whole(l.Layer, t.Name, ObjectOf(l.Layer, f.Object)); ok {
					if f.Details == nil {
						f.Details = map[string]any{}
					}
					f.Details["ignored_by"] = by
					t.Ignored = append(t.Ignored, f)
					continue
				}
				kept = append(kept, f)
			}
			t.Findings = kept
		}
	}
	rep.Notices = append(rep.Notices, s.Expired()...)
}
