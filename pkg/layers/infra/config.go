package infra

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/driftd/driftd/pkg/yamlconf"
)

// Config configures the Terraform layer.
type Config struct {
	// Enabled can switch the layer off while keeping its settings.
	Enabled yamlconf.Switch `yaml:"enabled"`
	// Binary is the terraform or tofu executable. It defaults to terraform
	// on PATH.
	Binary string `yaml:"binary"`
	// Parallelism bounds the stacks planned at once. It defaults to 4.
	Parallelism int `yaml:"parallelism"`
	// Timeout bounds one stack's init, plan and show. It defaults to 10m.
	Timeout yamlconf.Duration `yaml:"timeout"`
	// Lock makes plans take the state lock. It defaults to false, so a
	// periodic check never blocks someone's apply.
	Lock bool `yaml:"lock"`
	// ApplyLockTimeout is how long apply mode waits for a stack's state
	// lock before it gives up on that stack. Apply always takes the lock,
	// whatever Lock says. It defaults to 1m.
	ApplyLockTimeout yamlconf.Duration `yaml:"apply_lock_timeout"`
	// PluginCacheDir is shared by every stack's init.
	PluginCacheDir string `yaml:"plugin_cache_dir"`
	// PassEnv lists the environment variables (names, or globs such as
	// "AWS_*") that terraform and its providers get from driftd's own
	// environment, besides the few every process needs (PATH, HOME,
	// proxies, ...). It defaults to the common cloud credential variables.
	// The repository token's variable (repo.auth.token_env) is never
	// passed.
	PassEnv []string `yaml:"pass_env"`
	// Env is added to every terraform process. Reference secrets with
	// their own *_FILE mechanisms; do not inline them.
	Env map[string]string `yaml:"env"`
	// Stacks lists the Terraform root modules to check.
	Stacks []Stack `yaml:"stacks"`
}

// Stack is one Terraform root module in the repo.
type Stack struct {
	// Name identifies the stack in reports. It defaults to Dir.
	Name string `yaml:"name"`
	// Dir is the stack's directory, relative to the repo root.
	Dir string `yaml:"dir"`
	// Workspace selects a Terraform workspace.
	Workspace string `yaml:"workspace"`
	// VarFiles are passed as -var-file, relative to Dir.
	VarFiles []string `yaml:"var_files"`
	// Env is added to this stack's terraform processes.
	Env map[string]string `yaml:"env"`
	// Timeout overrides the layer's timeout for this stack. It also bounds
	// an apply of the stack.
	Timeout yamlconf.Duration `yaml:"timeout"`
	// AllowReplace lets apply mode apply a plan that destroys and creates
	// an object again to restore its drift: a replace, or the re-creation
	// of a resource Terraform no longer finds (which is how most providers
	// see an object deleted or, like local_file, rewritten outside of
	// Terraform). The new object gets a new identity, and whatever stood
	// in its place is overwritten. Off by default: such a plan is skipped,
	// with the resources it would replace.
	AllowReplace bool `yaml:"allow_replace"`
}

// Defaults fills in what the section leaves out.
func (c *Config) Defaults() {
	if c.Binary == "" {
		c.Binary = "terraform"
	}
	if c.Parallelism == 0 {
		c.Parallelism = 4
	}
	c.Timeout = c.Timeout.Or(10 * time.Minute)
	c.ApplyLockTimeout = c.ApplyLockTimeout.Or(time.Minute)
	if c.PassEnv == nil {
		c.PassEnv = []string{"AWS_*", "AZURE_*", "ARM_*", "GOOGLE_*", "CLOUDSDK_*", "DIGITALOCEAN_*", "HCLOUD_*", "OS_*", "VAULT_*", "KUBECONFIG", "TF_VAR_*", "TF_LOG", "TF_LOG_PATH"}
	}
	for i := range c.Stacks {
		s := &c.Stacks[i]
		if s.Name == "" {
			s.Name = s.Dir
		}
		s.Timeout = s.Timeout.Or(c.Timeout.Std())
	}
}

// Validate reports the section's errors, with paths relative to it.
func (c *Config) Validate() []yamlconf.FieldError {
	var errs []yamlconf.FieldError
	add := func(msg string, path ...string) { errs = append(errs, yamlconf.FieldError{Path: path, Msg: msg}) }
	if c.Parallelism < 0 {
		add("must be at least 1", "parallelism")
	}
	if len(c.Stacks) == 0 && c.Enabled.Value(true) {
		add("at least one stack is required", "stacks")
	}
	seen := map[string]bool{}
	for i, s := range c.Stacks {
		idx := strconv.Itoa(i)
		switch {
		case s.Dir == "":
			add("required: the stack's directory in the repo", "stacks", idx, "dir")
		case !filepath.IsLocal(s.Dir):
			add(fmt.Sprintf("%q must be a relative path inside the repo", s.Dir), "stacks", idx, "dir")
		}
		if seen[s.Name] {
			add(fmt.Sprintf("duplicate stack name %q", s.Name), "stacks", idx, "name")
		}
		seen[s.Name] = true
	}
	return errs
}
