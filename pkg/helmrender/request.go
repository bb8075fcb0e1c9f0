package helmrender

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Request is one Helm release to render: a chart of the repository (Chart
// is its directory) or, when RepoURL is set, a chart of a chart repository
// (Chart is its name and Version a version constraint).
type Request struct {
	// Origin says where the release is declared, for messages: for
	// example "driftd.yaml helm[0]" or "HelmRelease podinfo/web in
	// apps/web.yaml". The caller sets it; Render only repeats it.
	Origin string `json:"origin,omitempty"`
	// Chart is the chart's directory, relative to the repository root, or
	// the chart's name in the chart repository at RepoURL.
	Chart string `json:"chart"`
	// RepoURL is the http(s) URL of a chart repository (one that serves
	// index.yaml). Empty means Chart is a directory of the repository.
	RepoURL string `json:"repoURL,omitempty"`
	// Version is a semver constraint on the chart version, for a chart of a
	// chart repository; empty means the latest stable version.
	Version string `json:"version,omitempty"`
	// ReleaseName is .Release.Name.
	ReleaseName string `json:"releaseName"`
	// Namespace is .Release.Namespace; empty means "default", as helm
	// template does.
	Namespace string `json:"namespace,omitempty"`
	// ValuesFiles are applied in order over the chart's values.yaml (or
	// replace it, see ReplaceDefaults). For a chart of the repository they
	// are relative to the repository root; for a chart of a chart
	// repository they name files inside the chart.
	ValuesFiles []string `json:"valuesFiles,omitempty"`
	// IgnoreMissingValuesFiles skips a values file that does not exist
	// instead of failing (Flux's ignoreMissingValuesFiles, Argo CD's
	// ignoreMissingValueFiles).
	IgnoreMissingValuesFiles bool `json:"ignoreMissingValuesFiles,omitempty"`
	// ReplaceDefaults makes the merged ValuesFiles the chart's default
	// values instead of layering them over values.yaml, as Flux does with
	// spec.chart.spec.valuesFiles: values.yaml then counts only if listed.
	ReplaceDefaults bool `json:"replaceDefaults,omitempty"`
	// Values are applied after the values files.
	Values map[string]any `json:"values,omitempty"`
	// Parameters are applied last, as helm's --set, --set-string and
	// --set-file are (in that order, whatever their order here).
	Parameters []Parameter `json:"parameters,omitempty"`
	// KubeVersion and APIVersions, when set, replace the cluster's
	// (Argo CD's helm.kubeVersion and helm.apiVersions).
	KubeVersion string   `json:"kubeVersion,omitempty"`
	APIVersions []string `json:"apiVersions,omitempty"`
	// SkipSchemaValidation skips values.schema.json, as helm's
	// --skip-schema-validation does.
	SkipSchemaValidation bool `json:"skipSchemaValidation,omitempty"`
	// SecretValues are the strings Values took from Secrets
	// (FromHelmRelease's valuesFrom): a caller keeps any object that
	// holds one out of its reports, as it keeps Secrets. They are not
	// sent to RenderIsolated's child, which gets them in Values.
	SecretValues []string `json:"-"`
}

// Parameter is one value set like helm's --set NAME=VALUE.
type Parameter struct {
	// Name is the dotted path, in helm's --set syntax.
	Name string `json:"name"`
	// Value is the value in --set syntax (commas separate values unless
	// escaped), or, with File, the path of a file of the repository
	// whose content is the value (as --set-file).
	Value string `json:"value"`
	// String keeps the value a string, as --set-string.
	String bool `json:"string,omitempty"`
	// File makes Value a repository path, as --set-file.
	File bool `json:"file,omitempty"`
}

// Capabilities is what the cluster's discovery says, for .Capabilities.
type Capabilities struct {
	// KubeVersion is the server's version, such as "v1.37.1"; empty means
	// helm's default, as helm template without --kube-version.
	KubeVersion string `json:"kubeVersion,omitempty"`
	// APIVersions lists the served group versions and resources in
	// helm's forms: "v1", "apps/v1", "apps/v1/Deployment". Empty means
	// helm's built-in list, as helm template without --api-versions.
	APIVersions []string `json:"apiVersions,omitempty"`
}

// Options bounds rendering and says whether charts may be fetched.
type Options struct {
	// AllowRemote allows charts of chart repositories to be fetched over
	// HTTP(S). Without it such a request fails with ErrRemoteRefused.
	AllowRemote bool `json:"allowRemote,omitempty"`
	// HTTPTimeout bounds each HTTP exchange, body included.
	// Default 30s.
	HTTPTimeout time.Duration `json:"httpTimeout,omitempty"`
	// MaxChartSize bounds a chart: the total size of its files, archives
	// expanded (subcharts included), and the size of a downloaded chart
	// archive. Default 100 MiB, helm's own bound.
	MaxChartSize int64 `json:"maxChartSize,omitempty"`
	// MaxIndexSize bounds a chart repository's index.yaml. Default 32 MiB.
	MaxIndexSize int64 `json:"maxIndexSize,omitempty"`
	// MaxOutput bounds what one chart may render, in bytes. Default 64 MiB.
	// RenderIsolated also bounds the values (maps, lists and scalars) of
	// one chart's objects to MaxOutput/16, since decoding them costs the
	// calling process far more memory per value than per byte.
	MaxOutput int64 `json:"maxOutput,omitempty"`
	// MaxTotalOutput bounds what all the charts of one RenderIsolated call
	// may render together, in bytes: a repository can declare any number
	// of releases of one small chart that renders MaxOutput, and the
	// calling process holds every result at once. Default 256 MiB.
	MaxTotalOutput int64 `json:"maxTotalOutput,omitempty"`
	// CacheDir, when set, keeps downloaded chart archives whose digest the
	// repository index gives, named by that digest, and reuses them after
	// checking it. The index itself is fetched every time.
	CacheDir string `json:"cacheDir,omitempty"`
	// Timeout bounds the rendering of one chart in RenderIsolated (Render
	// cannot stop a template, only its downloads, which ctx bounds).
	// Default 60s.
	Timeout time.Duration `json:"timeout,omitempty"`
	// MemoryLimit bounds the address space a RenderIsolated child may add
	// to what it maps when it starts. Default 4 GiB.
	MemoryLimit int64 `json:"memoryLimit,omitempty"`
}

// The defaults of Options.
const (
	DefaultHTTPTimeout  = 30 * time.Second
	DefaultMaxChartSize = 100 << 20
	DefaultMaxIndexSize = 32 << 20
	DefaultMaxOutput    = 64 << 20
	DefaultMaxTotal     = 256 << 20
	DefaultTimeout      = 60 * time.Second
	DefaultMemoryLimit  = 4 << 30
)

func (o Options) withDefaults() Options {
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = DefaultHTTPTimeout
	}
	if o.MaxChartSize <= 0 {
		o.MaxChartSize = DefaultMaxChartSize
	}
	if o.MaxIndexSize <= 0 {
		o.MaxIndexSize = DefaultMaxIndexSize
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = DefaultMaxOutput
	}
	if o.MaxTotalOutput <= 0 {
		o.MaxTotalOutput = DefaultMaxTotal
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = DefaultMemoryLimit
	}
	return o
}

// Result is one rendered release.
type Result struct {
	// Chart and Version are the rendered chart's name and version.
	Chart   string `json:"chart"`
	Version string `json:"version"`
	// ValuesFiles are the values files that were applied, in order (a
	// missing file that IgnoreMissingValuesFiles skipped is not listed).
	ValuesFiles []string `json:"valuesFiles,omitempty"`
	// Objects are the release's objects, hooks, tests and CRDs left out,
	// in helm's install order.
	Objects []Manifest `json:"objects"`
	// Hooks and Tests count the hook and test objects left out.
	Hooks int `json:"hooks,omitempty"`
	Tests int `json:"tests,omitempty"`
	// CRDs counts the files of the charts' crds/ directories left out:
	// helm installs them once and never upgrades them, so driftd does not
	// compare them as part of the release.
	CRDs int `json:"crds,omitempty"`
	// Volatile names the template functions the chart called whose output
	// changes from one rendering to the next (randAlphaNum, genCA, now,
	// ...) or depends on the cluster (lookup, which renders empty here
	// as in helm template): objects built with them may differ from the
	// live ones without anyone having changed anything.
	Volatile []string `json:"volatile,omitempty"`
}

// Manifest is one rendered object and the template it came from.
type Manifest struct {
	// Template is the template's path in the chart, as helm names it in
	// its "# Source:" comments: "web/templates/deployment.yaml", or
	// "web/charts/db/templates/statefulset.yaml" for a subchart's.
	Template string `json:"template"`
	// Object is the decoded object (a List is expanded into its items).
	Object *unstructured.Unstructured `json:"object"`
	// Volatile says that the template renders differently each time,
	// through the functions Result.Volatile names (a password drawn by
	// randAlphaNum, a certificate by genCA, what lookup finds): the
	// object is not what Git says, and writing it to the cluster would
	// replace what the live one holds.
	Volatile bool `json:"volatile,omitempty"`
}

// String describes the request for messages: its origin, the chart and
// the values files, with anything unusual in a name quoted.
func (r Request) String() string {
	var b strings.Builder
	if r.Origin != "" {
		b.WriteString(display(r.Origin))
		b.WriteString(": ")
	}
	b.WriteString("chart ")
	b.WriteString(display(r.Chart))
	if r.RepoURL != "" {
		if r.Version != "" {
			b.WriteString(" " + display(r.Version))
		}
		b.WriteString(" from " + display(r.RepoURL))
	}
	if len(r.ValuesFiles) > 0 {
		vs := make([]string, len(r.ValuesFiles))
		for i, v := range r.ValuesFiles {
			vs[i] = display(v)
		}
		fmt.Fprintf(&b, " (values %s)", strings.Join(vs, ", "))
	}
	return b.String()
}

// display returns s as is when it is plain printable text, and quoted, with
// control characters escaped, otherwise: names from the repository must not
// bend a message or a terminal.
func display(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '"' || r == '\\' || unicode.IsSpace(r) && r != ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}
