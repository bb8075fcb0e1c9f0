package app

import (
	"path"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ignored returns the JSON Pointers that ignore rules remove from u, and
// whether a rule without paths ignores u as a whole.
func (l *Layer) ignored(u *unstructured.Unstructured) (paths []string, whole bool) {
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
			return nil, true
		}
		paths = append(paths, r.Paths...)
	}
	return paths, false
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}
