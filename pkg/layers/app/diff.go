package app

import (
	"fmt"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"
)

// yamlDiff is a unified diff of two normalized objects as YAML, from Git to
// live. A nil side is an absent object.
func yamlDiff(id string, git, live map[string]any) string {
	a, b := toLines(git), toLines(live)
	from, to := "git:"+id, "live:"+id
	if git == nil {
		from = "/dev/null"
	}
	if live == nil {
		to = "/dev/null"
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: a, B: b, FromFile: from, ToFile: to, Context: 3})
	if err != nil {
		return fmt.Sprintf("# diff failed: %v\n", err)
	}
	return d
}

func toLines(m map[string]any) []string {
	if m == nil {
		return nil
	}
	y, err := yaml.Marshal(m)
	if err != nil {
		return []string{fmt.Sprintf("# cannot render: %v\n", err)}
	}
	return difflib.SplitLines(string(y))[:len(difflib.SplitLines(string(y)))-1]
}
