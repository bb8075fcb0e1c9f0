package helmrender

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/strvals"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftd/driftd/pkg/repofs"
)

const (
	fluxHelmGroup   = "helm.toolkit.fluxcd.io"
	fluxSourceGroup = "source.toolkit.fluxcd.io"
)

// FromHelmRelease turns a Flux HelmRelease (helm.toolkit.fluxcd.io v2,
// v2beta2 or v2beta1) into the Request that helm-controller would render:
//
//   - a chart from a GitRepository that is this repository (see Sources)
//     is the directory spec.chart.spec.chart; spec.chart.spec.valuesFiles
//     (and the older valuesFile) are relative to the repository root and,
//     as source-controller does, replace the chart's values.yaml (which
//     then counts only if listed);
//   - a chart from a HelmRepository declared among Sources.Objects is a
//     remote request (Options.AllowRemote must allow it); its valuesFiles
//     name files in the chart; an OCI HelmRepository is ErrOCI;
//   - values are spec.valuesFrom (ConfigMaps and Secrets of the
//     HelmRelease's namespace among Sources.Objects, merged in order, or
//     set at targetPath) with spec.values merged over them;
//   - the release name is spec.releaseName or [targetNamespace-]name,
//     shortened as helm-controller does when longer than 53 characters;
//     the namespace is spec.targetNamespace or the HelmRelease's.
//
// spec.chartRef (OCIRepository and HelmChart sources) is not supported. A
// chart from another Git repository is an error naming it. Origin is left
// for the caller to set.
func FromHelmRelease(obj *unstructured.Unstructured, src Sources) (Request, error) {
	gvk := obj.GroupVersionKind()
	if gvk.Group != fluxHelmGroup || gvk.Kind != "HelmRelease" {
		return Request{}, fmt.Errorf("%s %s is not a Flux HelmRelease", display(obj.GetAPIVersion()), display(obj.GetKind()))
	}
	o := obj.Object
	ns := obj.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	if ref, _, _ := field[map[string]any](o, "spec", "chartRef"); ref != nil {
		kind, _ := str(ref, "kind")
		return Request{}, fmt.Errorf("spec.chartRef (%s) is not supported: use spec.chart", display(kind))
	}
	chartName, err1 := str(o, "spec", "chart", "spec", "chart")
	version, err2 := str(o, "spec", "chart", "spec", "version")
	kind, err3 := str(o, "spec", "chart", "spec", "sourceRef", "kind")
	srcName, err4 := str(o, "spec", "chart", "spec", "sourceRef", "name")
	srcNS, err5 := str(o, "spec", "chart", "spec", "sourceRef", "namespace")
	valuesFile, err6 := str(o, "spec", "chart", "spec", "valuesFile")
	valuesFiles, err7 := stringList(o, "spec", "chart", "spec", "valuesFiles")
	ignoreMissing, err8 := boolean(o, "spec", "chart", "spec", "ignoreMissingValuesFiles")
	releaseName, err9 := str(o, "spec", "releaseName")
	targetNS, err10 := str(o, "spec", "targetNamespace")
	if err := firstErr(err1, err2, err3, err4, err5, err6, err7, err8, err9, err10); err != nil {
		return Request{}, err
	}
	if chartName == "" {
		return Request{}, fmt.Errorf("spec.chart.spec.chart is empty")
	}
	if srcNS == "" {
		srcNS = ns
	}
	if valuesFile != "" {
		valuesFiles = append([]string{valuesFile}, valuesFiles...)
	}
	req := Request{
		Chart:                    chartName,
		ValuesFiles:              valuesFiles,
		IgnoreMissingValuesFiles: ignoreMissing,
		ReplaceDefaults:          len(valuesFiles) > 0,
		Namespace:                ns,
	}
	if targetNS != "" {
		req.Namespace = targetNS
	}
	if releaseName == "" {
		releaseName = obj.GetName()
		if targetNS != "" {
			releaseName = targetNS + "-" + releaseName
		}
	}
	req.ReleaseName = shortenReleaseName(releaseName)

	ref := display(srcNS + "/" + srcName)
	switch kind {
	case "GitRepository":
		if !src.isThisGitRepository(srcNS, srcName) {
			return Request{}, fmt.Errorf("chart source GitRepository %s is not this repository (see Sources.GitRepositories)", ref)
		}
		dir, err := repofs.Clean(chartName)
		if err != nil {
			return Request{}, fmt.Errorf("spec.chart.spec.chart: %w", err)
		}
		req.Chart = dir
		for i, f := range req.ValuesFiles {
			if req.ValuesFiles[i], err = repofs.Clean(f); err != nil {
				return Request{}, fmt.Errorf("spec.chart.spec.valuesFiles: %w", err)
			}
		}
	case "HelmRepository":
		repo := src.object(fluxSourceGroup, "HelmRepository", srcNS, srcName)
		if repo == nil {
			return Request{}, fmt.Errorf("chart source HelmRepository %s is not declared in the repository", ref)
		}
		u, err1 := str(repo.Object, "spec", "url")
		typ, err2 := str(repo.Object, "spec", "type")
		if err := firstErr(err1, err2); err != nil {
			return Request{}, fmt.Errorf("HelmRepository %s: %w", ref, err)
		}
		if typ == "oci" || strings.HasPrefix(strings.ToLower(u), "oci://") {
			return Request{}, fmt.Errorf("HelmRepository %s: %w", ref, ErrOCI)
		}
		req.RepoURL = u
		if version != "*" {
			req.Version = version
		}
	case "Bucket":
		return Request{}, fmt.Errorf("chart source Bucket %s is not supported", ref)
	default:
		return Request{}, fmt.Errorf("chart source kind %s is not supported", display(kind))
	}

	vals, secrets, err := fluxValues(o, ns, src)
	if err != nil {
		return Request{}, err
	}
	req.Values, req.SecretValues = vals, secrets
	return req, nil
}

// isThisGitRepository reports whether the GitRepository namespace/name is
// this repository: listed in GitRepositories, or declared among Objects
// with a URL of RepoURLs.
func (s Sources) isThisGitRepository(namespace, name string) bool {
	for _, g := range s.GitRepositories {
		if g == namespace+"/"+name {
			return true
		}
	}
	if gr := s.object(fluxSourceGroup, "GitRepository", namespace, name); gr != nil {
		u, _ := str(gr.Object, "spec", "url")
		return s.isThisRepo(u)
	}
	return false
}

// shortenReleaseName shortens a release name longer than 53 characters as
// helm-controller's release.ShortenName does: its first 40 characters, a
// dash, and the first 12 hex digits of its SHA-256.
func shortenReleaseName(name string) string {
	const maxLen, hashLen = 53, 12
	if len(name) <= maxLen {
		return name
	}
	sum := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))
	return name[:maxLen-hashLen-1] + "-" + sum[:hashLen]
}

// fluxValues merges spec.valuesFrom and spec.values as helm-controller's
// ChartValuesFromReferences does. It also returns the strings taken from
// Secrets.
func fluxValues(o map[string]any, ns string, src Sources) (map[string]any, []string, error) {
	result := map[string]any{}
	var secrets []string
	refs, _, err := field[[]any](o, "spec", "valuesFrom")
	if err != nil {
		return nil, nil, err
	}
	for i, r := range refs {
		ref, ok := r.(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("spec.valuesFrom[%d]: is a %T, not a map", i, r)
		}
		kind, err1 := str(ref, "kind")
		name, err2 := str(ref, "name")
		key, err3 := str(ref, "valuesKey")
		target, err4 := str(ref, "targetPath")
		optional, err5 := boolean(ref, "optional")
		if err := firstErr(err1, err2, err3, err4, err5); err != nil {
			return nil, nil, fmt.Errorf("spec.valuesFrom[%d]: %w", i, err)
		}
		if key == "" {
			key = "values.yaml"
		}
		what := fmt.Sprintf("spec.valuesFrom[%d] %s %s key %s", i, display(kind), display(ns+"/"+name), display(key))
		if kind != "ConfigMap" && kind != "Secret" {
			return nil, nil, fmt.Errorf("%s: unsupported kind", what)
		}
		obj := src.object("", kind, ns, name)
		if obj == nil {
			if optional {
				continue
			}
			return nil, nil, fmt.Errorf("%s: not found among the repository's objects", what)
		}
		data, found, err := dataKey(obj, key)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", what, err)
		}
		if !found {
			if optional {
				continue
			}
			return nil, nil, fmt.Errorf("%s: no such key", what)
		}
		if target != "" {
			if kind == "Secret" {
				secrets = append(secrets, data)
			}
			if err := setPath(result, target, data); err != nil {
				return nil, nil, fmt.Errorf("%s: targetPath %s: could not set the value", what, display(target))
			}
			continue
		}
		if err := checkAliases([]byte(data)); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", what, err)
		}
		v, err := common.ReadValues([]byte(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: not YAML values", what)
		}
		if kind == "Secret" {
			secrets = append(secrets, data)
			secrets = appendStrings(secrets, map[string]any(v))
		}
		result = loader.MergeMaps(result, v)
	}
	if v, ok, err := field[map[string]any](o, "spec", "values"); err != nil {
		return nil, nil, err
	} else if ok {
		result = loader.MergeMaps(result, v)
	}
	if len(result) == 0 {
		return nil, secrets, nil
	}
	return result, secrets, nil
}

// appendStrings appends the strings of a values tree to out.
func appendStrings(out []string, v any) []string {
	switch v := v.(type) {
	case string:
		return append(out, v)
	case map[string]any:
		for _, e := range v {
			out = appendStrings(out, e)
		}
	case []any:
		for _, e := range v {
			out = appendStrings(out, e)
		}
	}
	return out
}

// dataKey reads a key of a ConfigMap (data) or Secret (data, base64, and
// stringData, which the API server merges into data).
func dataKey(obj *unstructured.Unstructured, key string) (string, bool, error) {
	if obj.GetKind() == "Secret" {
		if s, ok, err := field[string](obj.Object, "stringData", key); err != nil || ok {
			return s, ok, err
		}
		s, ok, err := field[string](obj.Object, "data", key)
		if err != nil || !ok {
			return "", ok, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return "", false, fmt.Errorf("data is not base64")
		}
		return string(b), true, nil
	}
	if s, ok, err := field[string](obj.Object, "data", key); err != nil || ok {
		return s, ok, err
	}
	return "", false, nil
}

// setPath sets a value at a dotted path as helm-controller's
// ReplacePathValue does: with helm's --set parser, and as a string when the
// value is quoted.
func setPath(values map[string]any, target, value string) error {
	single := strings.HasPrefix(value, "'") && strings.HasSuffix(value, "'")
	double := strings.HasPrefix(value, `"`) && strings.HasSuffix(value, `"`)
	if single || double {
		return strvals.ParseIntoString(target+"="+strings.Trim(value, `'"`), values)
	}
	return strvals.ParseInto(target+"="+value, values)
}
