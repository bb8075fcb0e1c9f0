package node

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/driftd/driftd/pkg/yamlconf"
)

// Config configures the node layer.
type Config struct {
	// Enabled can switch the layer off while keeping its settings.
	Enabled yamlconf.Switch `yaml:"enabled"`
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
	SSH SSHConfig `yaml:"ssh"`
	// Parallelism bounds the nodes fetched at once. It defaults to 16.
	Parallelism int `yaml:"parallelism"`
	// Timeout bounds one node's fetch. It defaults to 30s.
	Timeout yamlconf.Duration `yaml:"timeout"`
	// MaxFileSize bounds one file read from a node. A larger file is a
	// finding ("too large to compare") without its content. It defaults
	// to 1Mi.
	MaxFileSize yamlconf.ByteSize `yaml:"max_file_size"`
	// MaxNodeSize bounds all that one node sends in a check; past it the
	// node is unknown. It defaults to 64Mi.
	MaxNodeSize yamlconf.ByteSize `yaml:"max_node_size"`
	// UnmanagedContent says how unmanaged files are reported: "hash" (the
	// default: name, size and SHA-256 only, since a file written by hand
	// may hold a credential) or "diff" (the whole content).
	UnmanagedContent string `yaml:"unmanaged_content"`
	// Apply configures apply mode for this layer.
	Apply ApplyConfig `yaml:"apply"`
}

// SSHConfig references the SSH credentials for nodes.
type SSHConfig struct {
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

// Defaults fills in what the section leaves out.
func (c *Config) Defaults() {
	if c.Inventory == "" {
		c.Inventory = "nodes/inventory.yaml"
	}
	if c.RolesDir == "" {
		c.RolesDir = "nodes/roles"
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"/etc/systemd/system/*.d/*.conf", "/etc/kubernetes/manifests/*.yaml"}
	}
	if c.Transport == "" {
		c.Transport = "ssh"
	}
	if c.Parallelism == 0 {
		c.Parallelism = 16
	}
	c.Timeout = c.Timeout.Or(30 * time.Second)
	c.MaxFileSize = c.MaxFileSize.Or(1 << 20)
	c.MaxNodeSize = c.MaxNodeSize.Or(64 << 20)
	if c.UnmanagedContent == "" {
		c.UnmanagedContent = "hash"
	}
	c.Apply.defaults()
}

// Validate reports the section's errors, with paths relative to it.
func (c *Config) Validate() []yamlconf.FieldError {
	var errs []yamlconf.FieldError
	add := func(msg string, path ...string) { errs = append(errs, yamlconf.FieldError{Path: path, Msg: msg}) }
	switch c.Transport {
	case "ssh":
	case "local":
		if c.LocalRoot == "" {
			add("required when transport is local", "local_root")
		}
	default:
		add(fmt.Sprintf("unknown transport %q: use ssh or local", c.Transport), "transport")
	}
	if c.UnmanagedContent != "hash" && c.UnmanagedContent != "diff" {
		add(fmt.Sprintf("unknown unmanaged_content %q: use hash or diff", c.UnmanagedContent), "unmanaged_content")
	}
	for i, s := range c.Scopes {
		if !strings.HasPrefix(s, "/") {
			add(fmt.Sprintf("scope %q must be an absolute path glob", s), "scopes", strconv.Itoa(i))
		} else if _, err := filepath.Match(s, "/"); err != nil {
			add(fmt.Sprintf("scope %q is not a valid glob: %v", s, err), "scopes", strconv.Itoa(i))
		}
	}
	for _, e := range c.Apply.validate() {
		e.Path = append([]string{"apply"}, e.Path...)
		errs = append(errs, e)
	}
	return errs
}
