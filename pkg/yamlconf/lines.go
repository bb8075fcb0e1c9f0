package yamlconf

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// LineOf returns the line of the deepest node along path that exists, so a
// missing key is reported at its parent.
func LineOf(root *yaml.Node, path []string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		next, keyLine := child(n, p)
		if next == nil {
			return line
		}
		n, line = next, keyLine
	}
	return line
}

// child returns the value under key p (or index p of a sequence) and the
// line on which it is named.
func child(n *yaml.Node, p string) (*yaml.Node, int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case yaml.SequenceNode:
		i, err := strconv.Atoi(p)
		if err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}

// pathOfKey finds the mapping key named key on line and returns its path of
// keys from the root, or nil.
func pathOfKey(root *yaml.Node, line int, key string) []string {
	var walk func(n *yaml.Node, path []string) []string
	walk = func(n *yaml.Node, path []string) []string {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if p := walk(c, path); p != nil {
					return p
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := append(append([]string(nil), path...), k.Value)
				if k.Line == line && k.Value == key {
					return p
				}
				if r := walk(n.Content[i+1], p); r != nil {
					return r
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if r := walk(c, append(append([]string(nil), path...), strconv.Itoa(i))); r != nil {
					return r
				}
			}
		}
		return nil
	}
	return walk(root, nil)
}
