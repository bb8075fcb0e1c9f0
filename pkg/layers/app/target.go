package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/driftd/driftd/pkg/drift"
)

// checkTarget lists each kind once in the target's namespace and compares.
func (l *Layer) checkTarget(ctx context.Context, target string, objs []desired, sem chan struct{}, used map[cacheKey]bool) drift.TargetResult {
	res := drift.TargetResult{Name: target}
	for _, d := range objs {
		res.Managed = append(res.Managed, ID(d.obj))
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout.Std())
	defer cancel()
	ns := target
	if target == ClusterTarget {
		ns = ""
	}

	byGVR := map[schema.GroupVersionResource][]desired{}
	for _, d := range objs {
		byGVR[d.mapping.Resource] = append(byGVR[d.mapping.Resource], d)
	}
	unmanaged := l.unmanagedIn(target)
	records := applyRecords{}
	res.Private = records
	modes := map[string]map[string]bool{}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for gvr, ds := range byGVR {
		wg.Go(func() {
			defer recoverInto(&mu, &errs, "list "+gvrString(gvr))
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				mu.Lock()
				errs = append(errs, fmt.Errorf("list %s in %s: not started: %w", gvrString(gvr), target, ctx.Err()))
				mu.Unlock()
				return
			}
			live, err := l.list(ctx, gvr, ns)
			<-sem
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("list %s in %s: %w", gvrString(gvr), target, err))
				mu.Unlock()
				return
			}
			findings, recs, ferrs, mode := l.compareKind(ctx, ds, live, unmanaged, l.newKindMode(ctx, gvr, ns), sem, used, &mu)
			mu.Lock()
			res.Findings = append(res.Findings, findings...)
			maps.Copy(records, recs)
			errs = append(errs, ferrs...)
			if mode != "" {
				if modes[mode] == nil {
					modes[mode] = map[string]bool{}
				}
				modes[mode][gvr.GroupResource().String()] = true
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		res.Error = err.Error()
	}
	if m := modeSummary(modes); m != nil {
		res.Details = map[string]any{"compare": m}
	}
	var keysOnly, hiddenObjs []string
	for _, d := range objs {
		if d.keysOnly {
			keysOnly = append(keysOnly, ID(d.obj))
		}
		if d.hidden {
			hiddenObjs = append(hiddenObjs, ID(d.obj))
		}
	}
	if len(hiddenObjs) > 0 {
		// Which objects' values are secret, in sync or not: a check of
		// a pull request compares them only by the base's findings.
		if res.Details == nil {
			res.Details = map[string]any{}
		}
		slices.Sort(hiddenObjs)
		res.Details["values_hidden"] = map[string]any{"objects": hiddenObjs, "note": valuesHiddenNote}
	}
	if len(keysOnly) > 0 {
		// In sync or not, the report says what was not compared.
		if res.Details == nil {
			res.Details = map[string]any{}
		}
		slices.Sort(keysOnly)
		res.Details["sops_keys_only"] = map[string]any{"objects": keysOnly, "note": keysOnlyNote}
	}
	return res
}

// recoverInto turns a panic in a goroutine of a target's check into one
// more error of that target.
func recoverInto(mu *sync.Mutex, errs *[]error, what string) {
	if p := recover(); p != nil {
		mu.Lock()
		*errs = append(*errs, fmt.Errorf("%s: internal error: %v", what, p))
		mu.Unlock()
	}
}

// unmanagedIn reports whether live objects absent from Git are drift in
// this target.
func (l *Layer) unmanagedIn(target string) bool {
	u := l.cfg.Unmanaged
	if u == nil {
		return false
	}
	return slices.Contains(u.Namespaces, target) || l.selector != nil
}

// list fetches every object of one kind in ns, 500 at a time.
func (l *Layer) list(ctx context.Context, gvr schema.GroupVersionResource, ns string) (map[string]*unstructured.Unstructured, error) {
	out := map[string]*unstructured.Unstructured{}
	opts := metav1ListOptions()
	for {
		list, err := l.dyn.Resource(gvr).Namespace(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			out[list.Items[i].GetName()] = &list.Items[i]
		}
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}

// compareKind compares the Git objects of one kind with the live ones.
func (l *Layer) compareKind(ctx context.Context, ds []desired, live map[string]*unstructured.Unstructured, unmanaged bool,
	km *kindMode, sem chan struct{}, used map[cacheKey]bool, mu *sync.Mutex) ([]drift.Finding, applyRecords, []error, string) {
	var findings []drift.Finding
	records := applyRecords{}
	var errs []error
	var modeUsed string
	var fmu sync.Mutex
	var wg sync.WaitGroup
	inGit := map[string]bool{}
	for _, d := range ds {
		inGit[d.obj.GetName()] = true
		lv := live[d.obj.GetName()]
		wg.Go(func() {
			defer recoverInto(&fmu, &errs, ID(d.obj))
			f, key, mode, err := l.compareOne(ctx, d, lv, km, sem)
			if f != nil {
				if by := annotationIgnored(d); by != "" {
					f.Details["ignored_by"] = by
				}
			}
			fmu.Lock()
			defer fmu.Unlock()
			if mode != "" {
				modeUsed = mode
			}
			if key != nil {
				mu.Lock()
				used[*key] = true
				mu.Unlock()
			}
			if err != nil {
				errs = append(errs, err)
			}
			if f != nil {
				if d.keysOnly {
					f.Details["sops"] = keysOnlyNote
					f.Diff = "# " + keysOnlyNote + "\n" + f.Diff
				}
				if d.volatile {
					f.Diff = "# " + unstableNote + "\n" + f.Diff
				}
				if d.chart {
					// Which chart, template and values made it.
					f.Diff = "# rendered from " + printable(d.source) + "\n" + f.Diff
				}
				findings = append(findings, *f)
				rec := applyRecord{gvr: d.mapping.Resource, namespace: d.obj.GetNamespace(), name: d.obj.GetName(), kind: d.obj.GetKind(),
					want: d.obj, aside: append(l.ignoredPaths(d.obj), annotationPaths(d.obj)...), managers: l.ignoredManagers(d.obj), keysOnly: d.keysOnly,
					unstable: d.volatile}
				if lv != nil {
					rec.liveRV = lv.GetResourceVersion()
				}
				records[f.Object] = rec
			}
		})
	}
	wg.Wait()
	if unmanaged {
		for name, lv := range live {
			if inGit[name] || autoCreated(lv) {
				continue
			}
			if l.selector != nil && !slices.Contains(l.cfg.Unmanaged.Namespaces, lv.GetNamespace()) && !l.selector.Matches(labels.Set(lv.GetLabels())) {
				continue
			}
			id := ID(lv)
			findings = append(findings, drift.Finding{Object: id, Change: drift.ChangeUnmanaged,
				Diff: yamlDiff(id, nil, normalize(lv, l.secretKey))})
			records[id] = applyRecord{gvr: ds[0].mapping.Resource, namespace: lv.GetNamespace(), name: lv.GetName(), kind: lv.GetKind(), liveRV: lv.GetResourceVersion()}
		}
	}
	return findings, records, errs, modeUsed
}

// autoCreated tells objects that the cluster makes by itself, which are
// never unmanaged drift: anything with an owner (the Secret a SealedSecret's
// controller makes, a Deployment's ReplicaSets), the default ServiceAccount,
// root CA ConfigMap and token Secrets of every namespace, and Helm's
// release records.
func autoCreated(u *unstructured.Unstructured) bool {
	if len(u.GetOwnerReferences()) > 0 {
		return true
	}
	switch u.GetKind() {
	case "ServiceAccount":
		return u.GetName() == "default"
	case "ConfigMap":
		return u.GetName() == "kube-root-ca.crt"
	case "Secret":
		// Helm (and Flux's helm-controller) keeps each release revision
		// in a Secret of its own type.
		t, _, _ := unstructured.NestedString(u.Object, "type")
		return t == "kubernetes.io/service-account-token" || t == "helm.sh/release.v1"
	}
	return false
}

// compareOne compares one Git object with its live counterpart (nil when
// absent). It returns the cache key it used, if any, and the comparison
// mode it took ("" when the object equals Git as written).
func (l *Layer) compareOne(ctx context.Context, d desired, live *unstructured.Unstructured, km *kindMode, sem chan struct{}) (*drift.Finding, *cacheKey, string, error) {
	id := ID(d.obj)
	if err := ctx.Err(); err != nil {
		// The check's time is up: no more work per object.
		return nil, nil, "", fmt.Errorf("%s (%s): %w", id, d.source, err)
	}
	if d.keysOnly {
		// Values unknown: take live's for the keys both have.
		d.obj = keysOnlyDesired(d.obj, live)
	}
	paths := append(l.ignoredPaths(d.obj), annotationPaths(d.obj)...)
	if live == nil {
		git := normalize(d.obj, l.secretKey)
		return &drift.Finding{Object: id, Change: drift.ChangeMissing, Diff: l.shownDiff(id, d.hidden, git, nil),
			Details: map[string]any{"source": d.source}}, nil, "", nil
	}
	// Fields that ignored field managers own (an HPA's replicas, an
	// injected sidecar) are set aside on both sides.
	owned := managedFields(live, l.ignoredManagers(d.obj))
	// The same Git over the same live version, with the same parts set
	// aside, was in sync before: a steady-state check stops here.
	gitHash := hashObj(d.obj.Object)
	aside := strings.Join(paths, "\x00") + "\x00" + fmt.Sprint(owned)
	verdict := cacheKey{id: id, gitHash: gitHash, liveRV: live.GetResourceVersion(), variant: "in-sync\x00" + aside}
	if mode, ok := l.inSync(verdict); ok {
		return nil, &verdict, mode, nil
	}
	git, lv := normalize(d.obj, l.secretKey), normalize(live, l.secretKey)
	for _, p := range paths {
		removePointer(git, p)
		removePointer(lv, p)
	}
	dropOwned(lv, []map[string]any{git}, owned)
	if reflect.DeepEqual(git, lv) {
		l.storeInSync(verdict, "")
		return nil, &verdict, "", nil
	}
	// Not equal as written: work out what Git becomes over this live
	// object (defaults, canonical forms, allocated fields).
	mode, _ := km.once()
	var want map[string]any
	var key *cacheKey
	var note string
	if mode == CompareDryRun {
		k := cacheKey{id: id, gitHash: gitHash, liveRV: live.GetResourceVersion(), variant: CompareDryRun}
		w, err := l.dryRunWant(ctx, k, d, live, sem)
		switch {
		case err == nil:
			want, key = copyMap(w), &k
			for _, p := range paths {
				removePointer(want, p)
			}
			if len(owned) > 0 {
				dropOwned(normalize(live, l.secretKey), []map[string]any{want}, owned)
			}
		case dryRunRefused(err, l.cfg.Compare):
			// A Job's template, an immutable ConfigMap recreated live:
			// the facts are still there to compare without the server.
			mode, note = CompareReadOnly, "dry-run replace refused ("+apiError(err)+"): compared read-only"
		default:
			return nil, nil, mode, fmt.Errorf("%s (%s): dry-run replace: %s", id, d.source, apiError(err))
		}
	}
	if want == nil {
		// The same Git over the same live version (managedFields
		// included) gives the same answer: a steady-state check costs
		// the LIST alone.
		k := cacheKey{id: id, gitHash: gitHash, liveRV: live.GetResourceVersion(), variant: CompareReadOnly + "\x00" + aside}
		if w, ok := l.cached(k); ok {
			want = copyMap(w)
		} else {
			want = newReadOnly(live, lv, l.classify).want(git)
			l.store(k, copyMap(want))
		}
		key = &k
	}
	if reflect.DeepEqual(want, lv) {
		l.storeInSync(verdict, mode)
		return nil, &verdict, mode, nil
	}
	f := &drift.Finding{Object: id, Change: drift.ChangeChanged, Diff: l.shownDiff(id, d.hidden, want, lv),
		Details: map[string]any{"source": d.source, "compare": mode}}
	if note == "" && mode == CompareReadOnly && len(managedEntries(live)) == 0 {
		note = "the live object has no managedFields: fields only live has are taken for defaults"
	}
	if note != "" {
		f.Details["compare_note"] = note
	}
	var head strings.Builder
	if pending(live, want, lv, l.classify) {
		// Every differing field was last written by what applies Git:
		// Git moved on and was not applied yet. That is the deployment
		// path's to ship, and apply leaves it alone.
		f.Change = drift.ChangePending
		head.WriteString("# pending: Git changed and was not applied (live is what kubectl last applied, and nobody else wrote it)\n")
	}
	if by := changedBy(live, want, lv); len(by) > 0 {
		// Who made the live edit, and when: the first thing an operator asks.
		f.Details["changed_by"] = by
		for _, c := range by {
			fmt.Fprintf(&head, "# changed by %s\n", c)
		}
	}
	// How it was compared, so that every output says it.
	switch {
	case note != "":
		fmt.Fprintf(&head, "# %s\n", note)
	case mode == CompareDryRun:
		head.WriteString("# compared by dry-run replace\n")
	default:
		head.WriteString("# compared read-only, from managedFields\n")
	}
	f.Diff = head.String() + f.Diff
	return f, key, mode, nil
}

// dryRunWant is the normalized result of a dry-run replace of Git over
// live, from the cache when neither side changed since.
func (l *Layer) dryRunWant(ctx context.Context, k cacheKey, d desired, live *unstructured.Unstructured, sem chan struct{}) (map[string]any, error) {
	if w, ok := l.cached(k); ok {
		return w, nil
	}
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out, err := l.dryRunReplace(ctx, d, live)
	<-sem
	if err != nil {
		return nil, err
	}
	w := normalize(out, l.secretKey)
	l.store(k, w)
	return w, nil
}

// dryRunReplace PUTs the Git object over the live one with dryRun=All and
// returns what the server would store.
func (l *Layer) dryRunReplace(ctx context.Context, d desired, live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	obj := d.obj.DeepCopy()
	obj.SetResourceVersion(live.GetResourceVersion())
	return l.dyn.Resource(d.mapping.Resource).Namespace(obj.GetNamespace()).Update(ctx, obj, metav1UpdateDryRun())
}

func gvrString(g schema.GroupVersionResource) string {
	if g.Group == "" {
		return g.Version + "/" + g.Resource
	}
	return g.Group + "/" + g.Version + "/" + g.Resource
}

// valuesHidden ends the source of an object whose values are secret though
// it is not a Secret: it was decrypted with SOPS, or a chart rendered a
// Secret's values into it. Its diffs show, as a Secret's do, field names
// and keyed hashes of the values (see hideValues).
const valuesHidden = "values not shown"

// valuesHiddenNote says, in target details, why objects' diffs hold
// hashes.
const valuesHiddenNote = "decrypted with SOPS, or holding values of a Secret: diffs show field names and keyed hashes"

// noteSource adds a note to the end of an object's source, inside its
// last parentheses.
func noteSource(src, note string) string {
	if s, ok := strings.CutSuffix(src, ")"); ok {
		return s + "; " + note + ")"
	}
	return src + " (" + note + ")"
}

// hideValues returns a copy of a normalized object with every value but
// its kind and name replaced by a keyed hash of the value and its place, as
// redactSecret does for a Secret's data: a diff still tells which fields
// differ, and nothing of what they hold.
func hideValues(m map[string]any, key []byte, id string) map[string]any {
	if m == nil {
		return nil
	}
	var walk func(v any, path string) any
	walk = func(v any, path string) any {
		switch t := v.(type) {
		case map[string]any:
			out := make(map[string]any, len(t))
			for k, e := range t {
				p := path + "/" + escapePointer(k)
				switch p {
				case "/apiVersion", "/kind", "/metadata/name", "/metadata/namespace":
					out[k] = e
				default:
					out[k] = walk(e, p)
				}
			}
			return out
		case []any:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = walk(e, path+"/"+strconv.Itoa(i))
			}
			return out
		case nil:
			return nil
		}
		b, _ := json.Marshal(v)
		return mac(key, id, path, b)
	}
	out, _ := walk(m, "").(map[string]any)
	return out
}

// shownDiff is yamlDiff of an object, with its values hidden when they are
// secret (desired.hidden).
func (l *Layer) shownDiff(id string, hidden bool, git, live map[string]any) string {
	if hidden {
		git, live = hideValues(git, l.secretKey, id), hideValues(live, l.secretKey, id)
	}
	return yamlDiff(id, git, live)
}
