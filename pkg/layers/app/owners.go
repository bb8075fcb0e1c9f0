package app

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// role is what a field manager is to driftd.
type role int

const (
	// roleOther is anyone else: kubectl-edit, kubectl-patch, a script. What
	// it set and Git does not declare is drift.
	roleOther role = iota
	// roleApplier applies Git: kubectl apply, Argo CD, Flux, driftd.
	roleApplier
	// roleController is the cluster's own machinery: controllers, the
	// scheduler, the kubelet, and any write through the status subresource.
	roleController
)

// writer is one managedFields entry: who wrote, how and when.
type writer struct {
	manager     string
	operation   metav1.ManagedFieldsOperationType
	subresource string
	time        string
	role        role
}

// ownership indexes a live object's managedFields by JSON Pointer into the
// live object: which entries own each field, which created each list item,
// and what each list's shape is. It is the read-only comparison's only
// source of truth about who set what.
type ownership struct {
	// leaves maps a field's pointer to the entries that own it as a value
	// (a scalar, or an atomic map or list).
	leaves map[string][]*writer
	// items maps a list item's pointer to the entries that created it.
	items map[string][]*writer
	// keys maps an associative list's pointer to its key field names.
	keys map[string][]string
	// sets marks lists of scalars that are sets (v: entries).
	sets map[string]bool
	// byKey indexes list items by key values, per list and key names.
	byKey map[string]map[string][]int
	// writers are the entries, in the object's order.
	writers []*writer
	// any is false when the object has no managedFields at all (created
	// before field management, or stripped): nothing can be attributed.
	any bool
}

// classify gives each managedFields entry its role.
type classify func(fieldsEntry) role

// fieldsEntry is one entry of metadata.managedFields, read straight from
// the unstructured object: its fieldsV1 tree is already decoded there, so
// nothing is converted or parsed again.
type fieldsEntry struct {
	Manager     string
	Operation   metav1.ManagedFieldsOperationType
	Subresource string
	// Time is as the API server wrote it (RFC 3339, UTC), or "".
	Time   string
	Fields map[string]any
}

// managedEntries reads u's managedFields. Entries that are not FieldsV1
// trees are skipped.
func managedEntries(u *unstructured.Unstructured) []fieldsEntry {
	list, _, _ := unstructured.NestedSlice(u.Object, "metadata", "managedFields")
	out := make([]fieldsEntry, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		fields, ok := m["fieldsV1"].(map[string]any)
		if !ok {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		out = append(out, fieldsEntry{Manager: str("manager"), Operation: metav1.ManagedFieldsOperationType(str("operation")),
			Subresource: str("subresource"), Time: str("time"), Fields: fields})
	}
	return out
}

// indexOwnershipOn reads managedFields entries against obj, a live object
// or a normalized copy of it: pointers are into obj.
func indexOwnershipOn(entries []fieldsEntry, obj map[string]any, cls classify) *ownership {
	o := &ownership{leaves: map[string][]*writer{}, items: map[string][]*writer{}, keys: map[string][]string{}, sets: map[string]bool{}}
	for _, mf := range entries {
		o.any = true
		w := &writer{manager: mf.Manager, operation: mf.Operation, subresource: mf.Subresource, time: mf.Time, role: cls(mf)}
		o.writers = append(o.writers, w)
		o.walk(mf.Fields, obj, "", w)
	}
	return o
}

// maxFieldsDepth bounds how deep a fieldsV1 tree is followed: real objects
// are a few dozen levels deep, and a crafted tree must not cost memory
// quadratic in its depth.
const maxFieldsDepth = 64

func (o *ownership) walk(fs map[string]any, live any, ptr string, w *writer) {
	o.walkDepth(fs, live, ptr, w, 0)
}

func (o *ownership) walkDepth(fs map[string]any, live any, ptr string, w *writer, depth int) {
	if depth > maxFieldsDepth {
		return
	}
	if live == nil && ptr != "" && hasChildren(fs) {
		// Nothing live below: what the entry claims there cannot be
		// attributed to anything. (A leaf live lacks is kept: it is how
		// a field the server omitted is told from one removed.)
		return
	}
	leaf := true
	for k, sub := range fs {
		if k == "." {
			continue
		}
		leaf = false
		child, _ := sub.(map[string]any)
		switch {
		case strings.HasPrefix(k, "f:"):
			name := k[2:]
			m, _ := live.(map[string]any)
			o.walkDepth(child, m[name], ptr+"/"+escapePointer(name), w, depth+1)
		case strings.HasPrefix(k, "k:"):
			var key map[string]any
			if json.Unmarshal([]byte(k[2:]), &key) != nil {
				continue
			}
			if _, ok := o.keys[ptr]; !ok {
				names := make([]string, 0, len(key))
				for n := range key {
					names = append(names, n)
				}
				o.keys[ptr] = names
			}
			list, _ := live.([]any)
			for _, i := range o.itemsWithKey(ptr, list, key) {
				p := ptr + "/" + strconv.Itoa(i)
				if _, created := child["."]; created {
					o.items[p] = append(o.items[p], w)
				}
				o.walkDepth(child, list[i], p, w, depth+1)
			}
		case strings.HasPrefix(k, "i:"):
			i, err := strconv.Atoi(k[2:])
			list, _ := live.([]any)
			if err == nil && i >= 0 && i < len(list) {
				p := ptr + "/" + strconv.Itoa(i)
				if _, created := child["."]; created {
					o.items[p] = append(o.items[p], w)
				}
				o.walkDepth(child, list[i], p, w, depth+1)
			}
		case strings.HasPrefix(k, "v:"):
			o.sets[ptr] = true
			o.leaves[ptr] = append(o.leaves[ptr], w)
		}
	}
	if leaf && ptr != "" {
		o.leaves[ptr] = append(o.leaves[ptr], w)
	}
}

func hasChildren(fs map[string]any) bool {
	for k := range fs {
		if k != "." {
			return true
		}
	}
	return false
}

// itemsWithKey returns the indices of the items of the list at ptr whose
// fields named in key have key's values. Items are indexed once per list
// and set of key names, so matching many keys costs one pass; an item
// that lacks one of the key fields never matches (a key of absent fields
// would match everything).
func (o *ownership) itemsWithKey(ptr string, list []any, key map[string]any) []int {
	names := make([]string, 0, len(key))
	for n := range key {
		names = append(names, n)
	}
	slices.Sort(names)
	id := ptr + "\x00" + strings.Join(names, "\x00")
	idx, ok := o.byKey[id]
	if !ok {
		idx = map[string][]int{}
		for i, item := range list {
			if m, ok := item.(map[string]any); ok {
				if c, ok := canonicalKey(m, names); ok {
					idx[c] = append(idx[c], i)
				}
			}
		}
		if o.byKey == nil {
			o.byKey = map[string]map[string][]int{}
		}
		o.byKey[id] = idx
	}
	c, ok := canonicalKey(key, names)
	if !ok {
		return nil
	}
	return idx[c]
}

// canonicalKey renders the values of fields names of m as one string,
// numbers by value (fieldsV1 keys hold 8080.0 where the object holds 8080).
func canonicalKey(m map[string]any, names []string) (string, bool) {
	var b strings.Builder
	for _, n := range names {
		v, ok := m[n]
		if !ok {
			return "", false
		}
		if f, ok := number(v); ok {
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		} else {
			j, err := json.Marshal(v)
			if err != nil {
				return "", false
			}
			b.Write(j)
		}
		b.WriteByte(0)
	}
	return b.String(), true
}

// keyEqual compares a list item with a managedFields key, numbers by value
// (the key's JSON numbers are float64, the object's may be int64).
func keyEqual(item, key map[string]any) bool {
	for k, v := range key {
		if !scalarEqual(item[k], v) {
			return false
		}
	}
	return true
}

// owners returns the entries that own the value at ptr, as a value of its
// own (exact) or as part of an atomic map or list above it (inherited).
func (o *ownership) owners(ptr string) (exact, inherited []*writer) {
	exact = o.leaves[ptr]
	for p := parentPointer(ptr); p != ""; p = parentPointer(p) {
		inherited = append(inherited, o.leaves[p]...)
	}
	return exact, inherited
}

// within returns every entry that owns ptr, anything under it, or created
// it or an item under it: everyone who wrote a part of a subtree.
func (o *ownership) within(ptr string) []*writer {
	var out []*writer
	for p, ws := range o.leaves {
		if covers(ptr, p) {
			out = append(out, ws...)
		}
	}
	for p, ws := range o.items {
		if covers(ptr, p) {
			out = append(out, ws...)
		}
	}
	_, inherited := o.owners(ptr)
	return append(out, inherited...)
}

// parentPointer returns the pointer of ptr's parent ("" for the root).
func parentPointer(ptr string) string {
	i := strings.LastIndex(ptr, "/")
	if i <= 0 {
		return ""
	}
	return ptr[:i]
}

// parts lists what w owns in obj (the object the index was built on):
// each list item it created as a whole (with the item's key, or an empty
// an item of a list without keys counts as a field), and each field it
// owns outside those items.
func (o *ownership) parts(w *writer, obj map[string]any) []owned {
	var items, out []owned
	for p, ws := range o.items {
		keys := o.keys[parentPointer(p)]
		if !slices.Contains(ws, w) || len(keys) == 0 {
			// An item of a list without keys is owned like a field.
			continue
		}
		key := map[string]any{}
		if item, ok := valueAt(obj, p).(map[string]any); ok {
			for _, k := range keys {
				key[k] = item[k]
			}
		}
		items = append(items, owned{ptr: p, key: key})
	}
	for p, ws := range o.leaves {
		if slices.Contains(ws, w) && !slices.ContainsFunc(items, func(i owned) bool { return covers(i.ptr, p) }) {
			out = append(out, owned{ptr: p})
		}
	}
	out = append(out, items...)
	slices.SortFunc(out, func(a, b owned) int { return strings.Compare(a.ptr, b.ptr) })
	return out
}

// valueAt returns the value at JSON Pointer ptr in obj, or nil.
func valueAt(obj map[string]any, ptr string) any {
	c, last, ok := walkTo(obj, ptr)
	switch {
	case !ok:
		return nil
	case c.m != nil:
		return c.m[last]
	}
	if n, err := strconv.Atoi(last); err == nil && n >= 0 && n < len(c.l) {
		return c.l[n]
	}
	return nil
}
