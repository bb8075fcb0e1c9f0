package helmrender

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/driftd/driftd/pkg/manifest"
	"github.com/driftd/driftd/pkg/repofs"
)

// Render renders one release as `helm template` would, in process: the
// chart is read through rfs only (or fetched, when req names a chart
// repository and opts.AllowRemote allows it), values are coalesced as helm
// coalesces them, .Capabilities come from caps, `lookup` returns nothing and
// DNS lookups are off, hooks, tests, NOTES.txt and the charts' crds/ are
// left out, and every object is decoded.
//
// Render cannot interrupt a template: a chart that loops or grows without
// end holds the calling goroutine and its memory. Charts from a pull
// request or any repository not fully trusted should be rendered with
// RenderIsolated, which bounds them in time and memory.
//
// An error names the request (its origin, chart and values files) and, for
// a template error, the template and line; it never quotes a supplied
// value.
func Render(ctx context.Context, rfs *repofs.FS, req Request, caps Capabilities, opts Options) (Result, error) {
	red := &redactor{}
	res, err := render(ctx, rfs, req, caps, opts.withDefaults(), red)
	if err != nil {
		return Result{}, sanitize(req, red, err)
	}
	return res, nil
}

func render(ctx context.Context, rfs *repofs.FS, req Request, caps Capabilities, opts Options, red *redactor) (Result, error) {
	namespace := req.Namespace
	if namespace == "" {
		namespace = "default"
	}
	if err := checkRequest(req, namespace); err != nil {
		return Result{}, err
	}
	capabilities, err := capabilitiesFor(req, caps)
	if err != nil {
		return Result{}, err
	}
	var ch *chart.Chart
	if req.RepoURL == "" {
		dir, err := repofs.Clean(req.Chart)
		if err != nil {
			return Result{}, err
		}
		if ch, err = loadLocal(rfs, dir, newBudget(opts.MaxChartSize)); err != nil {
			return Result{}, err
		}
	} else if ch, err = fetchChart(ctx, req, opts); err != nil {
		return Result{}, err
	}
	protectNames(red, ch, req)
	if err := checkChart(ch, capabilities); err != nil {
		return Result{}, err
	}
	vals, applied, err := values(rfs, ch, req, red)
	if err != nil {
		return Result{}, err
	}
	if err := chartutil.ProcessDependencies(ch, vals); err != nil {
		return Result{}, fmt.Errorf("dependencies: %w", err)
	}
	top, err := util.ToRenderValuesWithSchemaValidation(ch, vals, common.ReleaseOptions{
		Name: req.ReleaseName, Namespace: namespace, Revision: 1, IsInstall: true,
	}, capabilities, true)
	if err != nil {
		return Result{}, fmt.Errorf("values: %w", err)
	}
	if !req.SkipSchemaValidation {
		coalesced, _ := top["Values"].(common.Values)
		if err := validateSchemas(ch, coalesced); err != nil {
			return Result{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	used := &usedFuncs{}
	files, err := engine.Engine{CustomTemplateFuncs: volatileFuncs(used)}.RenderWithContext(ctx, ch, top)
	if err != nil {
		return Result{}, err
	}
	res := Result{Chart: ch.Name(), Version: ch.Metadata.Version, ValuesFiles: applied, CRDs: len(ch.CRDObjects())}
	var unstable map[string]bool
	if res.Volatile = used.names(); len(res.Volatile) > 0 {
		unstable = unstableTemplates(ctx, ch, top, files, res.Volatile)
	}
	if err := res.collect(files, opts.MaxOutput, unstable); err != nil {
		return Result{}, err
	}
	return res, nil
}

// unstableTemplates renders the chart a second time, with the volatile
// functions answering otherwise (lookup finds an object, now is another
// time, random functions draw again), and returns the templates whose
// output changed: what they render is not what Git says, but what one
// rendering drew. When the second rendering fails (a template uses what
// lookup found in a way the made-up object does not allow), the templates
// that name one of the functions used, or could include a helper that
// does, are unstable.
func unstableTemplates(ctx context.Context, ch *chart.Chart, top common.Values, first map[string]string, used []string) map[string]bool {
	out := map[string]bool{}
	second, err := engine.Engine{CustomTemplateFuncs: probeFuncs(&usedFuncs{})}.RenderWithContext(ctx, ch, top)
	if err == nil {
		for name, content := range first {
			if c, ok := second[name]; !ok || c != content {
				out[name] = true
			}
		}
		return out
	}
	names := func(data []byte) bool {
		return slices.ContainsFunc(used, func(f string) bool { return bytes.Contains(data, []byte(f)) })
	}
	sources := map[string][]byte{}
	helpers := false
	var walk func(c *chart.Chart)
	walk = func(c *chart.Chart) {
		for _, t := range c.Templates {
			name := path.Join(c.ChartFullPath(), t.Name)
			sources[name] = t.Data
			if strings.HasPrefix(path.Base(t.Name), "_") && names(t.Data) {
				helpers = true
			}
		}
		for _, d := range c.Dependencies() {
			walk(d)
		}
	}
	walk(ch)
	for name := range first {
		data := sources[name]
		if names(data) || helpers && (bytes.Contains(data, []byte("include")) || bytes.Contains(data, []byte("template"))) || data == nil {
			out[name] = true
		}
	}
	return out
}

// checkRequest checks the names of a request, as helm install does for the
// release name.
func checkRequest(req Request, namespace string) error {
	if req.Chart == "" {
		return fmt.Errorf("no chart")
	}
	if err := chartutil.ValidateReleaseName(req.ReleaseName); err != nil {
		return fmt.Errorf("release name %s: %w", display(req.ReleaseName), err)
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return fmt.Errorf("namespace %s: %s", display(namespace), strings.Join(errs, "; "))
	}
	return nil
}

// capabilitiesFor returns .Capabilities: helm's defaults, with the
// cluster's version and API versions (or the request's own).
func capabilitiesFor(req Request, caps Capabilities) (*common.Capabilities, error) {
	c := common.DefaultCapabilities.Copy()
	kv, apis := caps.KubeVersion, caps.APIVersions
	if req.KubeVersion != "" {
		kv = req.KubeVersion
	}
	if len(req.APIVersions) > 0 {
		apis = req.APIVersions
	}
	if kv != "" {
		v, err := common.ParseKubeVersion(kv)
		if err != nil {
			return nil, fmt.Errorf("kube version %s: %w", display(kv), err)
		}
		c.KubeVersion = *v
	}
	if len(apis) > 0 {
		c.APIVersions = common.VersionSet(apis)
	}
	return c, nil
}

// checkChart refuses what helm install refuses before rendering: a library
// chart, a chart whose kubeVersion the cluster does not satisfy, and a
// missing dependency.
func checkChart(ch *chart.Chart, caps *common.Capabilities) error {
	switch ch.Metadata.Type {
	case "", "application":
	default:
		return fmt.Errorf("%s charts are not installable", display(ch.Metadata.Type))
	}
	if kv := ch.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return fmt.Errorf("chart requires kubeVersion %s, which is incompatible with Kubernetes %s", display(kv), caps.KubeVersion.Version)
	}
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	for _, dep := range ch.Metadata.Dependencies {
		if dep != nil && !have[dep.Name] {
			return fmt.Errorf("dependency %s (repository %s) %w", display(dep.Name), display(dep.Repository), ErrNotVendored)
		}
	}
	return nil
}

// protectNames keeps the chart's names readable in redacted errors.
func protectNames(red *redactor, ch *chart.Chart, req Request) {
	var walk func(c *chart.Chart)
	walk = func(c *chart.Chart) {
		red.protect(c.Name(), c.ChartFullPath())
		for _, t := range c.Templates {
			red.protect(path.Join(c.ChartFullPath(), t.Name))
		}
		for _, d := range c.Dependencies() {
			walk(d)
		}
	}
	walk(ch)
	red.protect(req.Chart, req.ReleaseName, req.Namespace)
	red.protect(req.ValuesFiles...)
}

// collect splits the rendered templates into objects as helm template
// does, and leaves out NOTES.txt, hooks and tests.
func (r *Result) collect(files map[string]string, maxOutput int64, unstable map[string]bool) error {
	var total int64
	for name, content := range files {
		total += int64(len(content))
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	if total > maxOutput {
		return fmt.Errorf("rendered manifests %w of %d bytes", ErrTooLarge, maxOutput)
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if isTest(h) {
			r.Tests++
		} else {
			r.Hooks++
		}
	}
	r.Objects = []Manifest{}
	for _, m := range manifests {
		if err := checkAliases([]byte(m.Content)); err != nil {
			return fmt.Errorf("template %s: %w", m.Name, err)
		}
		objs, err := decode(m.Content)
		if err != nil {
			return fmt.Errorf("template %s: %w", m.Name, err)
		}
		for _, o := range objs {
			r.Objects = append(r.Objects, Manifest{Template: m.Name, Object: o, Volatile: unstable[m.Name]})
		}
	}
	return nil
}

func isTest(h *release.Hook) bool {
	for _, e := range h.Events {
		if e == release.HookTest {
			return true
		}
	}
	return false
}

// quotedObject matches unstructured's "Object 'Kind' is missing in '{...}'".
var quotedObject = regexp.MustCompile(` in '.*'$`)

// decode decodes one rendered document as the Kubernetes client helm
// applies with does (duplicate keys: the last wins), a List into its items,
// without quoting the object in an error.
func decode(doc string) ([]*unstructured.Unstructured, error) {
	objs, err := manifest.Decode([]byte(doc), false)
	if err != nil {
		return nil, fmt.Errorf("%s", quotedObject.ReplaceAllString(err.Error(), ""))
	}
	return objs, nil
}
