package app

// Attack tests for Helm charts in the app layer (helm.go): what a
// repository's charts, HelmReleases and Applications try.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery/cached/memory"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/driftd/driftd/internal/sopstest"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/repofs"
)

// atkHelmLayer is atkLayer with a discovery client that describes a
// cluster serving the core kinds, for Helm's .Capabilities.
func atkHelmLayer() *Layer {
	l := atkLayer()
	l.cfg.Helm.GitRepositories = []string{"flux-system/flux-system"}
	fake := &fakediscovery.FakeDiscovery{Fake: &k8stesting.Fake{Resources: []*metav1.APIResourceList{{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{{Name: "configmaps", Kind: "ConfigMap", Namespaced: true}, {Name: "secrets", Kind: "Secret", Namespaced: true}},
	}}}, FakedServerVersion: &version.Info{GitVersion: "v1.37.0", Major: "1", Minor: "37"}}
	l.disco = memory.NewMemCacheClient(fake)
	return l
}

// atkHelm loads paths and renders their HelmReleases and Applications in
// process, as Check does; it returns every object and the errors by
// namespace.
func atkHelm(t *testing.T, l *Layer, rfs *repofs.FS, paths []string, opts LoadOptions) ([]Object, map[string][]error) {
	t.Helper()
	objs, err := Load(t.Context(), rfs, paths, opts)
	if err != nil {
		t.Fatal(err)
	}
	reqs, errs := l.helmRequests(rfs, objs)
	return append(objs, l.renderHelm(t.Context(), rfs, reqs, errs)...), errs
}

// atkChart is a chart that puts its password value in a ConfigMap, a
// Deployment's environment and a Secret.
func atkChart(dir string) map[string]string {
	return map[string]string{
		dir + "/Chart.yaml":  "apiVersion: v2\nname: leak\nversion: 0.1.0\n",
		dir + "/values.yaml": "password: chart-default-password\n",
		dir + "/templates/all.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-settings}
data:
  dsn: "postgres://app:{{ .Values.password }}@db"
---
apiVersion: v1
kind: Secret
metadata: {name: {{ .Release.Name }}-creds}
stringData:
  password: {{ .Values.password | quote }}
`,
	}
}

const atkHelmRelease = `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: shop}
spec:
  chart:
    spec:
      chart: charts/leak
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  valuesFrom:
  - kind: Secret
    name: web-values
    optional: true
`

// TestAttackHelmSecretValuesShown: a HelmRelease takes its values from a
// Secret (SOPS-encrypted in Git, decrypted with the configured key), as
// Flux documents for passwords, and the chart puts the password into a
// ConfigMap's DSN. helm-controller applies exactly that, but driftd's
// report showed the ConfigMap's diff, password included, where the Secret
// it came from is only ever shown as hashes. An object rendered with a
// Secret's values must not show them.
func TestAttackHelmSecretValuesShown(t *testing.T) {
	id := sopstest.NewIdentity(t)
	values := "apiVersion: v1\nkind: Secret\nmetadata: {name: web-values, namespace: shop}\nstringData:\n  values.yaml: |\n    password: " + atkSecretPassword + "\n"
	files := atkChart("charts/leak")
	files["flux/hr.yaml"] = atkHelmRelease
	files["flux/values.enc.yaml"] = sopstest.EncryptYAML(t, values, id.Recipient().String(), sopstest.FluxRegex)
	rfs := atkRepo(t, files)
	l := atkHelmLayer()
	objs, errs := atkHelm(t, l, rfs, []string{"flux"}, LoadOptions{decrypt: atkDecrypter(t, id.String())})
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	rendered := 0
	for _, o := range objs {
		if !strings.Contains(o.Source, "charts/leak") {
			continue
		}
		rendered++
		km := l.newKindMode(t.Context(), schema.GroupVersionResource{}, "shop")
		lives := []*unstructured.Unstructured{nil}
		if o.Obj.GetKind() == "ConfigMap" {
			live := o.Obj.DeepCopy()
			live.SetResourceVersion("5")
			live.Object["data"] = map[string]any{"dsn": "postgres://app:" + atkSecretPassword + "@db-edited"}
			lives = append(lives, live)
		}
		for _, lv := range lives {
			f, _, _, err := l.compareOne(t.Context(), desiredOf(o, nil), lv, km, nil)
			if err != nil || f == nil {
				t.Fatalf("%s: %v %v", ID(o.Obj), f, err)
			}
			if strings.Contains(f.Diff, atkSecretPassword) {
				t.Errorf("the diff of %s (source %s) shows the password it took from the Secret:\n%s", ID(o.Obj), o.Source, f.Diff)
			}
		}
	}
	if rendered != 2 {
		t.Fatalf("rendered %d objects, want 2: %v", rendered, objs)
	}
}

// TestAttackHelmValuesFromKeysOnlySecret: without a key, the Secret a
// HelmRelease takes its values from is SOPS-encrypted, and was left out of
// the sources of values, so that an optional reference rendered the chart
// with its defaults: a Secret whose password is the chart's default,
// compared with the live one (a finding on every check) and written over
// it by apply. The release must be an error, not rendered without its
// values.
func TestAttackHelmValuesFromKeysOnlySecret(t *testing.T) {
	id := sopstest.NewIdentity(t)
	values := "apiVersion: v1\nkind: Secret\nmetadata: {name: web-values, namespace: shop}\nstringData:\n  values.yaml: |\n    password: " + atkSecretPassword + "\n"
	files := atkChart("charts/leak")
	files["flux/hr.yaml"] = atkHelmRelease
	files["flux/values.enc.yaml"] = sopstest.EncryptYAML(t, values, id.Recipient().String(), sopstest.FluxRegex)
	rfs := atkRepo(t, files)
	objs, errs := atkHelm(t, atkHelmLayer(), rfs, []string{"flux"}, LoadOptions{})
	for _, o := range objs {
		if strings.Contains(atkJSON(t, o.Obj.Object), "chart-default-password") {
			t.Errorf("%s is rendered with the chart's default in place of the encrypted Secret's values (source %s)", ID(o.Obj), o.Source)
		}
	}
	if err := errors.Join(errs["shop"]...); err == nil || !strings.Contains(err.Error(), "web-values") {
		t.Errorf("error %v, want one naming the encrypted Secret web-values", err)
	}
}

// TestAttackHelmVolatileApplied: a chart draws its database password with
// randAlphaNum when none is given (the pattern of most public charts, which
// keep the live one with lookup). driftd renders a new password each check,
// so the live Secret always differs, and apply wrote the new random
// password over the one the database uses. Apply must leave an object that
// renders differently each time alone.
func TestAttackHelmVolatileApplied(t *testing.T) {
	rfs := atkRepo(t, map[string]string{
		"charts/db/Chart.yaml":  "apiVersion: v2\nname: db\nversion: 0.1.0\n",
		"charts/db/values.yaml": "{}\n",
		"charts/db/templates/secret.yaml": `{{- $old := lookup "v1" "Secret" .Release.Namespace "db" }}
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData:
  password: {{ if $old }}{{ index $old.data "password" | b64dec }}{{ else }}{{ randAlphaNum 24 }}{{ end }}
`,
		"charts/db/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db-settings}\ndata: {mode: primary}\n",
	})
	l := atkHelmLayer()
	l.cfg.Helm.Releases = []HelmRelease{{Name: "db", Namespace: "shop", Chart: "charts/db"}}
	objs, errs := atkHelm(t, l, rfs, nil, LoadOptions{})
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	live := atkYAML(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop, resourceVersion: \"7\"}\ndata: {password: "+atkB64("the-live-database-password")+"}\n")
	var ds []desired
	for _, o := range objs {
		if o.Obj.GetKind() == "Secret" {
			ds = append(ds, desiredOf(o, &meta.RESTMapping{Resource: gvr, Scope: meta.RESTScopeNamespace}))
		} else if strings.Contains(o.Source, unstableNote) {
			t.Errorf("%s is marked as rendering differently each time, though its template draws nothing: %s", ID(o.Obj), o.Source)
		}
	}
	if len(ds) != 1 {
		t.Fatalf("rendered %v", objs)
	}
	km := l.newKindMode(t.Context(), gvr, "shop")
	var mu sync.Mutex
	findings, recs, ferrs, _ := l.compareKind(t.Context(), ds, map[string]*unstructured.Unstructured{"db": live}, false, km, make(chan struct{}, 1), map[cacheKey]bool{}, &mu)
	if len(ferrs) > 0 || len(findings) != 1 {
		t.Fatalf("findings %v, errors %v", findings, ferrs)
	}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr: "SecretList"}, live)
	var writes []string
	dyn.PrependReactor("*", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetVerb() != "get" {
			writes = append(writes, a.GetVerb())
		}
		return false, nil, nil
	})
	l.dyn = dyn
	out := l.Apply(context.Background(), drift.Snapshot{}, drift.TargetResult{Name: "shop", Private: recs}, drift.ApplyRequest{Findings: findings})
	if len(writes) > 0 || len(out) != 1 || out[0].Result != drift.ResultSkipped {
		t.Errorf("apply wrote a freshly drawn password over the live one (requests %v): %+v", writes, out)
	}
}

// TestAttackHelmTemplateNameInError: a chart's template file is named with
// a terminal escape and a line break, and renders an object that cannot be
// compared (encrypted, not a Secret). The error quoted the name as it is:
// the text report's error block then holds the escape and a line of the
// chart's choosing.
func TestAttackHelmTemplateNameInError(t *testing.T) {
	name := "x\x1b[2J\nFAKE: in sync.yaml"
	rfs := atkRepo(t, map[string]string{
		"charts/odd/Chart.yaml":           "apiVersion: v2\nname: odd\nversion: 0.1.0\n",
		"charts/odd/templates/" + name:    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: odd}\nsops: {mac: x, lastmodified: y}\n",
		"charts/odd/templates/plain.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n",
	})
	l := atkHelmLayer()
	l.cfg.Helm.Releases = []HelmRelease{{Name: "odd", Namespace: "shop", Chart: "charts/odd"}}
	_, errs := atkHelm(t, l, rfs, nil, LoadOptions{})
	err := errors.Join(errs["shop"]...)
	if err == nil {
		t.Fatal("no error for the encrypted ConfigMap")
	}
	if strings.ContainsAny(err.Error(), "\x1b\n") {
		t.Errorf("the error holds the template name's control characters: %q", err)
	}
}

// TestAttackHelmReadsOutsideRepository: HelmReleases and Applications name
// charts, values files and file parameters by paths of the repository's
// choosing: climbing out, absolute, through a link that leaves the
// repository, or Argo CD's $ref form. Nothing outside the repository may
// be read into an object or an error.
func TestAttackHelmReadsOutsideRepository(t *testing.T) {
	const outsideSecret = "outside-the-repo-secret-value"
	parent := t.TempDir()
	writeFile := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(filepath.Join(parent, "secret.yaml"), "password: "+outsideSecret+"\n")
	for name, body := range atkChart("outside-chart") {
		writeFile(filepath.Join(parent, name), strings.ReplaceAll(body, "chart-default-password", outsideSecret))
	}
	repo := filepath.Join(parent, "repo")
	for _, c := range []string{"charts/leak", "charts/withlink"} {
		for name, body := range atkChart(c) {
			writeFile(filepath.Join(repo, name), body)
		}
	}
	writeFile(filepath.Join(repo, "charts/dep/Chart.yaml"), "apiVersion: v2\nname: dep\nversion: 0.1.0\ndependencies:\n- {name: leak, version: 0.1.0, repository: \"file://../../../outside-chart\"}\n")
	for link, target := range map[string]string{
		"values/link.yaml":       filepath.Join(parent, "secret.yaml"),
		"charts/linked":          filepath.Join(parent, "outside-chart"),
		"charts/withlink/secret": filepath.Join(parent, "secret.yaml"),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, link)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(repo, link)); err != nil {
			t.Fatal(err)
		}
	}
	hr := func(chart, valuesFiles string) string {
		return fmt.Sprintf("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: r, namespace: shop}\nspec:\n  chart:\n    spec:\n      chart: %q\n      valuesFiles: %s\n      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n", chart, valuesFiles)
	}
	app := func(path, helm string) string {
		return fmt.Sprintf("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: r, namespace: shop}\nspec:\n  source:\n    repoURL: https://git.example/repo.git\n    path: %q\n    helm: %s\n  destination: {namespace: shop}\n", path, helm)
	}
	for name, doc := range map[string]string{
		"chart climbing out":       hr("../outside-chart", "[]"),
		"chart absolute":           hr(filepath.Join(parent, "outside-chart"), "[]"),
		"chart linked out":         hr("charts/linked", "[]"),
		"chart file linked out":    hr("charts/withlink", "[]"),
		"values climbing out":      hr("charts/leak", "[../secret.yaml]"),
		"values absolute":          hr("charts/leak", "["+filepath.Join(parent, "secret.yaml")+"]"),
		"values linked out":        hr("charts/leak", "[values/link.yaml]"),
		"file dependency out":      hr("charts/dep", "[]"),
		"argo path out":            app("../outside-chart", "{}"),
		"argo value file out":      app("charts/leak", "{valueFiles: [../../../secret.yaml]}"),
		"argo rooted value file":   app("charts/leak", "{valueFiles: [/../secret.yaml]}"),
		"argo $ref value file":     app("charts/leak", "{valueFiles: [$values/../secret.yaml]}"),
		"argo file parameter out":  app("charts/leak", "{fileParameters: [{name: password, path: ../../../secret.yaml}]}"),
		"argo file parameter link": app("charts/leak", "{fileParameters: [{name: password, path: ../../values/link.yaml}]}"),
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(repo, "apps")
			_ = os.RemoveAll(dir)
			writeFile(filepath.Join(dir, "r.yaml"), doc)
			rfs, err := repofs.Open(repo, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer rfs.Close()
			l := atkHelmLayer()
			l.cfg.Helm.RepoURLs = []string{"https://git.example/repo.git"}
			objs, errs := atkHelm(t, l, rfs, []string{"apps"}, LoadOptions{})
			all := fmt.Sprint(errs)
			for _, o := range objs {
				all += atkJSON(t, o.Obj.Object)
			}
			if strings.Contains(all, outsideSecret) {
				t.Errorf("a file outside the repository was read:\n%s", all)
			}
			if len(errs["shop"]) == 0 {
				t.Errorf("no error: %v", objs)
			}
		})
	}
}

// TestAttackHelmTemplateNameForgesDiffLines: a chart's template file is
// named with line breaks. A chart's finding starts its diff with "#
// rendered from <source>", and the source names the template: the name's
// lines became lines of the diff, which every report shows as the diff's
// own ("+  image: trusted:1.0" in green, say). The source must stay on its
// line.
func TestAttackHelmTemplateNameForgesDiffLines(t *testing.T) {
	name := "cm\n+  image: trusted:1.0\n\x1b[2K.yaml"
	rfs := atkRepo(t, map[string]string{
		"charts/odd/Chart.yaml":        "apiVersion: v2\nname: odd\nversion: 0.1.0\n",
		"charts/odd/templates/" + name: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: odd}\ndata: {a: b}\n",
	})
	l := atkHelmLayer()
	l.cfg.Helm.Releases = []HelmRelease{{Name: "odd", Namespace: "shop", Chart: "charts/odd"}}
	objs, errs := atkHelm(t, l, rfs, nil, LoadOptions{})
	if len(errs) > 0 || len(objs) != 1 {
		t.Fatalf("%v %v", objs, errs)
	}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	ds := []desired{desiredOf(objs[0], &meta.RESTMapping{Resource: gvr, Scope: meta.RESTScopeNamespace})}
	var mu sync.Mutex
	findings, _, ferrs, _ := l.compareKind(t.Context(), ds, map[string]*unstructured.Unstructured{}, false, l.newKindMode(t.Context(), gvr, "shop"), make(chan struct{}, 1), map[cacheKey]bool{}, &mu)
	if len(ferrs) > 0 || len(findings) != 1 {
		t.Fatalf("findings %v, errors %v", findings, ferrs)
	}
	for _, line := range strings.Split(findings[0].Diff, "\n") {
		if strings.HasPrefix(line, "+  image") || strings.Contains(line, "\x1b") {
			t.Errorf("the template's name forged a line of the diff:\n%s", findings[0].Diff)
		}
	}
}

// TestAttackHelmManyReferences: a repository of a few megabytes declares
// ten thousand ConfigMaps and two hundred HelmReleases that each take
// values from fifty of them (the last one declared). Each reference was
// looked up by a scan of every object: a million scans of ten thousand,
// minutes of the daemon's CPU per check. References must be resolved in
// time linear in the repository.
func TestAttackHelmManyReferences(t *testing.T) {
	var cms, hrs strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&cms, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm%d, namespace: shop}\ndata: {values.yaml: \"a: 1\"}\n", i)
	}
	var refs strings.Builder
	for range 50 {
		refs.WriteString("  - {kind: ConfigMap, name: cm9999}\n")
	}
	for i := range 200 {
		fmt.Fprintf(&hrs, "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: r%d, namespace: shop}\nspec:\n  chart:\n    spec: {chart: charts/leak, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}\n  valuesFrom:\n%s", i, refs.String())
	}
	files := atkChart("charts/leak")
	files["apps/cms.yaml"] = cms.String()
	files["apps/hrs.yaml"] = hrs.String()
	rfs := atkRepo(t, files)
	objs, err := Load(t.Context(), rfs, []string{"apps"}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	reqs, errs := atkHelmLayer().helmRequests(rfs, objs)
	if took := time.Since(start); took > 3*time.Second || len(reqs) != 200 || len(errs) > 0 {
		t.Errorf("%d requests (errors %v) in %s", len(reqs), errs, took)
	}
}

// TestAttackHelmEncryptedReleaseValues: the HelmRelease itself is
// SOPS-encrypted (encrypted_regex ^(values)$, its spec.values hold the
// password) and the chart puts the password into a ConfigMap. The
// HelmRelease's own diff hides its values, but the ConfigMap rendered from
// them showed the password.
func TestAttackHelmEncryptedReleaseValues(t *testing.T) {
	id := sopstest.NewIdentity(t)
	hr := strings.Replace(atkHelmRelease, "  valuesFrom:\n  - kind: Secret\n    name: web-values\n    optional: true\n", "  values:\n    password: "+atkSecretPassword+"\n", 1)
	files := atkChart("charts/leak")
	files["flux/hr.enc.yaml"] = sopstest.EncryptYAML(t, hr, id.Recipient().String(), "^(values)$")
	rfs := atkRepo(t, files)
	l := atkHelmLayer()
	objs, errs := atkHelm(t, l, rfs, []string{"flux"}, LoadOptions{decrypt: atkDecrypter(t, id.String())})
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	rendered := 0
	for _, o := range objs {
		if !strings.Contains(o.Source, "charts/leak") {
			continue
		}
		rendered++
		f, _, _, err := l.compareOne(t.Context(), desiredOf(o, nil), nil, l.newKindMode(t.Context(), schema.GroupVersionResource{}, "shop"), nil)
		if err != nil || f == nil {
			t.Fatalf("%s: %v %v", ID(o.Obj), f, err)
		}
		if strings.Contains(f.Diff, atkSecretPassword) {
			t.Errorf("the diff of %s (source %s) shows the password of the encrypted HelmRelease:\n%s", ID(o.Obj), o.Source, f.Diff)
		}
	}
	if rendered != 2 {
		t.Fatalf("rendered %d objects: %v", rendered, objs)
	}
}
