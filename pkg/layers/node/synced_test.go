package node

import (
	"path/filepath"
	"testing"

	"github.com/driftd/driftd/pkg/drift"
)

// A node that still holds what last matched Git, while Git moved on, has a
// pending change (nobody deployed it); a node edited by hand has drift. The
// memory survives in its file.
func TestSyncedMemoryTellsPendingFromDrift(t *testing.T) {
	const p = "/etc/systemd/system/kubelet.service.d/10.conf"
	path := filepath.Join(t.TempDir(), "node-synced.json")
	check := func(git, live string) drift.Change {
		l := &Layer{}
		l.SetSyncedMemory(path)
		desired := map[string]File{p: {Path: p, Content: []byte(git), Mode: 0o644, Owner: "root", Group: "root"}}
		got := Snapshot{Files: map[string]File{p: {Path: p, Content: []byte(live), Mode: 0o644, Owner: "root", Group: "root"}}}
		findings := Compare("n1", desired, got, []string{"/etc/systemd/system/*.d/*.conf"}, false)
		l.synced.observe("n1", desired, got, findings)
		l.synced.save()
		if len(findings) == 0 {
			return ""
		}
		return findings[0].Change
	}
	if c := check("v1\n", "v1\n"); c != "" {
		t.Fatalf("in sync: %q", c)
	}
	if c := check("v2\n", "v1\n"); c != drift.ChangePending {
		t.Errorf("Git moved to v2, the node still holds v1 (last in sync): %q, want pending", c)
	}
	if c := check("v1\n", "hand\n"); c != drift.ChangeChanged {
		t.Errorf("the node was edited by hand: %q, want changed", c)
	}
}
