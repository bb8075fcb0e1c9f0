package app

import (
	"path"
	"strconv"
	"time"

	"github.com/driftd/driftd/pkg/yamlconf"
)

// Config configures the Kubernetes layer.
type Config struct {
	// Enabled can switch the layer off while keeping its settings.
	Enabled yamlconf.Switch `yaml:"enabled"`
	// Paths are directories of manifests or kustomizations in the repo.
	Paths []string `yaml:"paths"`
	// Kubeconfig is a kubeconfig file. Empty means in-cluster config, or
	// $KUBECONFIG.
	Kubeconfig string `yaml:"kubeconfig"`
	// Context selects a kubeconfig context.
	Context string `yaml:"context"`
	// DefaultNamespace is given to namespaced objects that have none.
	DefaultNamespace string `yaml:"default_namespace"`
	// QPS and Burst set the client's rate limit.
	QPS   float32 `yaml:"qps"`
	Burst int     `yaml:"burst"`
	// Timeout bounds one target's check. It defaults to 1m.
	Timeout yamlconf.Duration `yaml:"timeout"`
	// Parallelism bounds the requests in flight (LISTs and dry runs). It
	// defaults to 8.
	Parallelism int `yaml:"parallelism"`
	// Compare chooses how objects that differ as written are compared:
	// "read-only" from the live object's managedFields (needs get and list
	// only), "dry-run" by a dry-run replace (needs update on every kind
	// compared), or "auto" (the default): dry-run where a
	// SelfSubjectAccessReview says it is allowed, read-only elsewhere.
	Compare string `yaml:"compare"`
	// Appliers are the field managers (globs) that apply Git to the
	// cluster. Fields only live has are drift when a manager that is
	// neither an applier nor a controller set them. Setting the list
	// replaces the defaults (DefaultAppliers).
	Appliers []string `yaml:"appliers"`
	// Controllers are the field managers (globs) of the cluster's own
	// machinery, whose fields Git does not declare are never drift.
	// Setting the list replaces the defaults (DefaultControllers). Writes
	// through the status subresource always count as a controller's.
	Controllers []string `yaml:"controllers"`
	// Unmanaged, when set, reports live objects that Git does not know.
	Unmanaged *Unmanaged `yaml:"unmanaged"`
	// AllowRemoteResources lets kustomizations fetch remote resources
	// (http(s) URLs and git repositories). Off by default: they are refused.
	// When on, each kustomization is rendered in a child process that is
	// killed at the target timeout or when the check ends.
	AllowRemoteResources bool `yaml:"allow_remote_resources"`
	// Helm renders Helm charts, compared like plain manifests.
	Helm HelmConfig `yaml:"helm"`
	// SOPS decrypts SOPS-encrypted files, in memory only.
	SOPS SOPSConfig `yaml:"sops"`
	// Apply configures apply mode for this layer.
	Apply ApplyConfig `yaml:"apply"`
}

// The comparison modes of Config.Compare.
const (
	CompareAuto     = "auto"
	CompareReadOnly = "read-only"
	CompareDryRun   = "dry-run"
)

// DefaultAppliers are the field managers of the tools that apply Git:
// kubectl (server-side apply, client-side apply, create, replace), Argo CD,
// Flux, Helm and driftd.
func DefaultAppliers() []string {
	return []string{
		"kubectl", "kubectl-client-side-apply", "kubectl-create", "kubectl-replace", "before-first-apply",
		"argocd-controller", "argocd-application-controller",
		"kustomize-controller", "helm-controller", "helm", "driftd",
	}
}

// DefaultControllers are the field managers of Kubernetes' own components.
func DefaultControllers() []string {
	return []string{"kube-controller-manager", "kube-scheduler", "kubelet", "cloud-controller-manager", "kube-apiserver"}
}

// Unmanaged selects where live objects absent from Git are drift.
type Unmanaged struct {
	// Namespaces are fully managed namespaces.
	Namespaces []string `yaml:"namespaces"`
	// LabelSelector selects managed objects anywhere.
	LabelSelector string `yaml:"label_selector"`
}

// Defaults fills in what the section leaves out.
func (c *Config) Defaults() {
	if c.DefaultNamespace == "" {
		c.DefaultNamespace = "default"
	}
	if c.Apply.ForceConflictsWith == nil {
		c.Apply.ForceConflictsWith = DefaultForceConflictsWith()
	}
	// One LIST per kind and namespace, and a dry run only for objects
	// that differ: request counts stay small, and the concurrency bound
	// (not a low QPS) is what protects the API server, which also has
	// its own priority and fairness.
	if c.QPS == 0 {
		c.QPS = 500
	}
	if c.Burst == 0 {
		c.Burst = 1000
	}
	if c.Parallelism == 0 {
		c.Parallelism = 8
	}
	c.Timeout = c.Timeout.Or(time.Minute)
	if c.Compare == "" {
		c.Compare = CompareAuto
	}
	if c.Appliers == nil {
		c.Appliers = DefaultAppliers()
	}
	if c.Controllers == nil {
		c.Controllers = DefaultControllers()
	}
	c.Helm.defaults()
}

// Validate reports the section's errors, with paths relative to it.
func (c *Config) Validate() []yamlconf.FieldError {
	var errs []yamlconf.FieldError
	if len(c.Paths) == 0 && len(c.Helm.Releases) == 0 && c.Enabled.Value(true) {
		errs = append(errs, yamlconf.Errorf([]string{"paths"}, "at least one path (or helm.releases entry) is required"))
	}
	switch c.Compare {
	case "", CompareAuto, CompareReadOnly, CompareDryRun:
	default:
		errs = append(errs, yamlconf.Errorf([]string{"compare"}, "%q is not a comparison mode: use auto, read-only or dry-run", c.Compare))
	}
	for _, l := range []struct {
		name  string
		globs []string
	}{{"appliers", c.Appliers}, {"controllers", c.Controllers}} {
		for i, g := range l.globs {
			if _, err := path.Match(g, ""); err != nil || g == "" {
				errs = append(errs, yamlconf.Errorf([]string{l.name, strconv.Itoa(i)}, "%q is not a valid glob", g))
			}
		}
	}
	return append(errs, c.Helm.validate()...)
}
