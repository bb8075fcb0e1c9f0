package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/ignore"
	"github.com/driftd/driftd/pkg/kube"
	"github.com/driftd/driftd/pkg/repofs"
)

// ClusterTarget is the target that holds cluster-scoped objects.
const ClusterTarget = "(cluster)"

// Layer checks Kubernetes objects.
type Layer struct {
	cfg       Config
	ignore    []ignore.Rule
	dyn       dynamic.Interface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	selector  labels.Selector
	secretKey []byte
	logger    *slog.Logger

	mu    sync.Mutex
	cache map[cacheKey]map[string]any
	// synced holds the objects found in sync, with the mode that found
	// them, per the same keys.
	synced map[cacheKey]string
	// access remembers SelfSubjectAccessReviews for compare: auto.
	access accessCache

	// remoteRenderer renders kustomizations with remote resources in a
	// child process; see LoadOptions.
	remoteRenderer []string
	// helmRenderer renders Helm charts in a child process (argv of
	// driftd's own helm-template); nil renders them in process.
	helmRenderer []string
	// disco is the cached discovery client behind mapper, which also
	// gives Helm the cluster's version and APIs.
	disco discovery.CachedDiscoveryInterface
}

// SetHelmRenderer sets the command that renders Helm charts in a child
// process bounded in time and memory: argv of driftd's own helm-template.
func (l *Layer) SetHelmRenderer(argv []string) { l.helmRenderer = argv }

// SetRemoteRenderer sets the command that renders kustomizations when
// allow_remote_resources is on: argv of driftd's own `kustomize-build`.
func (l *Layer) SetRemoteRenderer(argv []string) { l.remoteRenderer = argv }

// New connects to the cluster (nothing is requested until Check).
func New(cfg Config, ignore []ignore.Rule, logger *slog.Logger) (*Layer, error) {
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
	disco := memory.NewMemCacheClient(dc)
	l := &Layer{cfg: cfg, dyn: dyn, logger: logger, cache: map[cacheKey]map[string]any{}, synced: map[cacheKey]string{}, access: accessCache{now: time.Now},
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(disco), disco: disco}
	l.ignore = ignore
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
	// keysOnly: a SOPS-encrypted Secret without a key (see keysOnly).
	keysOnly bool
	// hidden, chart and volatile are Object's Hidden, Chart and Volatile.
	hidden, chart, volatile bool
}

// desiredOf is a loaded object with its kind's mapping.
func desiredOf(o Object, m *meta.RESTMapping) desired {
	return desired{obj: o.Obj, source: o.Source, mapping: m, keysOnly: o.KeysOnly,
		hidden: o.Hidden, chart: o.Chart, volatile: o.Volatile}
}

// Check loads the Git objects, resolves their kinds, and checks each target
// (a namespace, or the cluster-scoped objects) on its own.
func (l *Layer) Check(ctx context.Context, snap drift.Snapshot) ([]drift.TargetResult, error) {
	rfs, err := repofs.Open(snap.Dir, snap.MaxFileSize)
	if err != nil {
		return nil, err
	}
	defer rfs.Close()
	objs, loadErr := Load(ctx, rfs, l.cfg.Paths, LoadOptions{RemoteRenderer: l.remoteRenderer, Timeout: l.cfg.Timeout.Std(), decrypt: loadKeys(l.cfg.SOPS)})
	byTarget := map[string][]desired{}
	var layerErrs []error
	if loadErr != nil {
		layerErrs = append(layerErrs, loadErr)
	}
	// Helm releases: declared in driftd.yaml, or by HelmRelease and
	// Application objects just loaded. Their errors are their
	// namespace's.
	reqs, targetErrs := l.helmRequests(rfs, objs)
	objs = append(objs, l.renderHelm(ctx, rfs, reqs, targetErrs)...)
	for t, errs := range targetErrs {
		if t == "" {
			delete(targetErrs, t)
			targetErrs[l.cfg.DefaultNamespace] = append(targetErrs[l.cfg.DefaultNamespace], errs...)
		}
	}
	maps := l.mappings(ctx, objs)
	for _, o := range objs {
		mr := maps[o.Obj.GroupVersionKind()]
		m, err := mr.m, mr.err
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
		byTarget[target] = append(byTarget[target], desiredOf(o, m))
	}
	for t, ds := range byTarget {
		kept, errs := dropDuplicates(ds)
		byTarget[t] = kept
		targetErrs[t] = append(targetErrs[t], errs...)
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
			res := l.checkTargetSafe(ctx, t, byTarget[t], sem, used[i])
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

// checkTargetSafe is checkTarget, with a panic turned into the target's
// error: one target's bug never takes the others, or the daemon, down.
func (l *Layer) checkTargetSafe(ctx context.Context, t string, objs []desired, sem chan struct{}, used map[cacheKey]bool) (res drift.TargetResult) {
	defer func() {
		if p := recover(); p != nil {
			l.logger.Error("target check panicked", "target", t, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res = drift.Fail(t, fmt.Errorf("namespace %s: internal error: %v", t, p))
		}
	}()
	return l.checkTarget(ctx, t, objs, sem, used)
}

// mappingResult is a kind's REST mapping, or why it has none.
type mappingResult struct {
	m   *meta.RESTMapping
	err error
}

// mappings resolves the kinds of objs, each kind once, within ctx. client-go
// discovery takes no context, so the lookups run on their own goroutine
// (bounded by the client's timeout) and the check stops waiting for them
// when ctx ends: --timeout and SIGTERM end a check on time even against an
// API server that never answers.
func (l *Layer) mappings(ctx context.Context, objs []Object) map[schema.GroupVersionKind]mappingResult {
	var gvks []schema.GroupVersionKind
	seen := map[schema.GroupVersionKind]bool{}
	for _, o := range objs {
		if g := o.Obj.GroupVersionKind(); !seen[g] {
			seen[g] = true
			gvks = append(gvks, g)
		}
	}
	out := make(map[schema.GroupVersionKind]mappingResult, len(gvks))
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				l.logger.Error("resolving kinds panicked", "panic", fmt.Sprint(p))
			}
		}()
		for _, g := range gvks {
			if ctx.Err() != nil {
				return
			}
			m, err := l.mapping(g)
			mu.Lock()
			out[g] = mappingResult{m: m, err: err}
			mu.Unlock()
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	res := make(map[schema.GroupVersionKind]mappingResult, len(gvks))
	for _, g := range gvks {
		r, ok := out[g]
		if !ok {
			r.err = fmt.Errorf("resolve kind %s: %w", g, context.Cause(ctx))
			if ctx.Err() == nil {
				r.err = fmt.Errorf("resolve kind %s: internal error", g)
			}
		}
		res[g] = r
	}
	return res
}

// mapping resolves an object's kind, refreshing discovery once when the
// kind is unknown (a CRD installed since the last check).
func (l *Layer) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
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

// dropDuplicates removes every object that Git declares more than once
// (same group, kind, namespace and name), with an error naming each pair of
// sources. None of the copies is compared: two copies of a Secret that
// differ would tell which one matches the live value.
func dropDuplicates(ds []desired) ([]desired, []error) {
	first := map[string]int{}
	dup := map[string]bool{}
	var errs []error
	for i, d := range ds {
		id := ID(d.obj)
		if j, ok := first[id]; ok {
			dup[id] = true
			errs = append(errs, fmt.Errorf("%s is declared twice, in %s and in %s: neither is compared", id, ds[j].source, d.source))
			continue
		}
		first[id] = i
	}
	if len(dup) == 0 {
		return ds, nil
	}
	kept := ds[:0:0]
	for _, d := range ds {
		if !dup[ID(d.obj)] {
			kept = append(kept, d)
		}
	}
	return kept, errs
}
