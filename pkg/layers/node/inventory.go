package node

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/driftd/driftd/pkg/repofs"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// Inventory lists the nodes, as kept in the repo.
type Inventory struct {
	// JumpHosts are bastions that nodes can be reached through, by name.
	JumpHosts map[string]Endpoint `yaml:"jump_hosts"`
	// Vars apply to every node; a node's own vars override them.
	Vars map[string]any `yaml:"vars"`
	// Nodes lists the nodes.
	Nodes []Host `yaml:"nodes"`
}

// Endpoint is an SSH server.
type Endpoint struct {
	// Address is a host name or IP address.
	Address string `yaml:"address"`
	// Port defaults to 22.
	Port int `yaml:"port"`
	// User defaults to the layer's ssh.user.
	User string `yaml:"user"`
}

// Host is one node.
type Host struct {
	Endpoint `yaml:",inline"`
	// Name identifies the node; it is the target name in reports.
	Name string `yaml:"name"`
	// Roles select the desired files: the union of the roles' files.
	Roles []string `yaml:"roles"`
	// Vars are the node's template variables.
	Vars map[string]any `yaml:"vars"`
	// Jump names a jump host to reach the node through.
	Jump string `yaml:"jump"`
}

// LoadInventory reads and validates the inventory file name of the
// repository, through the jail rfs. A decoding error names the file and
// line and never quotes the file's content.
func LoadInventory(rfs *repofs.FS, name string) (*Inventory, error) {
	b, err := rfs.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	var inv Inventory
	if err := yamlconf.DecodeStrict(name, b, &inv); err != nil {
		return nil, errors.New(hideValues(err.Error()))
	}
	seen := map[string]bool{}
	for i, h := range inv.Nodes {
		switch {
		case h.Name == "":
			return nil, fmt.Errorf("%s: nodes[%d]: name is required", name, i)
		case seen[h.Name]:
			return nil, fmt.Errorf("%s: node %s: duplicate name", name, h.Name)
		case h.Address == "":
			return nil, fmt.Errorf("%s: node %s: address is required", name, h.Name)
		case h.Jump != "" && inv.JumpHosts[h.Jump].Address == "":
			return nil, fmt.Errorf("%s: node %s: jump host %q is not defined under jump_hosts", name, h.Name, h.Jump)
		}
		seen[h.Name] = true
	}
	return &inv, nil
}

// quotedValue matches what the YAML decoder quotes of a file's content.
var quotedValue = regexp.MustCompile("`[^`]*`")

// hideValues removes the values a YAML error quotes from the file: errors
// name the file and line, never the content, which may be a secret.
func hideValues(msg string) string { return quotedValue.ReplaceAllString(msg, "(value)") }
