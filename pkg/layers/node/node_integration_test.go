//go:build integration

package node

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/internal/drifttest"
	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

const (
	flagsPath    = "/etc/systemd/system/kubelet.service.d/10-flags.conf"
	manifestPath = "/etc/kubernetes/manifests/kube-apiserver.yaml"
)

func flags(ip string) string {
	return "[Service]\nEnvironment=\"KUBELET_EXTRA_ARGS=--node-ip=" + ip + " --max-pods=110\"\n"
}

func manifest(addr string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\nspec:\n  containers:\n  - command:\n    - kube-apiserver\n    - --advertise-address=" + addr + "\n"
}

// cluster is a config repo and three real sshd nodes whose files match it.
type cluster struct {
	t    *testing.T
	repo string
	sshd *testenv.SSHD
	cfg  Config
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	state := t.TempDir()
	// Every node gets the base role; node1 is also a control-plane node.
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("node%d", i)
		addr := fmt.Sprintf("127.0.10.%d", i)
		etc := testenv.NodeEtc(state, name)
		writeTree(t, etc, map[string]string{strings.TrimPrefix(flagsPath, "/etc/"): flags(addr)})
		if err := os.MkdirAll(filepath.Join(etc, "kubernetes", "manifests"), 0o755); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			writeTree(t, etc, map[string]string{strings.TrimPrefix(manifestPath, "/etc/"): manifest(addr)})
		}
	}
	s := testenv.SSHDForTestIn(t, state, 3)
	repo := t.TempDir()
	var inv strings.Builder
	inv.WriteString("vars:\n  max_pods: 110\nnodes:\n")
	for i, n := range s.Nodes {
		roles := "[base]"
		if i == 0 {
			roles = "[base, control-plane]"
		}
		fmt.Fprintf(&inv, "  - name: %s\n    address: %s\n    port: %d\n    roles: %s\n    vars: {node_ip: %q}\n", n.Name, n.Addr, s.Port, roles, n.Addr)
	}
	writeTree(t, repo, map[string]string{
		"nodes/inventory.yaml":                     inv.String(),
		"nodes/roles/base" + flagsPath:             "[Service]\nEnvironment=\"KUBELET_EXTRA_ARGS=--node-ip={{ .Vars.node_ip }} --max-pods={{ .Vars.max_pods }}\"\n",
		"nodes/roles/control-plane" + manifestPath: strings.Replace(manifest("X"), "X", "{{ .Node.Address }}", 1),
	})
	cfg := Config{
		Inventory:   "nodes/inventory.yaml",
		RolesDir:    "nodes/roles",
		Scopes:      []string{"/etc/systemd/system/*.d/*.conf", "/etc/kubernetes/manifests/*.yaml"},
		Transport:   "ssh",
		SSH:         SSHConfig{KeyFile: s.KeyFile, KnownHostsFile: s.KnownHosts, User: s.User},
		Parallelism: 8,
		Timeout:     yamlconf.Duration(10 * time.Second),
	}
	return &cluster{t: t, repo: repo, sshd: s, cfg: cfg}
}

func (c *cluster) check() map[string]drift.TargetResult {
	c.t.Helper()
	l, err := New(c.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		c.t.Fatal(err)
	}
	res, err := l.Check(c.t.Context(), drift.Snapshot{Dir: c.repo})
	if err != nil {
		c.t.Fatal(err)
	}
	return drifttest.ByName(res)
}

func (c *cluster) etc(node int, p string) string {
	return filepath.Join(c.sshd.Nodes[node].EtcDir, strings.TrimPrefix(p, "/etc/"))
}

func findingList(res map[string]drift.TargetResult) []string { return drifttest.Findings(res, true) }

func TestNodesInSyncThenDrift(t *testing.T) {
	c := newCluster(t)
	res := c.check()
	for name, r := range res {
		if r.Status != drift.StatusInSync {
			t.Fatalf("%s: %s %q %v (templates must render per node without false drift)", name, r.Status, r.Error, findingList(res))
		}
	}
	if len(res) != 3 {
		t.Fatalf("%d nodes checked, want 3", len(res))
	}

	// One round trip per node per check: one session on each sshd.
	for i := range c.sshd.Nodes {
		if n, err := c.sshd.Sessions(i); err != nil || n != 1 {
			t.Errorf("node%d: %d SSH sessions for one check (err %v), want 1", i+1, n, err)
		}
	}

	// A flag added by hand on node2, a manifest deleted on node1, and an
	// extra drop-in dropped in on node3.
	edited := strings.Replace(flags("127.0.10.2"), "--max-pods=110", "--max-pods=110 --v=4", 1)
	if err := c.sshd.OnNode(1, "sh", "-c", "printf '%s' '"+edited+"' > "+flagsPath); err != nil {
		t.Fatal(err)
	}
	if err := c.sshd.OnNode(0, "rm", manifestPath); err != nil {
		t.Fatal(err)
	}
	if err := c.sshd.OnNode(2, "sh", "-c", "printf '[Service]\\nEnvironment=DEBUG=1\\n' > /etc/systemd/system/kubelet.service.d/99-debug.conf"); err != nil {
		t.Fatal(err)
	}
	res = c.check()
	want := []string{
		"node1 missing " + manifestPath,
		"node2 changed " + flagsPath,
		"node3 unmanaged /etc/systemd/system/kubelet.service.d/99-debug.conf",
	}
	if diff := cmp.Diff(want, findingList(res)); diff != "" {
		t.Fatalf("findings (-want +got):\n%s", diff)
	}
	wantDiff := `--- git:/etc/systemd/system/kubelet.service.d/10-flags.conf
+++ node2:/etc/systemd/system/kubelet.service.d/10-flags.conf
@@ -1,2 +1,2 @@
 [Service]
-Environment="KUBELET_EXTRA_ARGS=--node-ip=127.0.10.2 --max-pods=110"
+Environment="KUBELET_EXTRA_ARGS=--node-ip=127.0.10.2 --max-pods=110 --v=4"
`
	if diff := cmp.Diff(wantDiff, res["node2"].Findings[0].Diff); diff != "" {
		t.Errorf("node2 diff (-want +got):\n%s", diff)
	}
	for i := range c.sshd.Nodes {
		if n, _ := c.sshd.Sessions(i); n != 2 {
			t.Errorf("node%d: %d sessions after two checks, want 2", i+1, n)
		}
	}
}

func TestNodeDownOthersChecked(t *testing.T) {
	c := newCluster(t)
	if err := c.sshd.StopNode(2); err != nil {
		t.Fatal(err)
	}
	res := c.check()
	if r := res["node3"]; r.Status != drift.StatusUnknown || !strings.Contains(r.Error, "node node3 (127.0.10.3:") || !strings.Contains(r.Error, "connection refused") {
		t.Errorf("stopped node: %s %q", r.Status, r.Error)
	}
	for _, n := range []string{"node1", "node2"} {
		if res[n].Status != drift.StatusInSync {
			t.Errorf("%s: %s %q", n, res[n].Status, res[n].Error)
		}
	}
}

func TestNodeWrongHostKeyRefused(t *testing.T) {
	c := newCluster(t)
	// known_hosts pairs node2's address with node1's key.
	b, err := os.ReadFile(c.sshd.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	key1 := strings.SplitN(lines[0], " ", 2)[1]
	lines[1] = strings.SplitN(lines[1], " ", 2)[0] + " " + key1
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.cfg.SSH.KnownHostsFile = kh
	res := c.check()
	r := res["node2"]
	if r.Status != drift.StatusUnknown || !strings.Contains(r.Error, "host key verification failed") || !strings.Contains(r.Error, "does not match "+kh) {
		t.Errorf("node2 with a wrong host key: %s %q", r.Status, r.Error)
	}
	if n, _ := c.sshd.Sessions(1); n != 0 {
		t.Errorf("node2: %d sessions opened despite the wrong host key; nothing may be read", n)
	}
	if res["node1"].Status != drift.StatusInSync || res["node3"].Status != drift.StatusInSync {
		t.Errorf("other nodes: %s %s", res["node1"].Status, res["node3"].Status)
	}
}

func TestNodeLocalTransport(t *testing.T) {
	c := newCluster(t)
	// The host root as a DaemonSet would mount it: node2's tree.
	root := filepath.Dir(c.sshd.Nodes[1].EtcDir)
	c.cfg.Transport, c.cfg.LocalRoot, c.cfg.LocalNode = "local", root, "node2"
	res := c.check()
	if len(res) != 1 || res["node2"].Status != drift.StatusInSync {
		t.Fatalf("local transport: %+v", res)
	}
	if err := os.WriteFile(c.etc(1, flagsPath), []byte("[Service]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(c.etc(1, flagsPath), 0o600); err != nil {
		t.Fatal(err)
	}
	res = c.check()
	if got := findingList(res); !cmp.Equal(got, []string{"node2 changed " + flagsPath}) {
		t.Errorf("local transport findings: %v", got)
	}
	if d := res["node2"].Findings[0].Diff; !strings.HasPrefix(d, "# mode 0644 in Git, 0600 on the node\n--- git:") {
		t.Errorf("diff does not report the mode change first:\n%s", d)
	}
}

func TestNodeThroughJumpHost(t *testing.T) {
	b := testenv.BastionForTest(t)
	bastion, private := b.Nodes[0], b.Nodes[1]
	if err := b.OnNode(1, "sh", "-c", "mkdir -p /etc/kubernetes/manifests && printf 'kind: Pod\\n' > /etc/kubernetes/manifests/etcd.yaml"); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	writeTree(t, repo, map[string]string{
		"nodes/inventory.yaml": fmt.Sprintf("jump_hosts:\n  bastion:\n    address: %s\n    port: %d\nnodes:\n  - name: private\n    address: %s\n    port: %d\n    roles: [etcd]\n    jump: bastion\n",
			bastion.Addr, b.Port, private.Addr, b.Port),
		"nodes/roles/etcd/etc/kubernetes/manifests/etcd.yaml": "kind: Pod\n",
	})
	cfg := Config{
		Inventory: "nodes/inventory.yaml", RolesDir: "nodes/roles", Transport: "ssh",
		Scopes:      []string{"/etc/kubernetes/manifests/*.yaml"},
		SSH:         SSHConfig{KeyFile: b.KeyFile, KnownHostsFile: b.KnownHosts, User: b.User},
		Parallelism: 2, Timeout: yamlconf.Duration(10 * time.Second),
	}
	l, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	check := func() drift.TargetResult {
		res, err := l.Check(t.Context(), drift.Snapshot{Dir: repo})
		if err != nil || len(res) != 1 {
			t.Fatalf("check: %v %v", res, err)
		}
		res[0].Normalize()
		return res[0]
	}
	if r := check(); r.Status != drift.StatusInSync {
		t.Fatalf("private node through the bastion: %s %q %v", r.Status, r.Error, r.Findings)
	}
	if err := b.OnNode(1, "sh", "-c", "printf 'kind: Pod\\nspec: {hostNetwork: true}\\n' > /etc/kubernetes/manifests/etcd.yaml"); err != nil {
		t.Fatal(err)
	}
	if r := check(); r.Status != drift.StatusDrifted || r.Findings[0].Object != "/etc/kubernetes/manifests/etcd.yaml" {
		t.Errorf("drift on the private node: %s %q %v", r.Status, r.Error, r.Findings)
	}

	// Without the jump host the private node cannot be reached at all.
	writeTree(t, repo, map[string]string{"nodes/inventory.yaml": fmt.Sprintf("nodes:\n  - name: private\n    address: %s\n    port: %d\n    roles: [etcd]\n", private.Addr, b.Port)})
	if r := check(); r.Status != drift.StatusUnknown {
		t.Errorf("private node reached directly: %s; the topology is not isolated", r.Status)
	}
}
