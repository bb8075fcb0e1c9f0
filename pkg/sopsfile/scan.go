package sopsfile

import (
	"bytes"
	"errors"
	"io"

	"go.yaml.in/yaml/v3"
)

// countTokens returns an upper bound on the tokens of data read as YAML or
// JSON, or a number above limit as soon as it passes it: the
// whitespace-separated words, plus every flow, key or value indicator
// (, [ ] { } : ?) wherever it stands. It knows nothing of quoting or block
// scalars, on purpose: an input cannot hide tokens from it by opening a
// quote the parser does not see. Every node a YAML or JSON parser builds
// owns a word or an indicator, except implicit nulls and the collections
// holding them, so a document has at most three nodes per token.
func countTokens(data []byte, limit int) int {
	n := 0
	inWord := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case ' ', '\t', '\n', '\r':
			inWord = false
			continue
		case 0xc2: // NEL, a YAML line break
			if i+1 < len(data) && data[i+1] == 0x85 {
				inWord = false
				i++
				continue
			}
		case 0xe2: // LS and PS, YAML line breaks
			if i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xa8 || data[i+2] == 0xa9) {
				inWord = false
				i += 2
				continue
			}
		case ',', '[', ']', '{', '}', ':', '?':
			n++
		}
		if !inWord {
			n++
			inWord = true
		}
		if n > limit {
			return n
		}
	}
	return n
}

// jsonDepth returns the deepest nesting of objects and arrays in data read
// as JSON, or a number above limit as soon as it passes it. JSON strings
// are the only place a bracket is not one, and they cannot hide anything:
// a decoder reads them the same way.
func jsonDepth(data []byte, limit int) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > limit {
					return deepest
				}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return deepest
}

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
