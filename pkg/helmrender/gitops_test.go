package helmrender

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"
)

func mustObj(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	// As the app layer decodes objects: integers are int64.
	j, err := sigsyaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

// fluxObjects are objects a Flux repository declares next to its
// HelmReleases.
func fluxObjects(t *testing.T) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{
		mustObj(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: web-values, namespace: apps}
data:
  values.yaml: |
    greeting: from a ConfigMap
    image: {tag: "1.26"}
  other.yaml: |
    greeting: other key
`),
		mustObj(t, `
apiVersion: v1
kind: Secret
metadata: {name: web-secret, namespace: apps}
data:
  password: czNjcjN0LXBhc3N3b3Jk # s3cr3t-password
stringData:
  values.yaml: |
    db: {password: from-string-data}
`),
		mustObj(t, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 5m
  url: https://stefanprodan.github.io/podinfo
`),
		mustObj(t, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: oci-charts, namespace: flux-system}
spec:
  type: oci
  url: oci://ghcr.io/stefanprodan/charts
`),
		mustObj(t, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: platform, namespace: flux-system}
spec:
  interval: 1m
  url: ssh://git@github.com/Example/Platform.git
  ref: {branch: main}
`),
		mustObj(t, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: elsewhere, namespace: flux-system}
spec:
  url: https://github.com/example/other
`),
	}
}

func fluxSources(t *testing.T) Sources {
	return Sources{
		GitRepositories: []string{"flux-system/flux-system"},
		RepoURLs:        []string{"https://github.com/example/platform"},
		Objects:         fluxObjects(t),
	}
}

func TestFromHelmRelease(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want Request
	}{
		{
			name: "chart from this repository, with valuesFrom",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  interval: 10m
  targetNamespace: shop
  chart:
    spec:
      chart: ./charts/web
      reconcileStrategy: Revision
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
      valuesFiles:
        - ./charts/web/values.yaml
        - ./charts/web/values-prod.yaml
  valuesFrom:
    - kind: ConfigMap
      name: web-values
    - kind: Secret
      name: web-secret
      valuesKey: password
      targetPath: auth.password
    - kind: Secret
      name: web-secret
    - kind: ConfigMap
      name: absent
      optional: true
    - kind: ConfigMap
      name: web-values
      valuesKey: absent.yaml
      optional: true
  values:
    replicaCount: 2
    image: {repository: nginx}
`,
			want: Request{
				Chart: "charts/web", ReleaseName: "shop-web", Namespace: "shop",
				ValuesFiles:     []string{"charts/web/values.yaml", "charts/web/values-prod.yaml"},
				ReplaceDefaults: true,
				Values: map[string]any{
					"greeting":     "from a ConfigMap",
					"image":        map[string]any{"tag": "1.26", "repository": "nginx"},
					"auth":         map[string]any{"password": "s3cr3t-password"},
					"db":           map[string]any{"password": "from-string-data"},
					"replicaCount": int64(2),
				},
				// What came from web-secret, for the caller to keep out
				// of reports.
				SecretValues: []string{"s3cr3t-password", "db: {password: from-string-data}\n", "from-string-data"},
			},
		},
		{
			name: "v2beta1, valuesFile before valuesFiles, GitRepository declared with this repository's URL",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2beta1
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  releaseName: storefront
  chart:
    spec:
      chart: charts/web
      sourceRef: {kind: GitRepository, name: platform, namespace: flux-system}
      valuesFile: charts/web/values.yaml
      valuesFiles: [charts/web/values-prod.yaml]
      ignoreMissingValuesFiles: true
`,
			want: Request{
				Chart: "charts/web", ReleaseName: "storefront", Namespace: "apps",
				ValuesFiles:     []string{"charts/web/values.yaml", "charts/web/values-prod.yaml"},
				ReplaceDefaults: true, IgnoreMissingValuesFiles: true,
			},
		},
		{
			name: "chart from a HelmRepository",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2beta2
kind: HelmRelease
metadata: {name: podinfo, namespace: flux-system}
spec:
  chart:
    spec:
      chart: podinfo
      version: ">=6.0.0 <7.0.0"
      sourceRef: {kind: HelmRepository, name: podinfo}
`,
			want: Request{
				Chart: "podinfo", RepoURL: "https://stefanprodan.github.io/podinfo", Version: ">=6.0.0 <7.0.0",
				ReleaseName: "podinfo", Namespace: "flux-system",
			},
		},
		{
			name: "long release names are shortened as helm-controller does",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: name-with-very-long-name-which-is-longer-than-53-characters, namespace: apps}
spec:
  targetNamespace: release
  chart:
    spec:
      chart: charts/web
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
`,
			// helm-controller's own test vector for
			// "release-name-with-very-long-name-which-is-longer-than-53-characters".
			want: Request{Chart: "charts/web", ReleaseName: "release-name-with-very-long-name-which-i-788ca0d0d7b0", Namespace: "release"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromHelmRelease(mustObj(t, tt.doc), fluxSources(t))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromHelmReleaseErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
		is              error
	}{
		{
			name: "GitRepository of another repository",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  chart:
    spec:
      chart: ./charts/web
      sourceRef: {kind: GitRepository, name: elsewhere, namespace: flux-system}
`,
			want: "GitRepository flux-system/elsewhere is not this repository",
		},
		{
			name: "undeclared HelmRepository",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  chart:
    spec:
      chart: web
      sourceRef: {kind: HelmRepository, name: nowhere}
`,
			want: "HelmRepository apps/nowhere is not declared in the repository",
		},
		{
			name: "OCI HelmRepository",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: flux-system}
spec:
  chart:
    spec:
      chart: podinfo
      sourceRef: {kind: HelmRepository, name: oci-charts}
`,
			is: ErrOCI,
		},
		{
			name: "chartRef",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  chartRef: {kind: OCIRepository, name: podinfo}
`,
			want: "spec.chartRef (OCIRepository) is not supported",
		},
		{
			name: "missing valuesFrom object",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  chart:
    spec:
      chart: ./charts/web
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  valuesFrom:
    - kind: Secret
      name: absent
`,
			want: `spec.valuesFrom[0] Secret apps/absent key values.yaml: not found among the repository's objects`,
		},
		{
			name: "missing valuesFrom key",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  chart:
    spec:
      chart: ./charts/web
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  valuesFrom:
    - kind: ConfigMap
      name: web-values
      valuesKey: absent.yaml
`,
			want: `spec.valuesFrom[0] ConfigMap apps/web-values key absent.yaml: no such key`,
		},
		{
			name: "chart path escaping the repository",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  chart:
    spec:
      chart: ../../etc
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
`,
			want: "leads outside the repository",
		},
		{
			name: "values file escaping the repository",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  chart:
    spec:
      chart: charts/web
      valuesFiles: [/etc/passwd]
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
`,
			want: "must be relative to the repository root",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromHelmRelease(mustObj(t, tt.doc), fluxSources(t))
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

// TestFromHelmReleaseRender renders the request of a HelmRelease: its
// valuesFiles replace values.yaml (Flux), so a value only values.yaml sets
// is gone when values.yaml is not listed.
func TestFromHelmReleaseRender(t *testing.T) {
	rfs := openRepo(t, "testdata/repo")
	hr := mustObj(t, `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  chart:
    spec:
      chart: ./charts/web
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
      valuesFiles: [charts/web/values-prod.yaml]
  values:
    image: {repository: nginx, tag: "1.29"}
    service: {port: 8443}
  valuesFrom:
    - kind: Secret
      name: web-secret
      valuesKey: password
      targetPath: greeting
`)
	req, err := FromHelmRelease(hr, fluxSources(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Render(t.Context(), rfs, req, testCaps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dep *unstructured.Unstructured
	for _, m := range res.Objects {
		if m.Object.GetKind() == "Deployment" {
			dep = m.Object
		}
	}
	if dep == nil {
		t.Fatalf("no Deployment in %v", summary(res))
	}
	c, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	env := c[0].(map[string]any)["env"].([]any)
	if got := env[0].(map[string]any)["value"]; got != "s3cr3t-password" {
		t.Errorf("GREETING = %v, want the Secret's value set at targetPath", got)
	}
	if got := c[0].(map[string]any)["image"]; got != "nginx:1.29" {
		t.Errorf("image = %v", got)
	}
	if got, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); got != 3 {
		t.Errorf("replicas = %d, want 3 from values-prod.yaml", got)
	}
}

func argoSources(t *testing.T) Sources {
	return Sources{
		RepoURLs: []string{"https://github.com/example/platform.git"},
		FS:       openRepo(t, "testdata/repo"),
	}
}

func TestFromApplication(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		want  []Request
		plain []string
	}{
		{
			name: "chart of this repository",
			doc: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop, namespace: argocd}
spec:
  project: default
  source:
    repoURL: git@github.com:Example/platform.git
    targetRevision: HEAD
    path: charts/web
    helm:
      valueFiles: [values-prod.yaml, /charts/web/values.yaml]
      ignoreMissingValueFiles: true
      values: |
        greeting: from values
        replicaCount: 4
      parameters:
        - name: image.tag
          value: "1.30"
          forceString: true
        - name: greeting
          value: a,b
      fileParameters:
        - name: notes
          path: ../common/Chart.yaml
      kubeVersion: 1.36.0
      apiVersions: [v1, apps/v1]
      skipSchemaValidation: true
  destination:
    server: https://kubernetes.default.svc
    namespace: store
`,
			want: []Request{{
				Chart: "charts/web", ReleaseName: "shop", Namespace: "store",
				ValuesFiles:              []string{"charts/web/values-prod.yaml", "charts/web/values.yaml"},
				IgnoreMissingValuesFiles: true,
				Values:                   map[string]any{"greeting": "from values", "replicaCount": float64(4)},
				Parameters: []Parameter{
					{Name: "image.tag", Value: "1.30", String: true},
					{Name: "greeting", Value: `a\,b`},
					{Name: "notes", Value: "charts/common/Chart.yaml", File: true},
				},
				KubeVersion: "1.36.0", APIVersions: []string{"v1", "apps/v1"}, SkipSchemaValidation: true,
			}},
		},
		{
			name: "valuesObject wins over values; a chart found by its Chart.yaml",
			doc: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop, namespace: argocd}
spec:
  source:
    repoURL: https://GitHub.com/example/platform/
    path: ./charts/web
    helm:
      releaseName: storefront
      namespace: override
      values: "greeting: ignored"
      valuesObject:
        greeting: from valuesObject
  destination: {namespace: store}
`,
			want: []Request{{
				Chart: "charts/web", ReleaseName: "storefront", Namespace: "override",
				Values: map[string]any{"greeting": "from valuesObject"},
			}},
		},
		{
			name: "sources: a chart repository chart, a plain directory, a ref",
			doc: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: podinfo, namespace: argocd}
spec:
  sources:
    - repoURL: https://stefanprodan.github.io/podinfo
      chart: podinfo
      targetRevision: 6.7.1
      helm:
        valueFiles: [values-prod.yaml]
    - repoURL: https://github.com/example/platform.git
      path: charts/common/templates
    - repoURL: https://github.com/example/platform.git
      ref: values
    - repoURL: https://github.com/example/platform.git
      path: charts/common
  destination: {namespace: podinfo}
`,
			want: []Request{
				{
					Chart: "podinfo", RepoURL: "https://stefanprodan.github.io/podinfo", Version: "6.7.1",
					ReleaseName: "podinfo", Namespace: "podinfo", ValuesFiles: []string{"values-prod.yaml"},
				},
				{Chart: "charts/common", ReleaseName: "podinfo", Namespace: "podinfo"},
			},
			plain: []string{"charts/common/templates"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromApplication(mustObj(t, tt.doc), argoSources(t))
			var nh *NotHelmError
			switch {
			case tt.plain == nil && err != nil:
				t.Fatal(err)
			case tt.plain != nil && !errors.As(err, &nh):
				t.Fatalf("error %v, want a NotHelmError", err)
			case tt.plain != nil:
				if !errors.Is(err, ErrNotHelm) {
					t.Errorf("errors.Is(%v, ErrNotHelm) is false", err)
				}
				if diff := cmp.Diff(tt.plain, nh.Paths); diff != "" {
					t.Errorf("plain paths (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromApplicationNotHelm(t *testing.T) {
	app := `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop}
spec:
  source:
    repoURL: https://github.com/example/platform
    path: charts/web
  destination: {namespace: store}
`
	// Without an FS to look at, a source without helm settings is not
	// taken for a chart.
	_, err := FromApplication(mustObj(t, app), Sources{RepoURLs: []string{"https://github.com/example/platform"}})
	var nh *NotHelmError
	if !errors.As(err, &nh) || len(nh.Paths) != 1 || nh.Paths[0] != "charts/web" {
		t.Errorf("error %v, want NotHelmError for charts/web", err)
	}
	// A kustomize source is not a chart, whatever the path holds.
	kust := strings.Replace(app, "path: charts/web", "path: charts/web\n    kustomize: {namePrefix: x-}", 1)
	if _, err := FromApplication(mustObj(t, kust), argoSources(t)); !errors.Is(err, ErrNotHelm) {
		t.Errorf("kustomize source: error %v, want ErrNotHelm", err)
	}
}

func TestFromApplicationErrors(t *testing.T) {
	base := `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop}
spec:
  destination: {namespace: store}
  source:
`
	tests := []struct {
		name, source, want string
		is                 error
	}{
		{"another repository", `
    repoURL: https://github.com/example/other
    path: charts/web`, `repoURL https://github.com/example/other is not this repository`, nil},
		{"path escaping", `
    repoURL: https://github.com/example/platform
    path: ../../etc
    helm: {}`, "leads outside the repository", nil},
		{"values file escaping", `
    repoURL: https://github.com/example/platform
    path: charts/web
    helm:
      valueFiles: [../../../../etc/passwd]`, "leads outside the repository", nil},
		{"$values reference", `
    repoURL: https://github.com/example/platform
    path: charts/web
    helm:
      valueFiles: [$values/charts/web/values.yaml]`, "$ref value files (multiple sources) are not supported", nil},
		{"remote values file", `
    repoURL: https://github.com/example/platform
    path: charts/web
    helm:
      valueFiles: ["https://example.com/values.yaml"]`, "remote value files are not supported", nil},
		{"OCI chart", `
    repoURL: registry-1.docker.io/bitnamicharts
    chart: nginx
    targetRevision: 18.1.0`, "", ErrOCI},
		{"plugin", `
    repoURL: https://github.com/example/platform
    path: charts/web
    plugin: {name: cdk8s}`, "config management plugins are not supported", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromApplication(mustObj(t, base+tt.source), argoSources(t))
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

// TestFromApplicationRender renders an Application's request: value files
// relative to the chart, values, then parameters (a comma stays in the
// string, as Argo CD escapes it).
func TestFromApplicationRender(t *testing.T) {
	src := argoSources(t)
	reqs, err := FromApplication(mustObj(t, `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop}
spec:
  source:
    repoURL: https://github.com/example/platform
    path: charts/web
    helm:
      valueFiles: [values-prod.yaml]
      valuesObject: {replicaCount: 7}
      parameters:
        - {name: greeting, value: "hello, world"}
  destination: {namespace: store}
`), src)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Render(t.Context(), src.FS, reqs[0], testCaps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Objects {
		if m.Object.GetKind() != "Deployment" {
			continue
		}
		if got, _, _ := unstructured.NestedInt64(m.Object.Object, "spec", "replicas"); got != 7 {
			t.Errorf("replicas = %d, want 7", got)
		}
		c, _, _ := unstructured.NestedSlice(m.Object.Object, "spec", "template", "spec", "containers")
		env := c[0].(map[string]any)["env"].([]any)
		if got := env[0].(map[string]any)["value"]; got != "hello, world" {
			t.Errorf("GREETING = %q", got)
		}
		return
	}
	t.Fatalf("no Deployment in %v", summary(res))
}

func TestNormalizeRepoURL(t *testing.T) {
	same := []string{
		"https://github.com/Example/Platform.git",
		"https://github.com/example/platform",
		"https://github.com/example/platform/",
		"http://user@GitHub.com:443/example/platform.git",
		"ssh://git@github.com:22/example/platform.git",
		"git@github.com:example/platform.git",
		"github.com/example/platform",
	}
	for _, u := range same {
		if got := normalizeRepoURL(u); got != "github.com/example/platform" {
			t.Errorf("normalizeRepoURL(%q) = %q", u, got)
		}
	}
	for _, u := range []string{"https://github.com/example/platform-2", "https://gitlab.com/example/platform", "https://github.com/example"} {
		if got := normalizeRepoURL(u); got == "github.com/example/platform" {
			t.Errorf("normalizeRepoURL(%q) = %q, want another repository", u, got)
		}
	}
	if normalizeRepoURL("") != "" || (Sources{RepoURLs: []string{""}}).isThisRepo("") {
		t.Error("an empty URL names no repository")
	}
}

func TestEscapeCommas(t *testing.T) {
	for in, want := range map[string]string{
		"a,b":    `a\,b`,
		`a\,b`:   `a\,b`,
		"{a,b}":  "{a,b}",
		",":      `\,`,
		"plain":  "plain",
		"a,,b,c": `a\,\,b\,c`,
	} {
		if got := escapeCommas(in); got != want {
			t.Errorf("escapeCommas(%q) = %q, want %q", in, got, want)
		}
	}
}
