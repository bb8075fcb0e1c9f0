package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/kube"
)

// ClusterTarget is the target that holds cluster-scoped objects.
const ClusterTarget = "(cluster)"

// Layer checks Kubernetes objects.
type Layer struct {
	cfg       config.App
	ignore    []config.IgnoreRule
	dyn       dynamic.Interface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	selector  labels.Selector
	secretKey []byte
	logger    *slog.Logger

	mu    sync.Mutex
	cache map[cacheKey]map[string]any
}

// cacheKey identifies a dry-run result: the same Git object over the same
// live version always normalizes the same way.
type cacheKey struct {
	id      string
	gitHash [32]byte
	liveRV  string
}

// New connects to the cluster (nothing is requested until Check).
func New(cfg config.App, ignore []config.IgnoreRule, logger *slog.Logger) (*Layer, error) {
	rc, err := kube.Config(cfg.Kubeconfig, cfg.Context, cfg.QPS, cfg.Burst)
	if err != nil {
		return nil, fmt.Errorf("app layer: %w", err)
	}
	rc.Timeout = cfg.Timeout.Std()
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("app layer: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("app layer: %w", err)
	}
	l := &Layer{cfg: cfg, dyn: dyn, logger: logger, cache: map[cacheKey]map[string]any{},
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
	for _, r := range ignore {
		if r.Layer == "" || r.Layer == drift.LayerApp {
			l.ignore = append(l.ignore, r)
		}
	}
	if cfg.Unmanaged != nil && cfg.Unmanaged.LabelSelector != "" {
		if l.selector, err = labels.Parse(cfg.Unmanaged.LabelSelector); err != nil {
			return nil, fmt.Errorf("app layer: unmanaged.label_selector: %w", err)
		}
	}
	l.secretKey = make([]byte, 32)
	_, _ = rand.Read(l.secretKey)
	return l, nil
}

// Name implements drift.Layer.
func (l *Layer) Name() drift.LayerName { return drift.LayerApp }

// desired is one Git object resolved against the cluster's API.
type desired struct {
	obj     *unstructured.Unstructured
	source  string
	mapping *meta.RESTMapping
}

// Check loads the Git objects, resolves their kinds, and checks each target
// (a namespace, or the cluster-scoped objects) on its own.
func (l *Layer) Check(ctx context.Context, snap drift.Snapshot) ([]drift.TargetResult, error) {
	objs, loadErr := Load(snap.Dir, l.cfg.Paths)
	byTarget := map[string][]desired{}
	targetErrs := map[string][]error{}
	var layerErrs []error
	if loadErr != nil {
		layerErrs = append(layerErrs, loadErr)
	}
	for _, o := range objs {
		m, err := l.mapping(o.Obj)
		target := o.Obj.GetNamespace()
		if err != nil {
			if target == "" {
				target = l.cfg.DefaultNamespace
			}
			targetErrs[target] = append(targetErrs[target], fmt.Errorf("%s (%s): %w", ID(o.Obj), o.Source, err))
			continue
		}
		if m.Scope.Name() == meta.RESTScopeNameRoot {
			o.Obj.SetNamespace("")
			target = ClusterTarget
		} else if target == "" {
			target = l.cfg.DefaultNamespace
			o.Obj.SetNamespace(target)
		}
		byTarget[target] = append(byTarget[target], desired{obj: o.Obj, source: o.Source, mapping: m})
	}
	if l.cfg.Unmanaged != nil {
		for _, ns := range l.cfg.Unmanaged.Namespaces {
			if _, ok := byTarget[ns]; !ok {
				byTarget[ns] = nil
			}
		}
	}
	for t := range targetErrs {
		if _, ok := byTarget[t]; !ok {
			byTarget[t] = nil
		}
	}

	names := make([]string, 0, len(byTarget))
	for t := range byTarget {
		names = append(names, t)
	}
	sort.Strings(names)
	results := make([]drift.TargetResult, len(names))
	sem := make(chan struct{}, max(1, l.cfg.Parallelism))
	var wg sync.WaitGroup
	used := make([]map[cacheKey]bool, len(names))
	for i, t := range names {
		wg.Go(func() {
			start := time.Now()
			used[i] = map[cacheKey]bool{}
			res := l.checkTarget(ctx, t, byTarget[t], sem, used[i])
			if errs := targetErrs[t]; len(errs) > 0 {
				res.Error = errors.Join(append(errs, errorOrNil(res.Error))...).Error()
			}
			res.Duration = time.Since(start)
			results[i] = res
		})
	}
	wg.Wait()
	l.pruneCache(used)
	return results, errors.Join(layerErrs...)
}

func errorOrNil(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}

// mapping resolves an object's kind, refreshing discovery once when the
// kind is unknown (a CRD installed since the last check).
func (l *Layer) mapping(u *unstructured.Unstructured) (*meta.RESTMapping, error) {
	gvk := u.GroupVersionKind()
	m, err := l.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		l.mapper.Reset()
		m, err = l.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("kind %s is not served by the cluster (is its CRD installed?)", gvk)
		}
		return nil, fmt.Errorf("resolve kind %s: %w", gvk, err)
	}
	return m, nil
}

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
			sem <- struct{}{}
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
			if inGit[name] || autoCreated(lv) || l.wholeIgnored(lv) {
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

// ignored returns the JSON Pointers to ignore in u, or an empty non-nil
// slice when the whole object is ignored, or nil when no rule applies.
func (l *Layer) ignored(u *unstructured.Unstructured) []string {
	var out []string
	matched := false
	target := u.GetNamespace()
	if target == "" {
		target = ClusterTarget
	}
	for _, r := range l.ignore {
		if r.Kind != "" && r.Kind != u.GetKind() {
			continue
		}
		if ok, _ := path.Match(orStar(r.Target), target); !ok {
			continue
		}
		if ok, _ := path.Match(orStar(r.Name), u.GetName()); !ok {
			continue
		}
		if len(r.Paths) == 0 {
			return []string{}
		}
		matched = true
		out = append(out, r.Paths...)
	}
	if !matched {
		return nil
	}
	return out
}

// wholeIgnored reports whether a rule without paths matches u.
func (l *Layer) wholeIgnored(u *unstructured.Unstructured) bool {
	p := l.ignored(u)
	return p != nil && len(p) == 0
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// compareOne compares one Git object with its live counterpart (nil when
// absent). It returns the cache key it used, if any.
func (l *Layer) compareOne(ctx context.Context, d desired, live *unstructured.Unstructured, sem chan struct{}) (*drift.Finding, *cacheKey, error) {
	id := ID(d.obj)
	if l.wholeIgnored(d.obj) {
		return nil, nil, nil
	}
	paths := l.ignored(d.obj)
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
	if reflect.DeepEqual(git, lv) {
		return nil, nil, nil
	}
	// Not equal as written: ask the server what Git becomes over this live
	// object (defaults, canonical forms, allocated fields).
	key := cacheKey{id: id, gitHash: hashObj(d.obj.Object), liveRV: live.GetResourceVersion()}
	want, ok := l.cached(key)
	if !ok {
		sem <- struct{}{}
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
	if reflect.DeepEqual(want, lv) {
		return nil, &key, nil
	}
	return &drift.Finding{Object: id, Change: drift.ChangeChanged, Diff: yamlDiff(id, want, lv),
		Details: map[string]any{"source": d.source}}, &key, nil
}

// dryRunReplace PUTs the Git object over the live one with dryRun=All and
// returns what the server would store.
func (l *Layer) dryRunReplace(ctx context.Context, d desired, live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	obj := d.obj.DeepCopy()
	obj.SetResourceVersion(live.GetResourceVersion())
	return l.dyn.Resource(d.mapping.Resource).Namespace(obj.GetNamespace()).Update(ctx, obj, metav1UpdateDryRun())
}

func (l *Layer) cached(k cacheKey) (map[string]any, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.cache[k]
	return v, ok
}

func (l *Layer) store(k cacheKey, v map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cache[k] = v
}

// pruneCache keeps only the entries the last check used, so memory is
// bounded by the objects in Git, not by history.
func (l *Layer) pruneCache(used []map[cacheKey]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.cache {
		keep := false
		for _, u := range used {
			if u[k] {
				keep = true
				break
			}
		}
		if !keep {
			delete(l.cache, k)
		}
	}
}

func hashObj(m map[string]any) [32]byte {
	b, _ := json.Marshal(m)
	return sha256.Sum256(b)
}

func copyMap(m map[string]any) map[string]any { return runtime.DeepCopyJSON(m) }

func gvrString(g schema.GroupVersionResource) string {
	if g.Group == "" {
		return g.Version + "/" + g.Resource
	}
	return g.Group + "/" + g.Version + "/" + g.Resource
}
