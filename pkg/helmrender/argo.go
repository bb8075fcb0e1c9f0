package helmrender

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftd/driftd/pkg/repofs"
)

// FromApplication turns an Argo CD Application (argoproj.io/v1alpha1) into
// the Requests that Argo CD's repo server would render, one per Helm source
// (spec.source, or each of spec.sources):
//
//   - a source whose repoURL is this repository (Sources.RepoURLs) and
//     whose path is a chart: it says so with helm settings or, without
//     any, the path holds a Chart.yaml and no kustomization (which needs
//     Sources.FS); helm.valueFiles are relative to the path (a leading
//     "/" means the repository root), as Argo CD resolves them;
//   - a source with chart and a chart repository repoURL: a remote
//     request (Options.AllowRemote must allow it), its valueFiles naming
//     files in the chart; OCI repositories are ErrOCI.
//
// Values are helm.valueFiles, then helm.valuesObject (or helm.values, a
// YAML string), then helm.parameters and helm.fileParameters as --set,
// --set-string and --set-file; the release name is helm.releaseName or the
// Application's name; the namespace is helm.namespace or
// spec.destination.namespace; helm.kubeVersion and helm.apiVersions
// replace the cluster's. A source that only provides a ref is skipped;
// "$ref/..." value files and remote value files are errors, as is a
// source of another Git repository.
//
// Sources of this repository that are not charts (plain directories,
// kustomizations) are listed in a *NotHelmError (errors.Is ErrNotHelm),
// returned together with the requests of the Helm sources, if any: the
// caller's plain loader handles those paths. Origin is left for the caller
// to set.
func FromApplication(obj *unstructured.Unstructured, src Sources) ([]Request, error) {
	gvk := obj.GroupVersionKind()
	if gvk.Group != "argoproj.io" || gvk.Kind != "Application" {
		return nil, fmt.Errorf("%s %s is not an Argo CD Application", display(obj.GetAPIVersion()), display(obj.GetKind()))
	}
	o := obj.Object
	if h, _, _ := field[map[string]any](o, "spec", "sourceHydrator"); h != nil {
		return nil, errors.New("spec.sourceHydrator is not supported")
	}
	var sources []map[string]any
	var names []string
	list, _, err := field[[]any](o, "spec", "sources")
	if err != nil {
		return nil, err
	}
	for i, s := range list {
		m, ok := s.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("spec.sources[%d]: is a %T, not a map", i, s)
		}
		sources = append(sources, m)
		names = append(names, fmt.Sprintf("spec.sources[%d]", i))
	}
	if len(sources) == 0 {
		s, ok, err := field[map[string]any](o, "spec", "source")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errors.New("no spec.source or spec.sources")
		}
		sources, names = []map[string]any{s}, []string{"spec.source"}
	}
	destNS, err := str(o, "spec", "destination", "namespace")
	if err != nil {
		return nil, err
	}
	var reqs []Request
	var plain []string
	var errs []error
	for i, s := range sources {
		req, dir, err := argoSource(s, obj.GetName(), destNS, src)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", names[i], err))
		case dir != "":
			plain = append(plain, dir)
		case req != nil:
			reqs = append(reqs, *req)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(plain) > 0 {
		return reqs, &NotHelmError{Paths: plain}
	}
	return reqs, nil
}

// argoSource turns one source into a request, or the directory of a source
// that is not a chart, or neither for a ref-only source.
func argoSource(s map[string]any, appName, destNS string, src Sources) (*Request, string, error) {
	repoURL, err1 := str(s, "repoURL")
	chartName, err2 := str(s, "chart")
	srcPath, err3 := str(s, "path")
	ref, err4 := str(s, "ref")
	revision, err5 := str(s, "targetRevision")
	helm, hasHelm, err6 := field[map[string]any](s, "helm")
	if err := firstErr(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, "", err
	}
	if ref != "" && chartName == "" && srcPath == "" {
		return nil, "", nil // only provides $ref values to other sources
	}
	req := &Request{}
	if chartName != "" {
		u, err := url.Parse(repoURL)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" {
			// Argo CD takes oci:// and scheme-less URLs for OCI.
			return nil, "", ErrOCI
		}
		req.RepoURL, req.Chart = repoURL, chartName
		if revision != "*" {
			req.Version = revision
		}
	} else {
		if !src.isThisRepo(repoURL) {
			return nil, "", fmt.Errorf("repoURL %s is not this repository (see Sources.RepoURLs)", display(repoURL))
		}
		dir, err := repofs.Clean(srcPath)
		if err != nil {
			return nil, "", fmt.Errorf("path: %w", err)
		}
		isChart, err := argoIsChart(s, hasHelm, dir, src.FS)
		if err != nil {
			return nil, "", err
		}
		if !isChart {
			return nil, dir, nil
		}
		req.Chart = dir
	}
	if err := argoHelm(req, helm, appName, destNS, src); err != nil {
		return nil, "", fmt.Errorf("helm: %w", err)
	}
	return req, "", nil
}

// argoIsChart decides a source's type as Argo CD does: an explicit type
// (helm, kustomize, directory or plugin settings) wins; otherwise a
// kustomization file makes it Kustomize, a Chart.yaml Helm, and anything
// else a plain directory.
func argoIsChart(s map[string]any, hasHelm bool, dir string, rfs *repofs.FS) (bool, error) {
	if _, ok := s["plugin"]; ok {
		return false, errors.New("config management plugins are not supported")
	}
	if hasHelm {
		return true, nil
	}
	if _, ok := s["kustomize"]; ok {
		return false, nil
	}
	if _, ok := s["directory"]; ok {
		return false, nil
	}
	if rfs == nil {
		return false, nil
	}
	for _, k := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if ok, err := rfs.Exists(path.Join(dir, k)); err != nil || ok {
			return false, err
		}
	}
	return rfs.Exists(path.Join(dir, "Chart.yaml"))
}

// argoHelm applies a source's helm settings to req.
func argoHelm(req *Request, helm map[string]any, appName, destNS string, src Sources) error {
	releaseName, err1 := str(helm, "releaseName")
	namespace, err2 := str(helm, "namespace")
	valueFiles, err3 := stringList(helm, "valueFiles")
	ignoreMissing, err4 := boolean(helm, "ignoreMissingValueFiles")
	valuesStr, err5 := str(helm, "values")
	valuesObj, hasObj, err6 := field[map[string]any](helm, "valuesObject")
	kubeVersion, err7 := str(helm, "kubeVersion")
	apiVersions, err8 := stringList(helm, "apiVersions")
	skipSchema, err9 := boolean(helm, "skipSchemaValidation")
	params, _, err10 := field[[]any](helm, "parameters")
	fileParams, _, err11 := field[[]any](helm, "fileParameters")
	if err := firstErr(err1, err2, err3, err4, err5, err6, err7, err8, err9, err10, err11); err != nil {
		return err
	}
	req.ReleaseName = releaseName
	if req.ReleaseName == "" {
		req.ReleaseName = appName
	}
	req.Namespace = namespace
	if req.Namespace == "" {
		req.Namespace = destNS
	}
	req.IgnoreMissingValuesFiles = ignoreMissing
	req.KubeVersion, req.APIVersions = kubeVersion, apiVersions
	req.SkipSchemaValidation = skipSchema
	for _, f := range valueFiles {
		p, err := argoPath(req, f)
		if err != nil {
			return fmt.Errorf("valueFiles: %w", err)
		}
		req.ValuesFiles = append(req.ValuesFiles, p)
	}
	switch {
	case hasObj:
		req.Values = valuesObj
	case strings.TrimSpace(valuesStr) != "":
		if err := checkAliases([]byte(valuesStr)); err != nil {
			return fmt.Errorf("values: %w", err)
		}
		v, err := common.ReadValues([]byte(valuesStr))
		if err != nil {
			return errors.New("values: not a YAML map")
		}
		req.Values = v
	}
	for i, p := range params {
		m, ok := p.(map[string]any)
		if !ok {
			return fmt.Errorf("parameters[%d]: is a %T, not a map", i, p)
		}
		name, err1 := str(m, "name")
		value, err2 := str(m, "value")
		force, err3 := boolean(m, "forceString")
		if err := firstErr(err1, err2, err3); err != nil {
			return fmt.Errorf("parameters[%d]: %w", i, err)
		}
		req.Parameters = append(req.Parameters, Parameter{Name: name, Value: escapeCommas(value), String: force})
	}
	for i, p := range fileParams {
		m, ok := p.(map[string]any)
		if !ok {
			return fmt.Errorf("fileParameters[%d]: is a %T, not a map", i, p)
		}
		name, err1 := str(m, "name")
		file, err2 := str(m, "path")
		if err := firstErr(err1, err2); err != nil {
			return fmt.Errorf("fileParameters[%d]: %w", i, err)
		}
		if req.RepoURL != "" {
			return fmt.Errorf("fileParameters[%d]: file parameters of a chart from a chart repository are not supported", i)
		}
		fp, err := argoPath(req, file)
		if err != nil {
			return fmt.Errorf("fileParameters[%d]: %w", i, err)
		}
		req.Parameters = append(req.Parameters, Parameter{Name: name, Value: fp, File: true})
	}
	return nil
}

// argoPath resolves a value file as Argo CD does: relative to the source's
// path, or to the repository root with a leading "/"; for a chart of a
// chart repository, a file in the chart. "$ref/..." references and URLs
// are refused.
func argoPath(req *Request, f string) (string, error) {
	if strings.HasPrefix(f, "$") {
		return "", fmt.Errorf("%s: $ref value files (multiple sources) are not supported", display(f))
	}
	if u, err := url.Parse(f); err == nil && u.Scheme != "" {
		return "", fmt.Errorf("%s: remote value files are not supported", display(f))
	}
	if req.RepoURL != "" {
		return repofs.Clean(strings.TrimPrefix(f, "/"))
	}
	if strings.HasPrefix(f, "/") {
		return repofs.Clean(strings.TrimLeft(f, "/"))
	}
	return repofs.Clean(path.Join(req.Chart, f))
}

// escapeCommas escapes the commas of a parameter value as Argo CD does
// before passing it to --set, so that "a,b" stays one string; a value in
// braces (a --set list) is left alone.
func escapeCommas(v string) string {
	if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == ',' && (i == 0 || v[i-1] != '\\') {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
