// Package manifest decodes Kubernetes manifests (YAML or JSON documents)
// into objects, with the bounds every reader of a hostile repository
// needs: the app layer's loader and the Helm renderer share it.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"
)

// MaxAliasExpansion bounds how many nodes YAML aliases may add to a file
// when expanded. Manifests that use anchors (`<<: *defaults`) add a few
// hundred; an alias bomb ("billion laughs") adds billions from a few
// hundred bytes.
const MaxAliasExpansion = 100_000

// ErrAliasBomb is returned, wrapped, for YAML whose aliases expand beyond
// MaxAliasExpansion nodes.
var ErrAliasBomb = errors.New("YAML aliases expand to too many nodes")

// CheckAliases refuses YAML whose aliases would expand past
// MaxAliasExpansion nodes, before anything expands them. It parses the
// documents into nodes, which keep aliases as references, and counts the
// expansion with memoization, so its cost is linear in the input.
func CheckAliases(b []byte) error {
	if !bytes.ContainsRune(b, '&') || !bytes.ContainsRune(b, '*') {
		return nil // no anchor, or no alias: nothing can expand
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			// Syntax errors are reported, with their line, by the decoder
			// that follows.
			return nil
		}
		memo := map[*yaml.Node]int64{}
		var literal int64
		var size func(*yaml.Node) int64
		size = func(n *yaml.Node) int64 {
			if v, ok := memo[n]; ok {
				return v
			}
			memo[n] = 1 // a cycle counts once
			var total int64 = 1
			if n.Kind == yaml.AliasNode && n.Alias != nil {
				total = size(n.Alias)
			} else {
				literal++
				for _, c := range n.Content {
					// Saturate: a deep bomb would overflow int64.
					total = min(total+size(c), 1<<40)
				}
			}
			memo[n] = total
			return total
		}
		if total := size(&n); total-literal > MaxAliasExpansion {
			return fmt.Errorf("%w: more than %d added by aliases (document at line %d)", ErrAliasBomb, MaxAliasExpansion, n.Line)
		}
	}
}

// Decode turns one YAML or JSON document into objects; a List is
// flattened, and an empty document (or one of comments only) gives none.
// Strict refuses duplicate keys, as a file in Git should; otherwise the
// last one wins, as the Kubernetes client that helm applies with does. An
// object needs a name. Errors may quote the document: callers that show
// them sanitize them.
func Decode(doc []byte, strict bool) ([]*unstructured.Unstructured, error) {
	if len(bytes.TrimSpace(stripComments(doc))) == 0 {
		return nil, nil
	}
	toJSON := sigsyaml.YAMLToJSON
	if strict {
		toJSON = sigsyaml.YAMLToJSONStrict
	}
	j, err := toJSON(doc)
	if err != nil {
		return nil, err
	}
	if s := bytes.TrimSpace(j); string(s) == "null" || len(s) == 0 {
		return nil, nil
	}
	if !bytes.HasPrefix(bytes.TrimSpace(j), []byte("{")) {
		return nil, errors.New("not an object")
	}
	obj, _, err := unstructured.UnstructuredJSONScheme.Decode(j, nil, nil)
	if err != nil {
		return nil, err
	}
	if list, ok := obj.(*unstructured.UnstructuredList); ok {
		out := make([]*unstructured.Unstructured, 0, len(list.Items))
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
		return out, nil
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("unexpected object %T", obj)
	}
	if u.GetName() == "" {
		return nil, fmt.Errorf("%s %s: metadata.name is required", u.GetAPIVersion(), u.GetKind())
	}
	return []*unstructured.Unstructured{u}, nil
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(string(doc), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.Bytes()
}
