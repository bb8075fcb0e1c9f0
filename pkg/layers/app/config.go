package app

import (
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
	// Unmanaged, when set, reports live objects that Git does not know.
	Unmanaged *Unmanaged `yaml:"unmanaged"`
	// AllowRemoteResources lets kustomizations fetch remote resources
	// (http(s) URLs and git repositories). Off by default: they are refused.
	// When on, each kustomization is rendered in a child process that is
	// killed at the target timeout or when the check ends.
	AllowRemoteResources bool `yaml:"allow_remote_resources"`
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
}

// Validate reports the section's errors, with paths relative to it.
func (c *Config) Validate() []yamlconf.FieldError {
	var errs []yamlconf.FieldError
	if len(c.Paths) == 0 && c.Enabled.Value(true) {
		errs = append(errs, yamlconf.Errorf([]string{"paths"}, "at least one path is required"))
	}
	return errs
}
