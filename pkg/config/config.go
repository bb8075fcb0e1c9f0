// Package config loads and validates driftd.yaml: strictly, with defaults,
// and with every error naming the file and line it comes from.
package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/ignore"
	"github.com/driftd/driftd/pkg/layers/app"
	"github.com/driftd/driftd/pkg/layers/infra"
	"github.com/driftd/driftd/pkg/layers/node"
)

// Config is the whole of driftd.yaml.
type Config struct {
	// Repo is the Git repository that holds the desired state.
	Repo Repo `yaml:"repo"`
	// Schedule says when `driftd serve` runs a check, as a cron expression.
	Schedule Schedule `yaml:"schedule"`
	// Layers holds the per-layer settings. A layer runs when its section is
	// present and not disabled.
	Layers Layers `yaml:"layers"`
	// Ignore lists the differences that are not drift.
	Ignore []IgnoreRule `yaml:"ignore"`
	// Apply holds the settings of apply mode, which is off by default.
	Apply Apply `yaml:"apply"`
	// Serve configures `driftd serve`.
	Serve Serve `yaml:"serve"`
	// CacheDir holds driftd's working state: the clone and Terraform's data.
	// It defaults to $XDG_CACHE_HOME/driftd. Nothing in it needs a backup.
	CacheDir string `yaml:"cache_dir"`
}

// Repo locates the config repository.
type Repo struct {
	// URL is a remote that go-git can clone: ssh://, https://, file://, or
	// scp-like user@host:path.
	URL string `yaml:"url"`
	// Branch is the branch to track. It defaults to main.
	Branch string `yaml:"branch"`
	// PollInterval is how often `driftd serve` fetches. It defaults to 1m.
	PollInterval Duration `yaml:"poll_interval"`
	// Timeout bounds one clone or fetch. It defaults to 2m.
	Timeout Duration `yaml:"timeout"`
	// Auth references the credentials. Values are never inlined.
	Auth RepoAuth `yaml:"auth"`
	// MaxFileSize bounds any one file that driftd reads from the checkout
	// (a manifest, a role file, the inventory, a Terraform file). It
	// defaults to 16Mi.
	MaxFileSize ByteSize `yaml:"max_file_size"`
}

// RepoAuth references the credentials for the repository. Either an SSH key
// or an HTTPS token may be set, not both.
type RepoAuth struct {
	// SSHKeyFile is a private key file for ssh:// remotes.
	SSHKeyFile string `yaml:"ssh_key_file"`
	// KnownHostsFile verifies the remote's host key. When empty, the
	// standard known_hosts locations are used. Host keys are always checked.
	KnownHostsFile string `yaml:"known_hosts_file"`
	// Username is the user for HTTPS token auth (default "git") or SSH
	// (default taken from the URL, else "git").
	Username string `yaml:"username"`
	// TokenFile is a file holding an HTTPS token.
	TokenFile string `yaml:"token_file"`
	// TokenEnv is the name of an environment variable holding an HTTPS token.
	TokenEnv string `yaml:"token_env"`
}

// Layers holds the settings of each layer.
type Layers struct {
	Infra *Infra `yaml:"infra"`
	Node  *Node  `yaml:"node"`
	App   *App   `yaml:"app"`
}

// Enabled lists the layers that will run, in report order.
func (l Layers) Enabled() []drift.LayerName {
	var out []drift.LayerName
	if l.Infra != nil && l.Infra.Enabled.Value(true) {
		out = append(out, drift.LayerInfra)
	}
	if l.Node != nil && l.Node.Enabled.Value(true) {
		out = append(out, drift.LayerNode)
	}
	if l.App != nil && l.App.Enabled.Value(true) {
		out = append(out, drift.LayerApp)
	}
	return out
}

// The layers' sections; each layer owns its type, defaults and
// validation.
type (
	// Infra configures the Terraform layer.
	Infra = infra.Config
	// Stack is one Terraform stack.
	Stack = infra.Stack
	// Node configures the node layer.
	Node = node.Config
	// NodeSSH holds the node layer's SSH settings.
	NodeSSH = node.SSHConfig
	// App configures the Kubernetes layer.
	App = app.Config
	// Unmanaged selects where live objects absent from Git are drift.
	Unmanaged = app.Unmanaged
)

// IgnoreRule is an ignore rule; see ignore.Rule.
type IgnoreRule = ignore.Rule

// Apply configures apply mode. It never runs unless asked. Layer-specific
// settings (conflicts, reloads, replaces) live in each layer's section,
// under apply.
type Apply struct {
	// Enabled allows `driftd apply`. It defaults to false.
	Enabled bool `yaml:"enabled"`
	// Targets lists, per layer, the targets apply may change: names or
	// globs (path.Match: "shop", "node-*"). A layer without an entry is
	// never applied; nothing is allowed by default.
	Targets map[string][]string `yaml:"targets"`
	// MaxChanges bounds the objects one run may change; above it, the run
	// applies nothing and says so. It defaults to 20.
	MaxChanges int `yaml:"max_changes"`
	// MaxDeletions bounds the objects one run may delete (pruning); above
	// it, the run applies nothing. It defaults to 0.
	MaxDeletions int `yaml:"max_deletions"`
	// Prune allows deleting what Git does not declare (unmanaged objects
	// and files), within each layer's scope. It defaults to false.
	Prune bool `yaml:"prune"`
	// FlapBreaker stops applying an object that drifts again Count times
	// within Within of being restored: something keeps changing it.
	FlapBreaker FlapBreaker `yaml:"flap_breaker"`
	// InServe applies after each check of `driftd serve` (by the leader
	// only). It defaults to false: `driftd apply` is then the only way.
	InServe bool `yaml:"in_serve"`
	// Windows says when apply may run; any time by default.
	Windows Windows `yaml:"windows"`
}

// FlapBreaker configures the flap breaker of apply mode.
type FlapBreaker struct {
	// Count is how many restores of one object within Within trip the
	// breaker. It defaults to 3.
	Count int `yaml:"count"`
	// Within defaults to 1h.
	Within Duration `yaml:"within"`
}

// Serve configures the daemon.
type Serve struct {
	// Listen is the HTTP address for metrics, probes, the API, the status
	// page and the webhook. It defaults to :8080.
	Listen string `yaml:"listen"`
	// StartJitter delays the first check by a random time up to this long,
	// so that replicas started together do not check in lockstep.
	StartJitter Duration `yaml:"start_jitter"`
	// ShutdownTimeout bounds a graceful shutdown. It defaults to 30s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// PerObjectMetrics adds driftd_drift_object_info, one series per
	// drifted object. Off by default, because cardinality matters.
	PerObjectMetrics bool `yaml:"per_object_metrics"`
	// HTTP bounds what one client can make the HTTP server hold.
	HTTP HTTP `yaml:"http"`
	// Webhook configures the push webhook at POST /hooks/git.
	Webhook Webhook `yaml:"webhook"`
	// LeaderElection lets only one of several replicas check.
	LeaderElection LeaderElection `yaml:"leader_election"`
}

// Webhook configures the push webhook. It is disabled without a secret.
type Webhook struct {
	// SecretFile holds the shared secret: GitHub's webhook secret, GitLab's
	// secret token, or a GitLab signing token (whsec_...).
	SecretFile string `yaml:"secret_file"`
	// MaxBodySize bounds a webhook's body: a larger one gets 413. It
	// defaults to 25Mi, GitHub's own cap on a push payload.
	MaxBodySize ByteSize `yaml:"max_body_size"`
	// MaxInFlight bounds the webhook requests read at once; more get 429
	// at once. It defaults to 4.
	MaxInFlight int `yaml:"max_in_flight"`
}

// Defaults fills in the webhook's unset bounds.
func (w *Webhook) Defaults() {
	w.MaxBodySize = w.MaxBodySize.Or(25 << 20)
	if w.MaxInFlight == 0 {
		w.MaxInFlight = 4
	}
}

// HTTP bounds every request to `driftd serve`, so that slow or large
// requests cannot hold connections and memory without end.
type HTTP struct {
	// ReadHeaderTimeout bounds reading a request's headers. It defaults to
	// 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included: a client
	// that trickles its body is cut off. It defaults to 30s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds a request from the end of its headers to the end
	// of the answer. It defaults to 60s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout bounds a kept-alive connection's wait for its next
	// request. It defaults to 2m.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds a request's headers. It defaults to 64Ki.
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes"`
}

// Defaults fills in the unset bounds.
func (h *HTTP) Defaults() {
	h.ReadHeaderTimeout = h.ReadHeaderTimeout.Or(10 * time.Second)
	h.ReadTimeout = h.ReadTimeout.Or(30 * time.Second)
	h.WriteTimeout = h.WriteTimeout.Or(60 * time.Second)
	h.IdleTimeout = h.IdleTimeout.Or(2 * time.Minute)
	h.MaxHeaderBytes = h.MaxHeaderBytes.Or(64 << 10)
}

// LeaderElection configures a client-go Lease lock.
type LeaderElection struct {
	// Enabled turns leader election on; use it with replicas > 1.
	Enabled bool `yaml:"enabled"`
	// Namespace holds the Lease. It defaults to $POD_NAMESPACE, else driftd.
	Namespace string `yaml:"namespace"`
	// LeaseName defaults to driftd.
	LeaseName string `yaml:"lease_name"`
	// Kubeconfig is empty in a cluster.
	Kubeconfig string `yaml:"kubeconfig"`
	// LeaseDuration, RenewDeadline and RetryPeriod tune client-go's
	// election; they default to 15s, 10s and 2s.
	LeaseDuration Duration `yaml:"lease_duration"`
	RenewDeadline Duration `yaml:"renew_deadline"`
	RetryPeriod   Duration `yaml:"retry_period"`
}

// LocalFiles lists the settings that name files or directories on this
// machine, by their path in the config: credentials, kubeconfigs, the
// terraform binary when given as a path, caches. A check of a pull request
// refuses those that lie inside the pull request's checkout.
func (c *Config) LocalFiles() map[string]string {
	out := map[string]string{}
	add := func(field, p string) {
		if p != "" {
			out[field] = p
		}
	}
	add("cache_dir", c.CacheDir)
	add("repo.auth.ssh_key_file", c.Repo.Auth.SSHKeyFile)
	add("repo.auth.known_hosts_file", c.Repo.Auth.KnownHostsFile)
	add("repo.auth.token_file", c.Repo.Auth.TokenFile)
	if in := c.Layers.Infra; in != nil {
		if strings.ContainsRune(in.Binary, '/') {
			add("layers.infra.binary", in.Binary)
		}
		add("layers.infra.plugin_cache_dir", in.PluginCacheDir)
		for k, v := range in.Env {
			if looksLikePath(v) {
				add("layers.infra.env."+k, v)
			}
		}
		for i, s := range in.Stacks {
			for k, v := range s.Env {
				if looksLikePath(v) {
					add(fmt.Sprintf("layers.infra.stacks.%d.env.%s", i, k), v)
				}
			}
		}
	}
	if n := c.Layers.Node; n != nil {
		add("layers.node.local_root", n.LocalRoot)
		add("layers.node.ssh.key_file", n.SSH.KeyFile)
		add("layers.node.ssh.known_hosts_file", n.SSH.KnownHostsFile)
	}
	if a := c.Layers.App; a != nil {
		add("layers.app.kubeconfig", a.Kubeconfig)
		add("layers.app.sops.age_key_file", a.SOPS.AgeKeyFile)
	}
	return out
}

// looksLikePath reports whether an environment value may name a file
// (TF_CLI_CONFIG_FILE=./terraformrc): it holds a slash or starts with a dot.
func looksLikePath(v string) bool {
	return strings.ContainsRune(v, '/') || strings.HasPrefix(v, ".")
}
