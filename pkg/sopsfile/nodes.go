package sopsfile

import (
	"bytes"
	"errors"
	"io"

	"go.yaml.in/yaml/v3"
)

// yamlDocs parses each document of data into nodes. Nodes keep aliases as
// references, so this expands none of them.
func yamlDocs(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		doc := &yaml.Node{}
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
}

// checkNodes refuses aliases, which the sops YAML store expands without
// limit, nesting deeper than maxDepth, and mappings that would make the
// store's duplicate key check (yaml.v3's, which compares every pair of keys
// and reports every duplicate pair) quadratic: duplicate keys, and
// mappings with too many or too long keys.
func checkNodes(n *yaml.Node, depth int) error {
	if n.Kind == yaml.AliasNode {
		return YAML.errorf(ErrMalformed, "alias at line %d: YAML aliases are not supported (sops never writes them)", n.Line)
	}
	if depth > maxDepth {
		return YAML.errorf(ErrTooLarge, "nesting deeper than %d at line %d", maxDepth, n.Line)
	}
	if n.Kind == yaml.MappingNode {
		if err := checkMapping(n); err != nil {
			return err
		}
	}
	for _, c := range n.Content {
		if err := checkNodes(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func checkMapping(n *yaml.Node) error {
	keys := len(n.Content) / 2
	if keys > maxMappingKeys {
		return YAML.errorf(ErrTooLarge, "a mapping with more than %d keys at line %d", maxMappingKeys, n.Line)
	}
	type key struct {
		kind  yaml.Kind
		value string
	}
	seen := make(map[key]int, keys)
	size := 0
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if line, dup := seen[key{k.Kind, k.Value}]; dup {
			return YAML.errorf(ErrMalformed, "mapping key %.40q at line %d already defined at line %d", k.Value, k.Line, line)
		}
		seen[key{k.Kind, k.Value}] = k.Line
		size += len(k.Value)
	}
	if keys*size > maxKeyCompare {
		return YAML.errorf(ErrTooLarge, "a mapping at line %d whose %d keys hold %d bytes", n.Line, keys, size)
	}
	return nil
}

// sopsMapping returns the value of the top-level "sops" key of a YAML
// document, following one alias, or nil.
func sopsMapping(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "sops" {
			v := root.Content[i+1]
			if v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// hasKeys reports whether mapping n has all the scalar keys.
func hasKeys(n *yaml.Node, keys ...string) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	found := 0
	for _, want := range keys {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == want {
				found++
				break
			}
		}
	}
	return found == len(keys)
}
