// Package config loads and validates driftd.yaml: strictly, with defaults,
// and with every error naming the file and line it comes from.
package config

import (
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/ignore"
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

// Infra configures the Terraform layer.
type Infra struct {
	// Enabled can switch the layer off while keeping its settings.
	Enabled Switch `yaml:"enabled"`
	// Binary is the terraform or tofu executable. It defaults to terraform
	// on PATH.
	Binary string `yaml:"binary"`
	// Parallelism bounds the stacks planned at once. It defaults to 4.
	Parallelism int `yaml:"parallelism"`
	// Timeout bounds one stack's init, plan and show. It defaults to 10m.
	Timeout Duration `yaml:"timeout"`
	// Lock makes plans take the state lock. It defaults to false, so a
	// periodic check never blocks someone's apply.
	Lock bool `yaml:"lock"`
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
	// Timeout overrides the layer's timeout for this stack.
	Timeout Duration `yaml:"timeout"`
}

// Node configures the node layer.
type Node struct {
	// Enabled can switch the layer off while keeping its settings.
	Enabled Switch `yaml:"enabled"`
	// Inventory is the inventory file, relative to the repo root.
	Inventory string `yaml:"inventory"`
	// RolesDir holds one directory of desired files per role.
	RolesDir string `yaml:"roles_dir"`
	// Scopes are the managed path globs on every node.
	Scopes []string `yaml:"scopes"`
	// Transport is ssh (the default) or local.
	Transport string `yaml:"transport"`
	// LocalRoot is the mounted host root for the local transport.
	LocalRoot string `yaml:"local_root"`
	// LocalNode is the inventory name of the node the local transport
	// reads. It defaults to $NODE_NAME, as a DaemonSet sets it from the
	// downward API.
	LocalNode string `yaml:"local_node"`
	// SSH holds the SSH client settings.
	SSH NodeSSH `yaml:"ssh"`
	// Parallelism bounds the nodes fetched at once. It defaults to 16.
	Parallelism int `yaml:"parallelism"`
	// Timeout bounds one node's fetch. It defaults to 30s.
	Timeout Duration `yaml:"timeout"`
	// MaxFileSize bounds one file read from a node. A larger file is a
	// finding ("too large to compare") without its content. It defaults
	// to 1Mi.
	MaxFileSize ByteSize `yaml:"max_file_size"`
	// MaxNodeSize bounds all that one node sends in a check; past it the
	// node is unknown. It defaults to 64Mi.
	MaxNodeSize ByteSize `yaml:"max_node_size"`
	// UnmanagedContent says how unmanaged files are reported: "hash" (the
	// default: name, size and SHA-256 only, since a file written by hand
	// may hold a credential) or "diff" (the whole content).
	UnmanagedContent string `yaml:"unmanaged_content"`
}

// NodeSSH references the SSH credentials for nodes.
type NodeSSH struct {
	// KeyFile is the private key file.
	KeyFile string `yaml:"key_file"`
	// UseAgent authenticates through $SSH_AUTH_SOCK.
	UseAgent bool `yaml:"use_agent"`
	// KnownHostsFile verifies every node's and jump host's key. It
	// defaults to ~/.ssh/known_hosts. Host keys are always verified.
	KnownHostsFile string `yaml:"known_hosts_file"`
	// User is the login user for nodes that do not set one. Default root.
	User string `yaml:"user"`
}

// App configures the Kubernetes layer.
type App struct {
	// Enabled can switch the layer off while keeping its settings.
	Enabled Switch `yaml:"enabled"`
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
	Timeout Duration `yaml:"timeout"`
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

// IgnoreRule is an ignore rule; see ignore.Rule.
type IgnoreRule = ignore.Rule

// Apply configures apply mode. It never runs unless asked.
type Apply struct {
	// Enabled allows `driftd apply`. It defaults to false.
	Enabled bool `yaml:"enabled"`
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
