package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
)

// Transport reads from nodes what a Request asks for. Adding a transport is
// implementing this interface and adding a case to newTransport.
type Transport interface {
	// Nodes selects, from the inventory, the nodes this transport can
	// reach.
	Nodes(inv *Inventory) ([]Host, error)
	// Fetch reads req from node h within ctx, bounded by lim.
	Fetch(ctx context.Context, inv *Inventory, h Host, req Request, lim Limits) (Snapshot, error)
}

// newTransport builds the configured transport, loading its credentials
// now so that a bad setting fails at start rather than at the first check.
func newTransport(cfg Config) (Transport, error) {
	switch cfg.Transport {
	case "local":
		node := cfg.LocalNode
		if node == "" {
			node = os.Getenv("NODE_NAME")
		}
		if node == "" {
			return nil, fmt.Errorf("transport local needs local_node or $NODE_NAME")
		}
		return localTransport{root: cfg.LocalRoot, node: node, inventory: cfg.Inventory}, nil
	case "ssh", "":
		c, err := NewSSHClient(cfg.SSH.KeyFile, cfg.SSH.UseAgent, cfg.SSH.KnownHostsFile, cfg.SSH.User)
		if err != nil {
			return nil, err
		}
		return sshTransport{c: c}, nil
	default:
		return nil, fmt.Errorf("unknown transport %q", cfg.Transport)
	}
}

// sshTransport reads every node over one SSH session.
type sshTransport struct{ c *SSHClient }

func (t sshTransport) Nodes(inv *Inventory) ([]Host, error) { return inv.Nodes, nil }

func (t sshTransport) Fetch(ctx context.Context, inv *Inventory, h Host, req Request, lim Limits) (Snapshot, error) {
	var jump *Endpoint
	if h.Jump != "" {
		j := inv.JumpHosts[h.Jump]
		jump = &j
	}
	var snap Snapshot
	err := t.c.Run(ctx, h.Endpoint, jump, req.Command(), func(r io.Reader) error {
		var err error
		snap, err = Parse(r, lim)
		return err
	})
	return snap, err
}

// localTransport reads the node driftd runs on, through its mounted root,
// as a DaemonSet does.
type localTransport struct {
	root, node, inventory string
}

func (t localTransport) Nodes(inv *Inventory) ([]Host, error) {
	nodes := slices.DeleteFunc(slices.Clone(inv.Nodes), func(h Host) bool { return h.Name != t.node })
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%s: node %s (the local node) is not in the inventory", t.inventory, t.node)
	}
	return nodes, nil
}

func (t localTransport) Fetch(_ context.Context, _ *Inventory, _ Host, req Request, lim Limits) (Snapshot, error) {
	return ReadLocal(t.root, req, lim)
}
