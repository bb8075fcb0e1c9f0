package app

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
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
			findings, ferrs := l.compareKind(ctx, ds, live, unmanaged, sem, used, &mu)
			mu.Lock()
			res.Findings = append(res.Findings, findings...)
			errs = append(errs, ferrs...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		res.Error = err.Error()
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
	sem chan struct{}, used map[cacheKey]bool, mu *sync.Mutex) ([]drift.Finding, []error) {
	var findings []drift.Finding
	var errs []error
	var fmu sync.Mutex
	var wg sync.WaitGroup
	inGit := map[string]bool{}
	for _, d := range ds {
		inGit[d.obj.GetName()] = true
		lv := live[d.obj.GetName()]
		wg.Go(func() {
			defer recoverInto(&fmu, &errs, ID(d.obj))
			f, key, err := l.compareOne(ctx, d, lv, sem)
			fmu.Lock()
			defer fmu.Unlock()
			if key != nil {
				mu.Lock()
				used[*key] = true
				mu.Unlock()
			}
			if err != nil {
				errs = append(errs, err)
			}
			if f != nil {
				findings = append(findings, *f)
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
		}
	}
	return findings, errs
}

// autoCreated tells objects that the cluster makes by itself, which are
// never unmanaged drift: anything with a controller owner, and the default
// ServiceAccount, root CA ConfigMap and token Secrets of every namespace.
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
		t, _, _ := unstructured.NestedString(u.Object, "type")
		return t == "kubernetes.io/service-account-token"
	}
	return false
}

// compareOne compares one Git object with its live counterpart (nil when
// absent). It returns the cache key it used, if any.
func (l *Layer) compareOne(ctx context.Context, d desired, live *unstructured.Unstructured, sem chan struct{}) (*drift.Finding, *cacheKey, error) {
	id := ID(d.obj)
	paths := l.ignoredPaths(d.obj)
	git := normalize(d.obj, l.secretKey)
	if live == nil {
		return &drift.Finding{Object: id, Change: drift.ChangeMissing, Diff: yamlDiff(id, git, nil),
			Details: map[string]any{"source": d.source}}, nil, nil
	}
	lv := normalize(live, l.secretKey)
	for _, p := range paths {
		removePointer(git, p)
		removePointer(lv, p)
	}
	// Fields that ignored field managers own (an HPA's replicas, an
	// injected sidecar) are set aside on both sides.
	owned := managedFields(live, l.ignoredManagers(d.obj))
	dropOwned(lv, []map[string]any{git}, owned)
	if reflect.DeepEqual(git, lv) {
		return nil, nil, nil
	}
	// Not equal as written: ask the server what Git becomes over this live
	// object (defaults, canonical forms, allocated fields).
	key := cacheKey{id: id, gitHash: hashObj(d.obj.Object), liveRV: live.GetResourceVersion()}
	want, ok := l.cached(key)
	if !ok {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%s (%s): dry-run replace: %w", id, d.source, ctx.Err())
		}
		out, err := l.dryRunReplace(ctx, d, live)
		<-sem
		if err != nil {
			return nil, nil, fmt.Errorf("%s (%s): dry-run replace: %w", id, d.source, err)
		}
		want = normalize(out, l.secretKey)
		l.store(key, want)
	}
	want = copyMap(want)
	for _, p := range paths {
		removePointer(want, p)
	}
	if len(owned) > 0 {
		dropOwned(normalize(live, l.secretKey), []map[string]any{want}, owned)
	}
	if reflect.DeepEqual(want, lv) {
		return nil, &key, nil
	}
	f := &drift.Finding{Object: id, Change: drift.ChangeChanged, Diff: yamlDiff(id, want, lv),
		Details: map[string]any{"source": d.source}}
	if by := changedBy(live, want, lv); len(by) > 0 {
		// Who made the live edit, and when: the first thing an operator asks.
		f.Details["changed_by"] = by
		var head strings.Builder
		for _, c := range by {
			fmt.Fprintf(&head, "# changed by %s", c.Manager)
			if c.Time != "" {
				fmt.Fprintf(&head, " at %s", c.Time)
			}
			head.WriteString("\n")
		}
		f.Diff = head.String() + f.Diff
	}
	return f, &key, nil
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
