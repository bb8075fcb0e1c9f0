package infra

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// flatten turns a JSON value into path -> scalar leaves, with paths written
// as terraform shows them: tags.Name, ingress[0].cidr_blocks[1]. Empty maps
// and lists are leaves, so that their appearance is visible.
func flatten(v any) map[string]any {
	out := map[string]any{}
	walkLeaves(v, func(path string, leaf any) {
		if path != "" {
			out[path] = leaf
		}
	})
	return out
}

// marks holds the paths that a plan's *_sensitive or after_unknown structure
// marks true. A true at a path marks everything below it too; a true at the
// root ("") marks the whole value.
type marks map[string]bool

func markSet(v any) marks {
	m := marks{}
	walkLeaves(v, func(path string, leaf any) {
		if b, ok := leaf.(bool); ok && b {
			m[path] = true
		}
	})
	return m
}

// walkLeaves calls fn for every leaf of a JSON value (scalars, and empty
// objects and lists) with its path in terraform's notation.
func walkLeaves(v any, fn func(path string, leaf any)) {
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			if len(t) == 0 {
				fn(prefix, t)
				return
			}
			for k, c := range t {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, c)
			}
		case []any:
			if len(t) == 0 {
				fn(prefix, t)
				return
			}
			for i, c := range t {
				walk(fmt.Sprintf("%s[%d]", prefix, i), c)
			}
		default:
			fn(prefix, t)
		}
	}
	walk("", v)
}

// covers reports whether path, or any path above it, is marked.
func (m marks) covers(path string) bool {
	if m[""] {
		return true
	}
	for p := path; p != ""; p = parent(p) {
		if m[p] {
			return true
		}
	}
	return false
}

// parent returns the path one level up: a.b[2] -> a.b -> a -> "".
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// render writes a scalar the way terraform's plan output does.
func render(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(t)
	case map[string]any:
		return "{}"
	case []any:
		return "[]"
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	}
}

func sortedKeys(ms ...map[string]any) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}
