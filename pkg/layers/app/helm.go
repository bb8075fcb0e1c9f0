package app

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"

	"github.com/driftd/driftd/pkg/helmrender"
	"github.com/driftd/driftd/pkg/repofs"
)

// helmSource describes where a rendered object comes from, for findings
// and SARIF: the template's file in the repository first (a chart of a
// chart repository has none: its declaration is named instead), then the
// chart, release and values files.
func helmSource(req helmrender.Request, res helmrender.Result, m helmrender.Manifest) string {
	ns := req.Namespace
	if ns == "" {
		ns = "default"
	}
	var b strings.Builder
	if req.RepoURL == "" {
		// "web/templates/x.yaml" is templates/x.yaml of the chart's
		// directory; a subchart's is under its charts/.
		_, rest, _ := strings.Cut(m.Template, "/")
		b.WriteString(path.Join(req.Chart, rest))
		fmt.Fprintf(&b, " (chart %s %s", res.Chart, res.Version)
	} else {
		b.WriteString(declarationFile(req.Origin))
		fmt.Fprintf(&b, " (chart %s %s from %s, template %s", res.Chart, res.Version, req.RepoURL, m.Template)
	}
	fmt.Fprintf(&b, ", release %s/%s", ns, req.ReleaseName)
	if len(res.ValuesFiles) > 0 {
		fmt.Fprintf(&b, ", values %s", strings.Join(res.ValuesFiles, ", "))
	}
	if req.Origin != "" {
		fmt.Fprintf(&b, "; %s", req.Origin)
	}
	b.WriteString(")")
	return printable(b.String())
}

// printable escapes, as Go quotes strings, a text built from the
// repository's names (files, charts, templates) that holds a line break or
// another character that is not printable: a source stays one line of a
// diff's header, and a name cannot forge the lines after it.
func printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// declarationFile is the file an origin names: "apps/hr.yaml" of
// "HelmRelease a/b in apps/hr.yaml (document 1)", "driftd.yaml" otherwise.
func declarationFile(origin string) string {
	if _, after, ok := strings.Cut(origin, " in "); ok {
		file, _, _ := strings.Cut(after, " (document ")
		return file
	}
	return "driftd.yaml"
}

// helmRequests lists the releases to render: those driftd.yaml declares,
// then one per Flux HelmRelease and Argo CD Application source found among
// the loaded objects whose chart this repository holds.
func (l *Layer) helmRequests(rfs *repofs.FS, objs []Object) ([]helmrender.Request, map[string][]error) {
	var reqs []helmrender.Request
	for i, r := range l.cfg.Helm.Releases {
		req := helmrender.Request{
			Origin:      fmt.Sprintf("driftd.yaml layers.app.helm.releases[%d]", i),
			Chart:       r.Chart,
			RepoURL:     r.Repo,
			Version:     r.Version,
			ReleaseName: r.Name,
			Namespace:   r.Namespace,
			ValuesFiles: slices.Clone(r.ValuesFiles),
			Values:      r.Values,
		}
		if req.Namespace == "" {
			req.Namespace = l.cfg.DefaultNamespace
		}
		reqs = append(reqs, req)
	}
	src := helmrender.Sources{GitRepositories: l.cfg.Helm.GitRepositories, RepoURLs: l.cfg.Helm.RepoURLs, FS: rfs}
	for _, o := range objs {
		switch o.Obj.GetKind() {
		case "ConfigMap", "Secret", "GitRepository", "HelmRepository":
			if !o.KeysOnly { // values unknown: not a source of values
				src.Objects = append(src.Objects, o.Obj)
			}
		}
	}
	src = src.Indexed()
	withheld := map[string]bool{}
	for _, o := range objs {
		if o.KeysOnly {
			withheld[o.Obj.GetNamespace()+"/"+o.Obj.GetName()] = true
		}
	}
	errs := map[string][]error{}
	for _, o := range objs {
		gvk := o.Obj.GroupVersionKind()
		switch {
		case gvk.Group == "helm.toolkit.fluxcd.io" && gvk.Kind == "HelmRelease" && l.cfg.Helm.Flux.Value(true):
			err := valuesFromWithheld(o.Obj, withheld)
			var req helmrender.Request
			if err == nil {
				req, err = helmrender.FromHelmRelease(o.Obj, src)
			}
			if err != nil {
				errs[o.Obj.GetNamespace()] = append(errs[o.Obj.GetNamespace()], fmt.Errorf("%s: %w", printable(ID(o.Obj)+" ("+o.Source+")"), err))
				continue
			}
			req.Origin = fmt.Sprintf("HelmRelease %s/%s in %s", o.Obj.GetNamespace(), o.Obj.GetName(), o.Source)
			reqs = append(reqs, secretValuesOf(req, o))
		case gvk.Group == "argoproj.io" && gvk.Kind == "Application" && l.cfg.Helm.ArgoCD.Value(true):
			rs, err := helmrender.FromApplication(o.Obj, src)
			if err != nil && !errors.Is(err, helmrender.ErrNotHelm) {
				// A source that is a plain directory is compared
				// when paths lists it, like any other.
				errs[o.Obj.GetNamespace()] = append(errs[o.Obj.GetNamespace()], fmt.Errorf("%s: %w", printable(ID(o.Obj)+" ("+o.Source+")"), err))
				continue
			}
			for _, req := range rs {
				req.Origin = fmt.Sprintf("Application %s/%s in %s", o.Obj.GetNamespace(), o.Obj.GetName(), o.Source)
				reqs = append(reqs, secretValuesOf(req, o))
			}
		}
	}
	return reqs, errs
}

// secretValuesOf adds to req.SecretValues every value the request takes
// from o when o was decrypted with SOPS (a HelmRelease or an Application
// whose values are encrypted in Git): what the chart renders from them is
// as secret as they are.
func secretValuesOf(req helmrender.Request, o Object) helmrender.Request {
	if !o.Hidden {
		return req
	}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			req.SecretValues = append(req.SecretValues, t)
		case map[string]any:
			for _, e := range t {
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(req.Values)
	for _, p := range req.Parameters {
		if !p.File {
			req.SecretValues = append(req.SecretValues, p.Value)
		}
	}
	return req
}

// valuesFromWithheld refuses a HelmRelease whose spec.valuesFrom names a
// Secret that is SOPS-encrypted in the repository while no key is
// configured: helm-controller renders it with the Secret's values, and
// rendering it without them (as if the Secret were absent, which an
// optional reference allows) would compare, and apply, the chart's
// defaults in their place. withheld holds the keys-only Secrets as
// namespace/name.
func valuesFromWithheld(hr *unstructured.Unstructured, withheld map[string]bool) error {
	refs, _, _ := unstructured.NestedSlice(hr.Object, "spec", "valuesFrom")
	for i, r := range refs {
		ref, _ := r.(map[string]any)
		kind, _ := ref["kind"].(string)
		name, _ := ref["name"].(string)
		if kind != "Secret" {
			continue
		}
		if withheld[hr.GetNamespace()+"/"+name] {
			return fmt.Errorf("spec.valuesFrom[%d]: Secret %s is %s: the release is not rendered without its values", i, repofs.Quote(hr.GetNamespace()+"/"+name), keysOnlyNote)
		}
	}
	return nil
}

// unstableNote marks the source of a rendered object whose template renders
// differently each time (helmrender.Manifest.Volatile): apply leaves it
// alone.
const unstableNote = "renders differently each time (randomness, lookup, now): apply leaves it alone"

// secretHeldNote marks the source of a rendered object, not a Secret, that
// holds a value the release took from a Secret: its values are hidden (see
// valuesHidden).
const secretHeldNote = "holds values of a Secret: " + valuesHidden

// renderHelm renders the releases, in a child process of driftd's own when
// the layer has one (the daemon and the CLI always do), and turns their
// objects into Objects. A release that fails is an error of its namespace's
// target (added to errs), naming it, and the others are still compared.
func (l *Layer) renderHelm(ctx context.Context, rfs *repofs.FS, reqs []helmrender.Request, errs map[string][]error) []Object {
	if len(reqs) == 0 {
		return nil
	}
	caps, err := l.capabilities()
	if err != nil {
		for _, r := range reqs {
			errs[r.Namespace] = append(errs[r.Namespace], fmt.Errorf("helm %s: read the cluster's version and APIs: %w", r, err))
		}
		return nil
	}
	// All charts together get the layer's timeout, and one chart a
	// quarter of it: a repository of looping charts stalls a check for
	// one timeout, not one per chart, and one looping chart leaves time
	// for the others.
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout.Std())
	defer cancel()
	opts := helmrender.Options{AllowRemote: l.cfg.Helm.AllowRemoteCharts, Timeout: max(l.cfg.Timeout.Std()/4, 5*time.Second)}
	var outcomes []helmrender.Outcome
	if l.helmRenderer != nil {
		outcomes = helmrender.RenderIsolated(ctx, l.helmRenderer, rfs.Path(), rfs.MaxFileSize(), reqs, caps, opts)
	} else {
		for _, r := range reqs {
			res, err := helmrender.Render(ctx, rfs, r, caps, opts)
			outcomes = append(outcomes, helmrender.Outcome{Result: res, Err: err})
		}
	}
	var out []Object
	for i, oc := range outcomes {
		req := reqs[i]
		if oc.Err != nil {
			// The error starts with the request (origin, chart, values).
			errs[req.Namespace] = append(errs[req.Namespace], fmt.Errorf("helm: %w", oc.Err))
			continue
		}
		var secrets needles
		for _, v := range req.SecretValues {
			secrets.add(v)
		}
		for _, m := range oc.Result.Objects {
			if m.Object.GetNamespace() == "" {
				// helm install puts namespaced objects in the release's
				// namespace; the kind's scope is settled later.
				m.Object.SetNamespace(req.Namespace)
			}
			// Ciphertext a template copied (.Files.Get of an encrypted
			// file) is never a value to compare or apply: as without a
			// key, the Secret is compared by key names.
			ko, err := (*decrypter)(nil).leftEncrypted(m.Object)
			if err != nil {
				errs[req.Namespace] = append(errs[req.Namespace], fmt.Errorf("helm %s: %s: %w", req, repofs.Quote(m.Template), err))
				continue
			}
			o := Object{Obj: m.Object, Source: helmSource(req, oc.Result, m), KeysOnly: ko, Chart: true, Volatile: m.Volatile}
			if o.Volatile {
				o.Source = noteSource(o.Source, unstableNote)
			}
			isSecret := m.Object.GetKind() == "Secret" && m.Object.GroupVersionKind().Group == ""
			if !isSecret && secrets.inObject(m.Object.Object) {
				o.Source, o.Hidden = noteSource(o.Source, secretHeldNote), true
			}
			out = append(out, o)
		}
	}
	return out
}

// capabilities is what helm template --kube-version and --api-versions
// would be given for this cluster, from discovery (cached by the layer's
// discovery client).
func (l *Layer) capabilities() (helmrender.Capabilities, error) {
	v, err := l.disco.ServerVersion()
	if err != nil {
		return helmrender.Capabilities{}, err
	}
	_, lists, err := l.disco.ServerGroupsAndResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return helmrender.Capabilities{}, err
	}
	versions := sets.New[string]()
	for _, rl := range lists {
		versions.Insert(rl.GroupVersion)
		for _, r := range rl.APIResources {
			if !strings.Contains(r.Name, "/") {
				versions.Insert(rl.GroupVersion + "/" + r.Kind)
			}
		}
	}
	return helmrender.Capabilities{KubeVersion: v.GitVersion, APIVersions: sets.List(versions)}, nil
}
