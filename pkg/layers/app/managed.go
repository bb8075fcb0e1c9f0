package app

import (
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// owned is a part of a live object that an ignored field manager owns: a
// field (removed from both sides by pointer), or a whole list item (key
// set), removed from the live list and, matched by its key, from Git's.
type owned struct {
	ptr string
	key map[string]any
}

// managedFields returns the parts of live that the given field managers
// (globs) own, read from metadata.managedFields: fields by pointer, and
// list items the manager created as whole items (with their key, to find
// the same item in Git), whatever is inside them.
func managedFields(live *unstructured.Unstructured, managers []string) []owned {
	if len(managers) == 0 {
		return nil
	}
	o := indexOwnershipOn(managedEntries(live), live.Object, func(fieldsEntry) role { return roleOther })
	var out []owned
	for _, w := range o.writers {
		if matchAny(managers, w.manager) {
			out = append(out, o.parts(w, live.Object)...)
		}
	}
	return out
}

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

// dropOwned removes what ignored managers own from the live object and
// from the Git-side objects (Git as written, or Git plus defaults).
func dropOwned(live map[string]any, gitSides []map[string]any, parts []owned) {
	// Items last index first, so that removing one keeps the others' indices.
	slices.SortFunc(parts, func(a, b owned) int {
		pa, ia := splitIndex(a.ptr)
		pb, ib := splitIndex(b.ptr)
		if c := strings.Compare(pa, pb); c != 0 {
			return c
		}
		return ib - ia
	})
	for _, o := range parts {
		if o.key == nil {
			removePointer(live, o.ptr)
			for _, g := range gitSides {
				removePointer(g, o.ptr)
			}
			continue
		}
		parent, idx := splitIndex(o.ptr)
		spliceAt(live, parent, func(list []any) []any {
			if idx >= 0 && idx < len(list) {
				return slices.Delete(list, idx, idx+1)
			}
			return list
		})
		for _, g := range gitSides {
			spliceAt(g, parent, func(list []any) []any {
				return slices.DeleteFunc(list, func(item any) bool {
					m, ok := item.(map[string]any)
					return ok && keyEqual(m, o.key)
				})
			})
		}
	}
}

// splitIndex splits a pointer into its parent and last element as an
// index (-1 when the last element is not one).
func splitIndex(ptr string) (string, int) {
	i := strings.LastIndex(ptr, "/")
	if i < 0 {
		return ptr, -1
	}
	n, err := strconv.Atoi(ptr[i+1:])
	if err != nil {
		return ptr, -1
	}
	return ptr[:i], n
}

// spliceAt replaces the list at pointer ptr in m by edit(list).
func spliceAt(m map[string]any, ptr string, edit func([]any) []any) {
	c, last, ok := walkTo(m, ptr)
	switch {
	case !ok:
	case c.m != nil:
		if list, ok := c.m[last].([]any); ok {
			c.m[last] = edit(list)
		}
	default:
		if n, err := strconv.Atoi(last); err == nil && n >= 0 && n < len(c.l) {
			if list, ok := c.l[n].([]any); ok {
				c.l[n] = edit(list)
			}
		}
	}
}

// pointerEscaper escapes a key for a JSON Pointer (RFC 6901). It is never
// changed after it is made.
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return pointerEscaper.Replace(s)
}

// changer is a field manager that last wrote some of an object's fields.
type changer struct {
	Manager string `json:"manager"`
	// Operation is Apply or Update, as the API server records it.
	Operation string `json:"operation"`
	// Subresource is the subresource written through, such as scale.
	Subresource string `json:"subresource,omitempty"`
	// Time is when the manager last wrote, RFC 3339. The API server
	// records none for writes through the scale subresource.
	Time string `json:"time,omitempty"`
}

// String is the changer as the diff's header names it.
func (c changer) String() string {
	s := c.Manager
	if c.Subresource != "" {
		s += " through the " + c.Subresource + " subresource"
	}
	if c.Time != "" {
		s += " at " + c.Time
	}
	return s
}

// changedBy names the field managers that own the fields in which want
// (Git) and have (live) differ, from live's managedFields: who made a live
// edit, and when. Each manager is named once, the latest first.
func changedBy(live *unstructured.Unstructured, want, have map[string]any) []changer {
	diffs := differing(want, have, "")
	if len(diffs) == 0 {
		return nil
	}
	var out []changer
	o := indexOwnershipOn(managedEntries(live), live.Object, func(fieldsEntry) role { return roleOther })
	for _, w := range o.writers {
		parts := o.parts(w, live.Object)
		if !slices.ContainsFunc(parts, func(o owned) bool {
			return slices.ContainsFunc(diffs, func(d string) bool {
				if o.key != nil {
					// Creating a list item is not writing all that is in it
					// since: only the item as a whole counts.
					return covers(d, o.ptr)
				}
				return covers(o.ptr, d) || covers(d, o.ptr)
			})
		}) {
			continue
		}
		c := changer{Manager: w.manager, Operation: string(w.operation), Subresource: w.subresource, Time: w.time}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b changer) int { return strings.Compare(b.Time, a.Time) })
	return slices.CompactFunc(out, func(a, b changer) bool { return a.Manager == b.Manager && a.Subresource == b.Subresource })
}

// covers reports whether pointer p is q or an ancestor of it.
func covers(p, q string) bool { return p == q || strings.HasPrefix(q, p+"/") }

// differing lists the pointers of the leaves in which a and b differ.
func differing(a, b any, ptr string) []string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return []string{ptr}
		}
		var out []string
		for k, v := range x {
			out = append(out, differing(v, y[k], ptr+"/"+escapePointer(k))...)
		}
		for k, v := range y {
			if _, ok := x[k]; !ok {
				out = append(out, differing(nil, v, ptr+"/"+escapePointer(k))...)
			}
		}
		return out
	case []any:
		y, ok := b.([]any)
		if !ok {
			return []string{ptr}
		}
		// Items compared in place; an item only one side has differs as a
		// whole, so that an added item is put down to whoever added it.
		var out []string
		for i := range max(len(x), len(y)) {
			p := ptr + "/" + strconv.Itoa(i)
			switch {
			case i >= len(x) || i >= len(y):
				out = append(out, p)
			default:
				out = append(out, differing(x[i], y[i], p)...)
			}
		}
		return out
	}
	if a == nil {
		if m, ok := b.(map[string]any); ok {
			return differing(map[string]any{}, m, ptr)
		}
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return []string{ptr}
}

// onlyApplied reports whether every field in which want (Git) and have
// (live) differ is owned in live, and only by managers that apply Git:
// nobody edited them by hand, so Git changed and the change was never
// applied, a pending change rather than drift. A differing field nobody
// owns (a field Git added, or one removed by hand) is not, and neither is
// one that also has another owner.
func onlyApplied(live *unstructured.Unstructured, want, have map[string]any, cls classify) bool {
	diffs := differing(want, have, "")
	if len(diffs) == 0 {
		return false
	}
	o := indexOwnershipOn(managedEntries(live), live.Object, cls)
	owners := map[string][]role{}
	for _, d := range diffs {
		for p, ws := range o.leaves {
			if covers(p, d) || covers(d, p) {
				for _, w := range ws {
					owners[d] = append(owners[d], w.role)
				}
			}
		}
		for p, ws := range o.items {
			// Creating an item owns the item as a whole, not what is
			// inside it since.
			if covers(d, p) {
				for _, w := range ws {
					owners[d] = append(owners[d], w.role)
				}
			}
		}
	}
	for _, d := range diffs {
		rs := owners[d]
		if len(rs) == 0 || slices.ContainsFunc(rs, func(r role) bool { return r != roleApplier }) {
			return false
		}
	}
	return true
}
