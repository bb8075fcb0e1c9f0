package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/repofs"
)

// Layer checks nodes.
type Layer struct {
	cfg       Config
	transport Transport
	logger    *slog.Logger
	// synced remembers what each file held when its node last matched
	// Git (nil: nothing is remembered).
	synced *syncedMemory
	// allowed, when set, maps each node that may be contacted to how it is
	// reached (see Reach); other nodes are reported, not contacted.
	allowed map[string]string
	// stdinWrap, in tests, wraps what apply writes to a node's stdin.
	stdinWrap func(io.Writer) io.Writer
}

// Reach describes how a node is reached: its endpoint and its jump host's.
// Two inventories that give a node the same Reach send driftd to the same
// place with the same user.
func Reach(inv *Inventory, h Host) string {
	// Quoted, so that no value can pass for another part.
	r := fmt.Sprintf("%q:%d@%q", h.Address, h.Port, h.User)
	if h.Jump != "" {
		j := inv.JumpHosts[h.Jump]
		r += fmt.Sprintf(" via %q:%d@%q", j.Address, j.Port, j.User)
	}
	return r
}

// OnlyReach restricts the layer to the nodes of allowed (name → Reach), as
// a check of a pull request does with the base's inventory: a node the pull
// request adds, or sends elsewhere, is reported as not checked and never
// contacted.
func (l *Layer) OnlyReach(allowed map[string]string) { l.allowed = allowed }

// New returns the node layer with its transport, whose credentials are
// loaded now, so that a bad setting fails at start rather than at the
// first check.
func New(cfg Config, logger *slog.Logger) (*Layer, error) {
	t, err := newTransport(cfg)
	if err != nil {
		return nil, fmt.Errorf("node layer: %w", err)
	}
	return &Layer{cfg: cfg, transport: t, logger: logger}, nil
}

// Name implements drift.Layer.
func (l *Layer) Name() drift.LayerName { return drift.LayerNode }

// Check reads the inventory from the snapshot, then fetches and compares
// every node, at most cfg.Parallelism at once and each under its own
// timeout. A node that cannot be reached is unknown; the others are checked.
func (l *Layer) Check(ctx context.Context, snap drift.Snapshot) ([]drift.TargetResult, error) {
	rfs, err := repofs.Open(snap.Dir, snap.MaxFileSize)
	if err != nil {
		return nil, err
	}
	defer rfs.Close()
	inv, err := LoadInventory(rfs, l.cfg.Inventory)
	if err != nil {
		return nil, err
	}
	nodes, err := l.transport.Nodes(inv)
	if err != nil {
		return nil, err
	}
	roles := LoadRoles(rfs, l.cfg.RolesDir, l.cfg.Scopes, inv)
	res := drift.CheckEach(ctx, len(nodes), l.cfg.Parallelism, "node",
		func(i int) string { return nodes[i].Name },
		func(ctx context.Context, i int) drift.TargetResult { return l.checkNode(ctx, roles, inv, nodes[i]) })
	l.synced.save()
	return res, nil
}

func (l *Layer) checkNode(ctx context.Context, roles *Roles, inv *Inventory, h Host) drift.TargetResult {
	if r, ok := l.allowed[h.Name]; l.allowed != nil && (!ok || r != Reach(inv, h)) {
		return drift.Fail(h.Name, fmt.Errorf("node %s: not contacted: the pull request adds this node or changes how it is reached, and a pull request does not choose where driftd connects", Escape(h.Name)))
	}
	start := time.Now()
	res := l.checkNodeTimed(ctx, roles, inv, h)
	res.Duration = time.Since(start)
	return res
}

func (l *Layer) checkNodeTimed(ctx context.Context, roles *Roles, inv *Inventory, h Host) drift.TargetResult {
	res := drift.TargetResult{Name: h.Name}

	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout.Std())
	defer cancel()
	desired, err := roles.Desired(ctx, inv, h)
	if err != nil {
		res.Error = fmt.Sprintf("node %s: desired files: %v", h.Name, err)
		return res
	}
	req := Request{Scopes: l.cfg.Scopes, Paths: sortedPaths(desired), Units: Units(desired)}
	for _, p := range req.Paths {
		res.Managed = append(res.Managed, Escape(p))
	}
	for _, u := range req.Units {
		res.Managed = append(res.Managed, "systemd:"+u)
	}

	got, err := l.transport.Fetch(ctx, inv, h, req, l.limits())
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s: %w", l.cfg.Timeout.Std(), err)
		}
		res.Error = fmt.Sprintf("node %s (%s): %v", h.Name, hostPort(h.Endpoint), err)
		l.logger.Warn("node check failed", "target", h.Name, "err", res.Error)
		return res
	}
	res.Findings = Compare(h.Name, desired, got, l.cfg.Scopes, l.cfg.UnmanagedContent == "diff")
	l.synced.observe(h.Name, desired, got, res.Findings)
	if len(res.Findings) > 0 {
		res.Private = newRecord(inv, h, desired, got, res.Findings)
	}
	return res
}

// limits returns the bounds on what one node may send.
func (l *Layer) limits() Limits {
	return Limits{MaxFileSize: int64(l.cfg.MaxFileSize), MaxNodeSize: int64(l.cfg.MaxNodeSize)}
}
