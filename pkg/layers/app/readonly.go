package app

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// readOnly is the comparison that needs nothing but the live object: it
// rebuilds what a dry-run replace of Git would return ("Git plus server
// defaults") from the live object and its managedFields.
//
// The rules, worked out from what kube-apiserver records (see the README):
//   - A field Git declares is compared by value, in canonical form
//     (quantities: 0.5 is 500m and 1024Mi is 1Gi; 80 and "80" for
//     int-or-string fields; a zero value Git writes is one the server omits).
//     List items are matched by the keys managedFields records for the list
//     (containers by name, ports by port and protocol), so order and
//     defaulted keys do not matter.
//   - A field only live has is kept (not drift) when no field manager owns
//     it (a server default under server-side apply, an allocated field), when
//     a controller owns it (status, revision annotations, an HPA's replicas,
//     injected CA bundles), or when an applier owns it through an Update (the
//     defaults that client-side apply and create are credited with) unless
//     kubectl's last-applied-configuration shows Git once declared it.
//   - It is drift when any other manager set it (kubectl-edit, kubectl-patch,
//     kubectl-set, kubectl-label, a script), or when an applier owns it
//     through Apply: server-side apply owns exactly what it applied, so Git
//     has since dropped it.
//   - A list item only live has is drift when anyone but an applier or a
//     controller created it or wrote any part of it.
type readOnly struct {
	own *ownership
	// live is the normalized live object the ownership was indexed on.
	live map[string]any
	// lastApplied is kubectl's last-applied-configuration, if any; only
	// which fields it has is used, never a value.
	lastApplied any
}

// newReadOnly indexes the live object (lv: normalized, with ignored paths
// and managers already set aside) for a read-only comparison.
func newReadOnly(live *unstructured.Unstructured, lv map[string]any, cls classify) *readOnly {
	r := &readOnly{live: lv, own: indexOwnershipOn(managedEntries(live), lv, cls)}
	if s := live.GetAnnotations()[lastAppliedAnnotation]; s != "" {
		var la any
		if json.Unmarshal([]byte(s), &la) == nil {
			r.lastApplied = la
		}
	}
	return r
}

// want returns Git plus the live fields that are not drift.
func (r *readOnly) want(git map[string]any) map[string]any {
	w, _ := r.overlay(git, r.live, "").(map[string]any)
	return w
}

// overlay merges one Git value with the live value at ptr.
func (r *readOnly) overlay(git, live any, ptr string) any {
	switch g := git.(type) {
	case map[string]any:
		lm, ok := live.(map[string]any)
		if !ok {
			return git
		}
		out := make(map[string]any, len(g))
		for k, gv := range g {
			if gv == nil {
				// null declares nothing: the live value is decided below
				// like any field Git leaves out.
				continue
			}
			p := ptr + "/" + escapePointer(k)
			lv, has := lm[k]
			if !has {
				if emptyValue(gv) || (zeroScalar(gv) && !opaque(p) && r.serverOmitted(p)) {
					continue
				}
				out[k] = gv
				continue
			}
			out[k] = r.overlay(gv, lv, p)
		}
		for k, lv := range lm {
			if gv, inGit := g[k]; inGit && gv != nil {
				continue
			}
			if r.keyField(ptr, k) {
				// A key Git left to its default (a port's protocol).
				out[k] = lv
				continue
			}
			if v, keep := r.extra(lv, ptr+"/"+escapePointer(k)); keep {
				out[k] = v
			}
		}
		return out
	case []any:
		ll, ok := live.([]any)
		if !ok {
			return git
		}
		if keys := r.own.keys[ptr]; len(keys) > 0 {
			return r.overlayKeyed(g, ll, keys, ptr)
		}
		if r.own.sets[ptr] {
			if sameSet(g, ll) {
				return live
			}
			return git
		}
		if len(g) != len(ll) {
			return git
		}
		out := make([]any, len(g))
		for i := range g {
			out[i] = r.overlay(g[i], ll[i], ptr+"/"+strconv.Itoa(i))
		}
		return out
	}
	if canonicalEqual(git, live, ptr) {
		return live
	}
	return git
}

// overlayKeyed merges an associative list: Git's items matched to live's
// by key, in live's order, then the items only Git has.
func (r *readOnly) overlayKeyed(git, live []any, keys []string, ptr string) []any {
	used := make([]bool, len(git))
	out := make([]any, 0, max(len(git), len(live)))
	for i, li := range live {
		p := ptr + "/" + strconv.Itoa(i)
		j := matchItem(git, used, li, keys)
		if j < 0 {
			if v, keep := r.extraItem(li, p); keep {
				out = append(out, v)
			}
			continue
		}
		used[j] = true
		out = append(out, r.overlay(git[j], li, p))
	}
	for j, gi := range git {
		if !used[j] {
			out = append(out, gi)
		}
	}
	return out
}

// keyField reports whether field k of the item at ptr is a key of the
// associative list the item is in.
func (r *readOnly) keyField(ptr, k string) bool {
	parent := parentPointer(ptr)
	if parent == "" {
		return false
	}
	if _, err := strconv.Atoi(ptr[len(parent)+1:]); err != nil {
		return false
	}
	for _, key := range r.own.keys[parent] {
		if key == k {
			return true
		}
	}
	return false
}

// matchItem finds the unused Git item whose declared key fields equal the
// live item's.
func matchItem(git []any, used []bool, live any, keys []string) int {
	lm, ok := live.(map[string]any)
	if !ok {
		return -1
	}
	for j, gi := range git {
		gm, ok := gi.(map[string]any)
		if ok && !used[j] && itemKeyMatches(gm, lm, keys) {
			return j
		}
	}
	return -1
}

// itemKeyMatches reports whether Git's item declares at least one key field
// and every key field it declares equals the live item's (a key Git leaves
// out, such as a port's protocol, is a default).
func itemKeyMatches(git, live map[string]any, keys []string) bool {
	n := 0
	for _, k := range keys {
		gv, ok := git[k]
		if !ok {
			// The one defaulted key of the built-in keyed lists: a port's
			// protocol. Any other key Git leaves out matches anything.
			if k == "protocol" {
				if p, set := live[k]; set && p != "TCP" {
					return false
				}
			}
			continue
		}
		if !scalarEqual(gv, live[k]) && !canonicalEqual(gv, live[k], "") {
			return false
		}
		n++
	}
	return n > 0
}

// extra decides what of a live-only value at ptr stays in "Git plus
// defaults": the value (or the parts of it that are not drift) and whether
// anything stays.
func (r *readOnly) extra(live any, ptr string) (any, bool) {
	if exact, _ := r.own.owners(ptr); len(exact) > 0 {
		return live, r.keepLeaf(ptr)
	}
	switch v := live.(type) {
	case map[string]any:
		if len(v) == 0 {
			return live, r.keepLeaf(ptr)
		}
		out := map[string]any{}
		for k, sub := range v {
			if kv, keep := r.extra(sub, ptr+"/"+escapePointer(k)); keep {
				out[k] = kv
			}
		}
		return out, len(out) > 0
	case []any:
		if len(v) == 0 {
			return live, r.keepLeaf(ptr)
		}
		var out []any
		for i, item := range v {
			if iv, keep := r.extraItem(item, ptr+"/"+strconv.Itoa(i)); keep {
				out = append(out, iv)
			}
		}
		return out, len(out) > 0
	}
	return live, r.keepLeaf(ptr)
}

// extraItem decides a list item only live has: kept whole, or drift whole
// when anyone but an applier or a controller created it or wrote any part.
func (r *readOnly) extraItem(live any, ptr string) (any, bool) {
	for _, w := range r.own.within(ptr) {
		if w.role == roleOther {
			return nil, false
		}
		if w.role == roleApplier && w.operation == metav1.ManagedFieldsOperationApply && r.appliedItem(ptr, w) {
			return nil, false
		}
		if w.role == roleApplier && w.operation != metav1.ManagedFieldsOperationApply && r.inLastApplied(ptr) {
			// Applied client-side once, and Git no longer has it.
			return nil, false
		}
	}
	return live, true
}

// appliedItem reports whether server-side applier w created the item at
// ptr: Git applied it once and no longer declares it.
func (r *readOnly) appliedItem(ptr string, w *writer) bool {
	for _, c := range r.own.items[ptr] {
		if c == w {
			return true
		}
	}
	return false
}

// keepLeaf decides a live-only field that nothing Git declares covers.
func (r *readOnly) keepLeaf(ptr string) bool {
	exact, inherited := r.own.owners(ptr)
	for _, w := range exact {
		switch {
		case w.role == roleOther:
			return false
		case w.role == roleApplier && w.operation == metav1.ManagedFieldsOperationApply:
			return false
		case w.role == roleApplier && r.inLastApplied(ptr):
			return false
		}
	}
	// Inside an atomic map or list, only another manager's write is drift:
	// the applier owning the whole cannot tell a default from its own.
	for _, w := range inherited {
		if w.role == roleOther {
			return false
		}
	}
	return true
}

// inLastApplied reports whether kubectl's last-applied-configuration has
// the field at ptr (a pointer into the live object; list items are matched
// by their keys, or by position in lists without keys).
func (r *readOnly) inLastApplied(ptr string) bool {
	_, ok := r.lastAppliedAt(ptr)
	return ok
}

// lastAppliedAt returns the value that kubectl's last-applied-configuration
// has at ptr (a pointer into the live object), if it has one.
func (r *readOnly) lastAppliedAt(ptr string) (any, bool) {
	if r.lastApplied == nil || ptr == "" {
		return nil, false
	}
	la, lv := r.lastApplied, any(r.live)
	cur := ""
	for _, seg := range strings.Split(ptr[1:], "/") {
		name := strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch x := lv.(type) {
		case map[string]any:
			lam, ok := la.(map[string]any)
			if !ok {
				return nil, false
			}
			if la, ok = lam[name]; !ok {
				return nil, false
			}
			lv = x[name]
		case []any:
			i, err := strconv.Atoi(name)
			lal, ok := la.([]any)
			if err != nil || !ok || i < 0 || i >= len(x) {
				return nil, false
			}
			found := -1
			if keys := r.own.keys[cur]; len(keys) > 0 {
				found = matchItem(lal, make([]bool, len(lal)), x[i], keys)
			} else if i < len(lal) {
				found = i
			}
			if found < 0 {
				return nil, false
			}
			la, lv = lal[found], x[i]
		default:
			return nil, false
		}
		cur += "/" + seg
	}
	return la, true
}

// pending reports whether Git changed and the change was never applied:
// every field in which Git and live differ was last written by an applier
// (managedFields), and live holds there exactly what kubectl's
// last-applied-configuration says was last applied. Without that record
// (server-side appliers), a person's `kubectl apply` cannot be told from
// the deployment path's, so it is drift.
func pending(live *unstructured.Unstructured, want, lv map[string]any, cls classify) bool {
	if live.GetAnnotations()[lastAppliedAnnotation] == "" || !onlyApplied(live, want, lv, cls) {
		return false
	}
	r := newReadOnly(live, lv, cls)
	for _, d := range differing(want, lv, "") {
		have := valueAt(lv, d)
		if have == nil {
			return false
		}
		applied, ok := r.lastAppliedAt(d)
		if !ok || !reflect.DeepEqual(canonicalJSON(applied), canonicalJSON(have)) {
			return false
		}
	}
	return true
}

// canonicalJSON makes numbers comparable: last-applied-configuration
// decodes them as float64, live objects as int64.
func canonicalJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// opaque reports whether values at ptr are user data that the server
// stores as written (ConfigMap and Secret data, labels, annotations): they
// are compared exactly, never in canonical form.
func opaque(ptr string) bool {
	for _, p := range []string{"/data/", "/binaryData/", "/stringData/", "/metadata/labels/", "/metadata/annotations/"} {
		if strings.HasPrefix(ptr, p) {
			return true
		}
	}
	return false
}

// emptyValue reports whether a Git value is an empty map or list, which
// the API server may leave out of a stored object and whose absence
// changes nothing.
func emptyValue(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// zeroScalar reports whether a Git value is false, 0 or "": values that
// the API server leaves out of a field that is not a pointer (hostNetwork:
// false), and keeps in one that is (allowPrivilegeEscalation: false).
func zeroScalar(v any) bool {
	switch x := v.(type) {
	case bool:
		return !x
	case string:
		return x == ""
	case int64:
		return x == 0
	case float64:
		return x == 0
	}
	return false
}

// serverOmitted tells a zero value that Git declares and live lacks
// because the server left it out from one that someone removed, which
// takes the ownership away: server-side apply still owns a field the
// server omitted (measured: f:hostNetwork stays after hostNetwork: false
// is applied, f:allowPrivilegeEscalation goes when a patch removes it).
// Client-side apply owns neither, so there kubectl's last-applied
// configuration decides, and a hand removal of a field Git declares as a
// zero value is not seen (the README says so); with neither, there is
// nothing to tell them apart by, and the absence is not drift.
func (r *readOnly) serverOmitted(ptr string) bool {
	if r.lastApplied != nil {
		return r.inLastApplied(ptr)
	}
	applied := false
	for _, w := range r.own.writers {
		applied = applied || (w.role == roleApplier && w.operation == metav1.ManagedFieldsOperationApply)
	}
	if !applied {
		// Applied by an Update that keeps no record (kubectl create,
		// replace, Helm): nothing tells an omitted field from a removed
		// one, and the absence is not called drift.
		return true
	}
	exact, inherited := r.own.owners(ptr)
	for _, w := range append(exact, inherited...) {
		// Inside an atomic list or map the applier owns the whole.
		if w.role == roleApplier && w.operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// scalarEqual compares two JSON scalars, numbers by value.
func scalarEqual(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// canonicalEqual reports whether Git's value is live's in the form the API
// server stores: the same value, an int-or-string written the other way, or
// a quantity that the server rewrote in canonical form.
func canonicalEqual(git, live any, ptr string) bool {
	if scalarEqual(git, live) {
		return true
	}
	if opaque(ptr) {
		return false
	}
	ls, liveIsString := live.(string)
	gs, gitIsString := git.(string)
	switch {
	case gitIsString && !liveIsString:
		n, err := strconv.ParseInt(gs, 10, 64)
		return err == nil && scalarEqual(n, live)
	case !gitIsString && liveIsString:
		f, ok := number(git)
		if !ok {
			return false
		}
		gs = strconv.FormatFloat(f, 'f', -1, 64)
	case !gitIsString:
		return false
	}
	if !quantityField(ptr) {
		return false
	}
	q, err := resource.ParseQuantity(gs)
	return err == nil && q.String() == ls
}

// quantityField reports whether ptr is a field the API server stores as a
// resource.Quantity, which it rewrites in canonical form: resource
// requests, limits and overhead, quota and limit-range amounts, capacities,
// emptyDir size limits. Elsewhere (env values, CRD fields) a string is
// stored as written, and "0.5" and "500m" differ.
func quantityField(ptr string) bool {
	if ptr == "" {
		// A list key compared outside its field: only values match.
		return true
	}
	for _, seg := range strings.Split(ptr, "/") {
		switch seg {
		case "requests", "limits", "overhead", "hard", "used", "capacity", "allocatable", "sizeLimit",
			"max", "min", "default", "defaultRequest", "maxLimitRequestRatio":
			return true
		}
	}
	return false
}

// sameSet compares two lists of scalars as sets: every member of each is
// in the other (a duplicate in Git hides nothing).
func sameSet(a, b []any) bool {
	return subset(a, b) && subset(b, a)
}

func subset(a, b []any) bool {
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y any) bool { return scalarEqual(x, y) }) {
			return false
		}
	}
	return true
}
