package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// serverAnnotations are written by clients and controllers, never by Git.
var serverAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration", // holds a copy of the object, Secret values included
	"deployment.kubernetes.io/revision",
}

// normalize returns the parts of an object that Git can own: everything but
// status and server-owned metadata. Secret values are replaced by keyed
// hashes, so that nothing built from the result can leak them.
func normalize(u *unstructured.Unstructured, secretKey []byte) map[string]any {
	m := runtime.DeepCopyJSON(u.Object)
	delete(m, "status")
	meta, _ := m["metadata"].(map[string]any)
	keep := map[string]any{}
	for _, k := range []string{"name", "namespace", "labels", "annotations"} {
		if v, ok := meta[k]; ok {
			keep[k] = v
		}
	}
	if ann, ok := keep["annotations"].(map[string]any); ok {
		for _, a := range serverAnnotations {
			delete(ann, a)
		}
		if len(ann) == 0 {
			delete(keep, "annotations")
		}
	}
	if l, ok := keep["labels"].(map[string]any); ok && len(l) == 0 {
		delete(keep, "labels")
	}
	m["metadata"] = keep
	if u.GetKind() == "Secret" && (u.GroupVersionKind().Group == "") {
		redactSecret(m, secretKey, ID(u))
		// The one default of a Secret: applying it here lets an unchanged
		// Secret skip the dry run. Any other difference still takes it.
		if _, ok := m["type"]; !ok {
			m["type"] = "Opaque"
		}
	}
	return m
}

// redactSecret folds stringData into data and replaces every value with an
// HMAC of it under a key of its own per object and data key: the same
// value in the same place gives the same string, and nothing else is
// learnt. Were the key shared, a repository could plant guesses in other
// Secrets (or other keys) and match their hashes against the live value's.
func redactSecret(m map[string]any, key []byte, id string) {
	data := map[string]any{}
	if d, ok := m["data"].(map[string]any); ok {
		for k, v := range d {
			s, _ := v.(string)
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				raw = []byte(s)
			}
			data[k] = mac(key, id, k, raw)
		}
	}
	if sd, ok := m["stringData"].(map[string]any); ok {
		for k, v := range sd {
			s, _ := v.(string)
			data[k] = mac(key, id, k, []byte(s))
		}
	}
	delete(m, "stringData")
	if len(data) > 0 {
		m["data"] = data
	} else {
		delete(m, "data")
	}
}

func mac(key []byte, id, dataKey string, v []byte) string {
	// HMAC(key, id NUL dataKey) is the key for this place's values.
	place := hmac.New(sha256.New, key)
	place.Write([]byte(id + "\x00" + dataKey))
	h := hmac.New(sha256.New, place.Sum(nil))
	h.Write(v)
	return "(redacted, hmac " + hex.EncodeToString(h.Sum(nil))[:12] + ")"
}

// removePointer deletes the value at a JSON Pointer (RFC 6901), if any. A
// segment that is exactly * stands for every key or index at that level
// (/spec/template/spec/containers/*/image).
func removePointer(m map[string]any, ptr string) {
	if strings.Contains(ptr, "/*") {
		// Concrete pointers may hold a key that is itself "*": they are
		// removed as they are, never expanded again.
		for _, p := range expandPointer(m, "", strings.Split(strings.TrimPrefix(ptr, "/"), "/")) {
			removeExact(m, p)
		}
		return
	}
	removeExact(m, ptr)
}

// removeExact deletes the value at a JSON Pointer without wildcards.
func removeExact(m map[string]any, ptr string) {
	switch c, last, ok := walkTo(m, ptr); {
	case !ok:
	case c.m != nil:
		delete(c.m, last)
	default:
		// Arrays keep their length; the element becomes nil on both sides,
		// so it compares equal.
		if n, err := strconv.Atoi(last); err == nil && n >= 0 && n < len(c.l) {
			c.l[n] = nil
		}
	}
}

// expandPointer lists the concrete pointers under prefix (whose value is
// v) that the segments rest, * standing for any key or index, reach.
func expandPointer(v any, prefix string, rest []string) []string {
	if len(rest) == 0 {
		return []string{prefix}
	}
	seg, rest := rest[0], rest[1:]
	if seg != "*" {
		name := strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch c := v.(type) {
		case map[string]any:
			if sub, ok := c[name]; ok {
				return expandPointer(sub, prefix+"/"+seg, rest)
			}
		case []any:
			if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < len(c) {
				return expandPointer(c[n], prefix+"/"+seg, rest)
			}
		}
		return nil
	}
	var out []string
	switch c := v.(type) {
	case map[string]any:
		for k, sub := range c {
			out = append(out, expandPointer(sub, prefix+"/"+escapePointer(k), rest)...)
		}
	case []any:
		for i, sub := range c {
			out = append(out, expandPointer(sub, prefix+"/"+strconv.Itoa(i), rest)...)
		}
	}
	return out
}

// container is a map or a list within an object.
type container struct {
	m map[string]any
	l []any
}

// walkTo finds the container that holds the value at JSON Pointer ptr, and
// the pointer's last element (unescaped).
func walkTo(m map[string]any, ptr string) (container, string, bool) {
	if ptr == "" || ptr == "/" {
		return container{}, "", false
	}
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	var cur any = m
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n >= len(c) {
				return container{}, "", false
			}
			cur = c[n]
		default:
			return container{}, "", false
		}
	}
	last := parts[len(parts)-1]
	switch c := cur.(type) {
	case map[string]any:
		return container{m: c}, last, true
	case []any:
		return container{l: c}, last, true
	}
	return container{}, "", false
}

// ID names an object as group/kind/namespace/name (core for the core group,
// no namespace for cluster-scoped objects).
func ID(u *unstructured.Unstructured) string {
	g := u.GroupVersionKind().Group
	if g == "" {
		g = "core"
	}
	if ns := u.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s/%s/%s/%s", g, u.GetKind(), ns, u.GetName())
	}
	return fmt.Sprintf("%s/%s/%s", g, u.GetKind(), u.GetName())
}
