package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// DefaultSchedule is the check schedule when driftd.yaml sets none.
const DefaultSchedule = "*/5 * * * *"

// LoadFile reads and validates a config file. Every error names the file and,
// where it has one, the line.
func LoadFile(path string) (*Config, error) { return loadFile(path, false) }

// LoadFileForCheckout reads a config for a check of a local checkout
// (`driftd check --repo`), where nothing is cloned: repo.url may be empty.
func LoadFileForCheckout(path string) (*Config, error) { return loadFile(path, true) }

func loadFile(path string, checkout bool) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return load(path, b, checkout)
}

// LoadForCheckout is Load for a check of a local checkout: repo.url may be
// empty.
func LoadForCheckout(name string, b []byte) (*Config, error) { return load(name, b, true) }

// Load decodes and validates a config. name is used in error messages.
// Unknown keys, values of the wrong type and invalid settings are errors, all
// of which are reported together, one per line.
func Load(name string, b []byte) (*Config, error) { return load(name, b, false) }

func load(name string, b []byte, checkout bool) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s", yamlconf.Rewrite(name, nil, err.Error()))
	}
	if root.Kind == 0 && !checkout {
		return nil, fmt.Errorf("%s:1: config is empty: repo.url is required", name)
	}
	var c Config
	if err := yamlconf.Decode(name, b, &root, &c); err != nil {
		return nil, err
	}
	c.setDefaults()
	if errs := c.validate(checkout); len(errs) > 0 {
		msgs := make([]string, 0, len(errs))
		for _, e := range errs {
			msgs = append(msgs, fmt.Sprintf("%s:%d: %s: %s", name, yamlconf.LineOf(&root, e.Path), strings.Join(e.Path, "."), e.Msg))
		}
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	return &c, nil
}

// DecodeStrict decodes YAML into v the way driftd.yaml is decoded: see
// yamlconf.DecodeStrict.
func DecodeStrict(name string, b []byte, v any) error { return yamlconf.DecodeStrict(name, b, v) }

func (c *Config) setDefaults() {
	if c.Repo.Branch == "" {
		c.Repo.Branch = "main"
	}
	c.Repo.PollInterval = c.Repo.PollInterval.Or(time.Minute)
	c.Repo.Timeout = c.Repo.Timeout.Or(2 * time.Minute)
	c.Repo.MaxFileSize = c.Repo.MaxFileSize.Or(16 << 20)
	if c.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		c.CacheDir = filepath.Join(dir, "driftd")
	}
	if c.Schedule.Cron == nil {
		s, _ := cron.ParseStandard(DefaultSchedule)
		c.Schedule = Schedule{Expr: DefaultSchedule, Cron: s}
	}
	if c.Serve.Listen == "" {
		c.Serve.Listen = ":8080"
	}
	c.Serve.ShutdownTimeout = c.Serve.ShutdownTimeout.Or(30 * time.Second)
	c.Serve.HTTP.Defaults()
	c.Serve.Webhook.Defaults()
	le := &c.Serve.LeaderElection
	if le.Namespace == "" {
		le.Namespace = os.Getenv("POD_NAMESPACE")
	}
	if le.Namespace == "" {
		le.Namespace = "driftd"
	}
	if le.LeaseName == "" {
		le.LeaseName = "driftd"
	}
	le.LeaseDuration = le.LeaseDuration.Or(15 * time.Second)
	le.RenewDeadline = le.RenewDeadline.Or(10 * time.Second)
	le.RetryPeriod = le.RetryPeriod.Or(2 * time.Second)
	if c.Apply.MaxChanges == 0 {
		c.Apply.MaxChanges = 20
	}
	if c.Apply.FlapBreaker.Count == 0 {
		c.Apply.FlapBreaker.Count = 3
	}
	c.Apply.FlapBreaker.Within = c.Apply.FlapBreaker.Within.Or(time.Hour)
	if in := c.Layers.Infra; in != nil {
		in.Defaults()
	}
	if n := c.Layers.Node; n != nil {
		n.Defaults()
	}
	if a := c.Layers.App; a != nil {
		a.Defaults()
	}
}

func (c *Config) validate(checkout bool) []yamlconf.FieldError {
	var errs []yamlconf.FieldError
	add := func(msg string, path ...string) { errs = append(errs, yamlconf.FieldError{Path: path, Msg: msg}) }

	if c.Repo.URL == "" && !checkout {
		add("required: the URL of the config repository", "repo", "url")
	} else if inlineCredentials(c.Repo.URL) {
		add("credentials are never inlined in the URL; reference a token with repo.auth.token_file or token_env", "repo", "url")
	}
	a := c.Repo.Auth
	if a.TokenFile != "" && a.TokenEnv != "" {
		add("set token_file or token_env, not both", "repo", "auth", "token_env")
	}
	if a.SSHKeyFile != "" && (a.TokenFile != "" || a.TokenEnv != "") {
		add("set an SSH key or an HTTPS token, not both", "repo", "auth", "ssh_key_file")
	}

	if c.Serve.Webhook.MaxInFlight < 0 {
		add("must be at least 1", "serve", "webhook", "max_in_flight")
	}
	if le := c.Serve.LeaderElection; le.Enabled && le.RenewDeadline >= le.LeaseDuration {
		add("must be shorter than lease_duration", "serve", "leader_election", "renew_deadline")
	}
	if in := c.Layers.Infra; in != nil {
		errs = append(errs, yamlconf.Under([]string{"layers", "infra"}, in.Validate())...)
	}
	if n := c.Layers.Node; n != nil {
		errs = append(errs, yamlconf.Under([]string{"layers", "node"}, n.Validate())...)
	}
	if a := c.Layers.App; a != nil {
		errs = append(errs, yamlconf.Under([]string{"layers", "app"}, a.Validate())...)
	}
	for layer, pats := range c.Apply.Targets {
		if !drift.LayerName(layer).Known() {
			add(fmt.Sprintf("unknown layer %q: use %s", layer, drift.LayerNames()), "apply", "targets", layer)
		}
		for i, p := range pats {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				add(fmt.Sprintf("%q is not a name or glob", p), "apply", "targets", layer, strconv.Itoa(i))
			}
		}
	}
	for _, e := range c.Apply.Windows.validate() {
		add(e, "apply", "windows")
	}
	if c.Apply.MaxChanges < 0 || c.Apply.MaxDeletions < 0 {
		add("must not be negative", "apply", "max_changes")
	}
	for i, r := range c.Ignore {
		errs = append(errs, yamlconf.Under([]string{"ignore", strconv.Itoa(i)}, r.Validate())...)
	}
	return errs
}

// inlineCredentials reports whether a repository URL carries credentials:
// a password, or any user name on http(s), where tokens are passed as one.
// An ssh:// user such as git@ is not a credential.
func inlineCredentials(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return false
	}
	if _, ok := u.User.Password(); ok {
		return true
	}
	return u.Scheme == "http" || u.Scheme == "https"
}
