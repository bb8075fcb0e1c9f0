package app

import (
	"fmt"
	"strconv"

	"github.com/driftd/driftd/pkg/yamlconf"
)

// HelmConfig says which Helm charts the layer renders and compares like
// plain manifests: the releases listed here, and the Flux HelmRelease and
// Argo CD Application objects found under paths whose chart lives in this
// repository.
type HelmConfig struct {
	// Releases are charts declared in driftd.yaml.
	Releases []HelmRelease `yaml:"releases"`
	// Flux, on by default, renders Flux HelmRelease objects.
	Flux yamlconf.Switch `yaml:"flux"`
	// ArgoCD, on by default, renders Argo CD Application objects.
	ArgoCD yamlconf.Switch `yaml:"argocd"`
	// GitRepositories are the Flux GitRepository objects
	// (namespace/name) that are this repository; a HelmRelease whose
	// chart comes from one of them is rendered from the repository.
	// Default flux-system/flux-system, as flux bootstrap names it.
	GitRepositories []string `yaml:"git_repositories"`
	// RepoURLs are other URLs by which Applications and GitRepositories
	// name this repository; repo.url always is one.
	RepoURLs []string `yaml:"repo_urls"`
	// AllowRemoteCharts lets charts come from chart repositories (an
	// index.yaml over http or https). Off by default: such a release is
	// an error that names this setting.
	AllowRemoteCharts bool `yaml:"allow_remote_charts"`
}

// HelmRelease is one chart declared in driftd.yaml.
type HelmRelease struct {
	// Name is the release name.
	Name string `yaml:"name"`
	// Namespace is the release namespace: its objects' default.
	Namespace string `yaml:"namespace"`
	// Chart is the chart's directory in the repository; or, with Repo,
	// the chart's name in that chart repository.
	Chart string `yaml:"chart"`
	// Repo is a chart repository URL (needs allow_remote_charts).
	Repo string `yaml:"repo"`
	// Version constrains the chart version from Repo.
	Version string `yaml:"version"`
	// ValuesFiles are values files in the repository, applied in order.
	ValuesFiles []string `yaml:"values_files"`
	// Values are applied last, as helm's --set-file/--values would.
	Values map[string]any `yaml:"values"`
}

// SOPSConfig names the age keys that decrypt SOPS-encrypted files: a file,
// an environment variable, or both, never the key itself. Without any,
// encrypted Secrets are compared by their key names only.
type SOPSConfig struct {
	// AgeKeyFile is a file of age identities, as age-keygen writes.
	AgeKeyFile string `yaml:"age_key_file"`
	// AgeKeyEnv names an environment variable holding age identities
	// (as SOPS_AGE_KEY does for sops).
	AgeKeyEnv string `yaml:"age_key_env"`
}

// Configured reports whether any key source is set.
func (s SOPSConfig) Configured() bool { return s.AgeKeyFile != "" || s.AgeKeyEnv != "" }

func (c *HelmConfig) defaults() {
	if c.GitRepositories == nil {
		c.GitRepositories = []string{"flux-system/flux-system"}
	}
}

func (c *HelmConfig) validate() []yamlconf.FieldError {
	var errs []yamlconf.FieldError
	seen := map[string]int{}
	for i, r := range c.Releases {
		at := func(f string) []string { return []string{"helm", "releases", strconv.Itoa(i), f} }
		if r.Name == "" {
			errs = append(errs, yamlconf.Errorf(at("name"), "a release needs a name"))
		}
		if r.Chart == "" {
			errs = append(errs, yamlconf.Errorf(at("chart"), "a release needs a chart: a directory in the repository, or a chart name with repo"))
		}
		if r.Repo != "" && !c.AllowRemoteCharts {
			errs = append(errs, yamlconf.Errorf(at("repo"), "charts from a chart repository are refused unless helm.allow_remote_charts is true"))
		}
		key := r.Namespace + "/" + r.Name
		if j, dup := seen[key]; dup {
			errs = append(errs, yamlconf.Errorf(at("name"), "release %s is also helm.releases.%d", key, j))
		}
		seen[key] = i
	}
	for i, g := range c.GitRepositories {
		if ns, name, ok := cutNamespaced(g); !ok || ns == "" || name == "" {
			errs = append(errs, yamlconf.Errorf([]string{"helm", "git_repositories", strconv.Itoa(i)}, "%q is not namespace/name", g))
		}
	}
	return errs
}

func cutNamespaced(s string) (ns, name string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}

// String names a release for messages: "helm.releases[web/site]".
func (r HelmRelease) String() string { return fmt.Sprintf("helm.releases[%s/%s]", r.Namespace, r.Name) }
