//go:build integration

package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/internal/drifttest"
	"github.com/driftd/driftd/pkg/drift"
)

const (
	etcdPath   = "/etc/kubernetes/manifests/etcd.yaml"
	reloadsLog = "/etc/driftd-test-reloads"
)

// applyCluster is newCluster with an extra manifest on node1 that stays in
// sync, and a reload command that leaves a trace on the node (the test
// nodes run no systemd).
func applyCluster(t *testing.T) *cluster {
	t.Helper()
	c := newCluster(t)
	if err := c.sshd.OnNode(0, "sh", "-c", "printf 'kind: Pod\\n' > "+etcdPath); err != nil {
		t.Fatal(err)
	}
	writeTree(t, c.repo, map[string]string{"nodes/roles/control-plane" + etcdPath: "kind: Pod\n"})
	c.cfg.Apply.ReloadCommand = "echo reload >> " + reloadsLog
	return c
}

func (c *cluster) layer() *Layer {
	c.t.Helper()
	l, err := New(c.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		c.t.Fatal(err)
	}
	return l
}

func (c *cluster) checkWith(l *Layer) map[string]drift.TargetResult {
	c.t.Helper()
	res, err := l.Check(c.t.Context(), drift.Snapshot{Dir: c.repo})
	if err != nil {
		c.t.Fatal(err)
	}
	return drifttest.ByName(res)
}

// onNode runs a command on node i and returns what it printed.
func (c *cluster) onNode(i int, args ...string) string {
	c.t.Helper()
	out, err := c.sshd.OutputOnNode(i, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return string(out)
}

// nodeStamp shows whether a file on a node was touched: its inode, mode,
// owner and modification time.
func (c *cluster) nodeStamp(i int, p string) string {
	return c.onNode(i, "stat", "-c", "%i %a %U:%G %y", p)
}

// nodeTemps lists apply's temporary files in the node's managed
// directories.
func (c *cluster) nodeTemps(i int) []string {
	var out []string
	for _, line := range strings.Split(c.onNode(i, "ls", "-a", "/etc/kubernetes/manifests", "/etc/systemd/system/kubelet.service.d"), "\n") {
		if isTemp(strings.TrimSpace(line)) {
			out = append(out, line)
		}
	}
	return out
}

// TestNodeApplySSH drifts two files on one node over real SSH, applies, and
// finds the next check in sync, with every other file untouched.
func TestNodeApplySSH(t *testing.T) {
	c := applyCluster(t)
	l := c.layer()
	for name, r := range c.checkWith(l) {
		if r.Status != drift.StatusInSync {
			t.Fatalf("%s before drift: %s %q %v", name, r.Status, r.Error, r.Findings)
		}
	}
	untouched := map[[2]string]string{}
	for _, f := range []struct {
		node int
		path string
	}{{0, etcdPath}, {1, flagsPath}, {2, flagsPath}} {
		untouched[[2]string{f.path, c.sshd.Nodes[f.node].Name}] = c.nodeStamp(f.node, f.path)
	}

	edited := strings.Replace(flags("127.0.10.1"), "--max-pods=110", "--max-pods=110 --v=4", 1)
	if err := c.sshd.OnNode(0, "sh", "-c", "printf '%s' '"+edited+"' > "+flagsPath+" && chmod 600 "+flagsPath); err != nil {
		t.Fatal(err)
	}
	if err := c.sshd.OnNode(0, "rm", manifestPath); err != nil {
		t.Fatal(err)
	}
	res := c.checkWith(l)
	want := []string{"node1 missing " + manifestPath, "node1 changed " + flagsPath}
	if diff := cmp.Diff(want, findingList(res)); diff != "" {
		t.Fatalf("findings (-want +got):\n%s", diff)
	}
	sessions, _ := c.sshd.Sessions(0)

	target := res["node1"]
	out := l.Apply(t.Context(), drift.Snapshot{Dir: c.repo}, target, drift.ApplyRequest{Findings: target.Findings})
	wantRes := []string{"applied create " + manifestPath, "applied restore " + flagsPath, "applied reload systemd"}
	if diff := cmp.Diff(wantRes, results(out)); diff != "" {
		t.Fatalf("apply (-want +got):\n%s", diff)
	}

	// One connection: a session per file and one for the reload.
	if after, _ := c.sshd.Sessions(0); after-sessions != 3 {
		t.Errorf("%d sessions for the apply, want 3", after-sessions)
	}

	for name, r := range c.checkWith(l) {
		if r.Status != drift.StatusInSync {
			t.Errorf("%s after apply: %s %q %v", name, r.Status, r.Error, r.Findings)
		}
	}
	if got := c.onNode(0, "cat", flagsPath); got != flags("127.0.10.1") {
		t.Errorf("%s holds %q", flagsPath, got)
	}
	if got := c.onNode(0, "cat", manifestPath); got != manifest("127.0.10.1") {
		t.Errorf("%s holds %q", manifestPath, got)
	}
	if got := c.onNode(0, "stat", "-c", "%a %U:%G", flagsPath, manifestPath); got != "644 root:root\n644 root:root\n" {
		t.Errorf("modes and owners: %q", got)
	}
	for k, before := range untouched {
		i := map[string]int{"node1": 0, "node2": 1, "node3": 2}[k[1]]
		if after := c.nodeStamp(i, k[0]); after != before {
			t.Errorf("%s:%s was touched: %s, then %s", k[1], k[0], before, after)
		}
	}
	if got := c.onNode(0, "cat", reloadsLog); got != "reload\n" {
		t.Errorf("reload on node1: %q, want once", got)
	}
	for i := 1; i < 3; i++ {
		if _, err := c.sshd.OutputOnNode(i, "cat", reloadsLog); err == nil {
			t.Errorf("node%d was reloaded", i+1)
		}
	}
	if tmp := c.nodeTemps(0); len(tmp) > 0 {
		t.Errorf("temporary files left on node1: %v", tmp)
	}
}

// cutWriter passes on half of the first content written, waits until the
// node has begun writing it to its temporary file, then drops the
// connection (by ending the apply's context), as a network failure would
// mid-write.
type cutWriter struct {
	w    io.Writer
	once *sync.Once
	cut  func()
}

func (c cutWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return c.w.Write(p)
	}
	n := 0
	var err error
	c.once.Do(func() {
		n, err = c.w.Write(p[:len(p)/2])
		c.cut()
		if err == nil {
			err = errors.New("connection dropped by the test")
		}
	})
	if n == 0 && err == nil {
		return c.w.Write(p)
	}
	return n, err
}

// TestNodeApplySSHDroppedConnection: a node write cut off by a dropped
// connection leaves the old file whole and no temporary file behind, and
// the next check reports the drift as before; the next apply restores it.
func TestNodeApplySSHDroppedConnection(t *testing.T) {
	c := applyCluster(t)
	// A scope that would show a temporary file left in the directory.
	c.cfg.Scopes = []string{"/etc/systemd/system/*.d/*.conf", "/etc/kubernetes/manifests/*"}
	l := c.layer()
	edited := strings.Replace(manifest("127.0.10.1"), "kube-apiserver\n", "kube-apiserver\n    - --v=4\n", 1)
	if err := c.sshd.OnNode(0, "sh", "-c", "printf '%s' '"+edited+"' > "+manifestPath); err != nil {
		t.Fatal(err)
	}
	before := c.checkWith(l)
	want := []string{"node1 changed " + manifestPath}
	if diff := cmp.Diff(want, findingList(before)); diff != "" {
		t.Fatalf("findings (-want +got):\n%s", diff)
	}
	stampBefore := c.nodeStamp(0, manifestPath)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	l.stdinWrap = func(w io.Writer) io.Writer {
		return cutWriter{w: w, once: &sync.Once{}, cut: func() {
			// Wait for the node's temporary file to hold the first part.
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				out, _ := c.sshd.OutputOnNode(0, "sh", "-c", "for f in /etc/kubernetes/manifests/.driftd-*.tmp; do [ -s \"$f\" ] && echo \"$f\"; done")
				if len(out) > 0 {
					cancel()
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Error("the node never started writing the temporary file")
			cancel()
		}}
	}
	target := before["node1"]
	out := l.Apply(ctx, drift.Snapshot{Dir: c.repo}, target, drift.ApplyRequest{Findings: target.Findings})
	if len(out) != 1 || out[0].Result != drift.ResultFailed || !strings.Contains(out[0].Reason, "context canceled") {
		t.Fatalf("a write cut off: %v", results(out))
	}

	// The node's side notices the cut, finds the content short, and
	// removes its temporary file; the old file was never replaced.
	deadline := time.Now().Add(10 * time.Second)
	for len(c.nodeTemps(0)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if tmp := c.nodeTemps(0); len(tmp) > 0 {
		t.Errorf("temporary files left on node1: %v", tmp)
	}
	if got := c.onNode(0, "cat", manifestPath); got != edited {
		t.Errorf("the old file is not whole: %q", got)
	}
	if after := c.nodeStamp(0, manifestPath); after != stampBefore {
		t.Errorf("the old file was touched: %s, then %s", stampBefore, after)
	}
	if _, err := c.sshd.OutputOnNode(0, "cat", reloadsLog); err == nil {
		t.Errorf("reloaded after a failed write")
	}
	after := c.checkWith(l)
	if diff := cmp.Diff(findingList(before), findingList(after)); diff != "" {
		t.Errorf("the next check (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before["node1"].Findings[0].Diff, after["node1"].Findings[0].Diff); diff != "" {
		t.Errorf("the next check's diff (-before +after):\n%s", diff)
	}

	// A temporary file that a killed write left behind is seen by the
	// check (it is in scope), and cleared by the next apply.
	if err := c.sshd.OnNode(0, "sh", "-c", "printf 'kind: Po' > /etc/kubernetes/manifests/.driftd-0123456789abcdef.tmp"); err != nil {
		t.Fatal(err)
	}
	l.stdinWrap = nil
	res := c.checkWith(l)
	want = []string{"node1 unmanaged /etc/kubernetes/manifests/.driftd-0123456789abcdef.tmp", "node1 changed " + manifestPath}
	if diff := cmp.Diff(want, findingList(res)); diff != "" {
		t.Fatalf("findings with a stale temporary file (-want +got):\n%s", diff)
	}
	// Without prune, apply mode passes only the changed file; the write
	// removes the stale file in its directory.
	target = res["node1"]
	changed := slices.DeleteFunc(slices.Clone(target.Findings), func(f drift.Finding) bool { return f.Change == drift.ChangeUnmanaged })
	out = l.Apply(t.Context(), drift.Snapshot{Dir: c.repo}, target, drift.ApplyRequest{Findings: changed})
	if diff := cmp.Diff([]string{"applied restore " + manifestPath}, results(out)); diff != "" {
		t.Fatalf("apply (-want +got):\n%s", diff)
	}
	for name, r := range c.checkWith(l) {
		if r.Status != drift.StatusInSync {
			t.Errorf("%s after apply: %s %q %v", name, r.Status, r.Error, findingList(map[string]drift.TargetResult{name: r}))
		}
	}
}
