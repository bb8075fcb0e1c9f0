//go:build integration

package node

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// sparse makes a file of size bytes on a node without using the disk: a
// node that reads it sends that many zero bytes.
func sparse(t *testing.T, c *cluster, node int, p string, size int64) {
	t.Helper()
	f, err := os.Create(c.etc(node, p))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// allocated runs f and returns how far the live heap grew above where it
// started, sampled every few milliseconds while f runs: what f made driftd
// hold in memory at its peak.
func allocated(f func()) uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	base, peak := m.HeapAlloc, m.HeapAlloc
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}
	}()
	f()
	close(done)
	<-sampled
	return peak - base
}

// TestHostileNodesBounded: a 200 MB file in a scope on one node, a node
// that streams without end (a 1 TB sparse file), and a file name with
// terminal escapes. Memory stays bounded, the per-node timeout ends the
// endless node on time, and the other nodes are still checked.
func TestHostileNodesBounded(t *testing.T) {
	c := newCluster(t)
	big := "/etc/kubernetes/manifests/big.yaml"
	sparse(t, c, 0, big, 200<<20)
	escaped := "/etc/kubernetes/manifests/\x1b]52;c;ZXZpbA==\x07x.yaml"
	if err := os.WriteFile(c.etc(2, escaped), []byte("kind: Pod\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Default bounds: the 200 MB file is too large for the node's total.
	c.cfg.MaxFileSize, c.cfg.MaxNodeSize = 1<<20, 64<<20
	var res map[string]drift.TargetResult
	grew := allocated(func() { res = c.check() })
	if grew > 48<<20 {
		t.Errorf("the check allocated %d MiB against a node sending 200 MB; want under 48 MiB of live heap", grew>>20)
	}
	t.Logf("a 200 MB file in a scope: %d MiB peak live heap during the whole check", grew>>20)
	if r := res["node1"]; r.Status != drift.StatusUnknown || !strings.Contains(r.Error, "max_node_size") || !strings.Contains(r.Error, big) {
		t.Errorf("node1: %s %q, want unknown naming max_node_size and the file", r.Status, r.Error)
	}
	if r := res["node2"]; r.Status != drift.StatusInSync {
		t.Errorf("node2: %s %q %v, want in sync", r.Status, r.Error, findingList(res))
	}
	r3 := res["node3"]
	if len(r3.Findings) != 1 || strings.ContainsAny(r3.Findings[0].Object+r3.Findings[0].Diff, "\x1b\x07") {
		t.Errorf("node3: %+v, want one unmanaged finding with its name escaped", r3.Findings)
	}

	// Larger per-node bound: the big file is a finding without content.
	c.cfg.MaxNodeSize = 256 << 20
	grew = allocated(func() { res = c.check() })
	if grew > 48<<20 {
		t.Errorf("allocated %d MiB; the big file's body must be skipped, not kept", grew>>20)
	}
	f := findingList(res)
	if r := res["node1"]; r.Status != drift.StatusDrifted || !strings.Contains(strings.Join(f, "\n"), "node1 unmanaged "+big) {
		t.Errorf("node1: %s %q %v, want the big file reported", r.Status, r.Error, f)
	}

	// A node that never stops sending: the timeout ends it on time.
	if err := os.Remove(c.etc(0, big)); err != nil {
		t.Fatal(err)
	}
	sparse(t, c, 1, big, 1<<40)
	c.cfg.MaxNodeSize = 1 << 50
	c.cfg.Timeout = yamlconf.Duration(2 * time.Second)
	start := time.Now()
	grew = allocated(func() { res = c.check() })
	took := time.Since(start)
	if took > 5*time.Second {
		t.Errorf("check took %s with a 2s per-node timeout", took)
	}
	if grew > 48<<20 {
		t.Errorf("allocated %d MiB against an endless node", grew>>20)
	}
	if r := res["node2"]; r.Status != drift.StatusUnknown || !strings.Contains(r.Error, "timed out") {
		t.Errorf("node2: %s %q, want unknown: timed out", r.Status, r.Error)
	}
	if r := res["node1"]; r.Status != drift.StatusInSync {
		t.Errorf("node1: %s %q, want in sync while node2 streams", r.Status, r.Error)
	}
	t.Logf("endless node: check ended after %s, %d MiB peak live heap", took.Round(10*time.Millisecond), grew>>20)
}
