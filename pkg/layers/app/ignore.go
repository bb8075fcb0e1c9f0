package app

import (
	"path"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ignored returns the JSON Pointers to ignore in u, or an empty non-nil
// slice when the whole object is ignored, or nil when no rule applies.
func (l *Layer) ignored(u *unstructured.Unstructured) []string {
	var out []string
	matched := false
	target := u.GetNamespace()
	if target == "" {
		target = ClusterTarget
	}
	for _, r := range l.ignore {
		if r.Kind != "" && r.Kind != u.GetKind() {
			continue
		}
		if ok, _ := path.Match(orStar(r.Target), target); !ok {
			continue
		}
		if ok, _ := path.Match(orStar(r.Name), u.GetName()); !ok {
			continue
		}
		if len(r.Paths) == 0 {
			return []string{}
		}
		matched = true
		out = append(out, r.Paths...)
	}
	if !matched {
		return nil
	}
	return out
}

// wholeIgnored reports whether a rule without paths matches u.
func (l *Layer) wholeIgnored(u *unstructured.Unstructured) bool {
	p := l.ignored(u)
	return p != nil && len(p) == 0
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}
