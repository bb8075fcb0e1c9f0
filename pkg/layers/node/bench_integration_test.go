//go:build integration

package node

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// benchFiles are the 10 managed files of every benchmark node: 5 drop-ins
// and 5 static pod manifests, each carrying the node's address.
func benchFiles() []string {
	var out []string
	for i := range 5 {
		out = append(out, fmt.Sprintf("/etc/systemd/system/svc%d.service.d/10-flags.conf", i))
		out = append(out, fmt.Sprintf("/etc/kubernetes/manifests/pod%d.yaml", i))
	}
	return out
}

func benchContent(path, ip string) string {
	return fmt.Sprintf("# managed by driftd: %s\n[Service]\nEnvironment=\"NODE_IP=%s\"\nEnvironment=\"ARGS=--flag-a --flag-b=%s --v=2\"\n", path, ip, ip)
}

// fleet is n sshd nodes whose 10 files match a repo, with the same data
// also written as an Ansible playbook.
type fleet struct {
	sshd  *testenv.SSHD
	repo  string
	layer *Layer
}

func newFleet(b *testing.B, n int) *fleet {
	state := b.TempDir()
	for i := 1; i <= n; i++ {
		ip := fmt.Sprintf("127.0.10.%d", i)
		etc := testenv.NodeEtc(state, fmt.Sprintf("node%d", i))
		for _, p := range benchFiles() {
			full := filepath.Join(etc, strings.TrimPrefix(p, "/etc/"))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(benchContent(p, ip)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	s := testenv.SSHDForTestIn(b, state, n)
	repo := b.TempDir()
	var inv strings.Builder
	inv.WriteString("nodes:\n")
	for _, nd := range s.Nodes {
		fmt.Fprintf(&inv, "  - {name: %s, address: %s, port: %d, roles: [worker], vars: {node_ip: %q}}\n", nd.Name, nd.Addr, s.Port, nd.Addr)
	}
	files := map[string]string{"nodes/inventory.yaml": inv.String()}
	for _, p := range benchFiles() {
		files["nodes/roles/worker"+p] = benchContent(p, "{{ .Vars.node_ip }}")
	}
	for p, c := range files {
		full := filepath.Join(repo, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg := Config{
		Inventory: "nodes/inventory.yaml", RolesDir: "nodes/roles", Transport: "ssh",
		Scopes:      []string{"/etc/systemd/system/*.d/*.conf", "/etc/kubernetes/manifests/*.yaml"},
		SSH:         SSHConfig{KeyFile: s.KeyFile, KnownHostsFile: s.KnownHosts, User: s.User},
		Parallelism: n, Timeout: yamlconf.Duration(time.Minute),
	}
	l, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	return &fleet{sshd: s, repo: repo, layer: l}
}

func (f *fleet) driftd(b *testing.B) {
	res, err := f.layer.Check(b.Context(), drift.Snapshot{Dir: f.repo})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res {
		r.Normalize()
		if r.Status != drift.StatusInSync {
			b.Fatalf("%s: %s %s", r.Name, r.Status, r.Error)
		}
	}
}

// sshCat is the floor: one `ssh node cat FILES` per node, all in parallel.
func (f *fleet) sshCat(b *testing.B) {
	files := benchFiles()
	var wg sync.WaitGroup
	for _, nd := range f.sshd.Nodes {
		wg.Go(func() {
			args := []string{"-i", f.sshd.KeyFile, "-o", "UserKnownHostsFile=" + f.sshd.KnownHosts, "-o", "StrictHostKeyChecking=yes",
				"-o", "BatchMode=yes", "-p", fmt.Sprint(f.sshd.Port), "root@" + nd.Addr, "cat"}
			if out, err := exec.Command("ssh", append(args, files...)...).CombinedOutput(); err != nil {
				b.Errorf("ssh %s: %v\n%s", nd.Name, err, out)
			}
		})
	}
	wg.Wait()
}

// ansible writes the equivalent playbook (10 template tasks) and runs
// ansible-playbook --check --diff over the same nodes and keys.
func (f *fleet) ansible(b *testing.B) func() {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		testenv.Unavailable(b, "ansible-playbook: %v (testenv/install.sh bench)", err)
	}
	dir := b.TempDir()
	var inv strings.Builder
	inv.WriteString("[nodes]\n")
	for _, nd := range f.sshd.Nodes {
		fmt.Fprintf(&inv, "%s ansible_host=%s ansible_port=%d node_ip=%s\n", nd.Name, nd.Addr, f.sshd.Port, nd.Addr)
	}
	var play strings.Builder
	play.WriteString("- hosts: nodes\n  gather_facts: false\n  tasks:\n")
	for i, p := range benchFiles() {
		tmpl := fmt.Sprintf("f%d.j2", i)
		if err := os.WriteFile(filepath.Join(dir, tmpl), []byte(benchContent(p, "{{ node_ip }}")), 0o644); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&play, "    - template: {src: %s, dest: %s, mode: '0644', owner: root, group: root}\n", tmpl, p)
	}
	cfg := fmt.Sprintf("[defaults]\nforks = %d\nhost_key_checking = True\nremote_user = root\nprivate_key_file = %s\ninterpreter_python = /usr/bin/python3\n"+
		"[ssh_connection]\npipelining = True\nssh_args = -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o ControlMaster=auto -o ControlPersist=60s\n",
		len(f.sshd.Nodes), f.sshd.KeyFile, f.sshd.KnownHosts)
	for name, body := range map[string]string{"inventory.ini": inv.String(), "site.yml": play.String(), "ansible.cfg": cfg} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return func() {
		cmd := exec.Command("ansible-playbook", "-i", "inventory.ini", "--check", "--diff", "site.yml")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "changed=0") {
			b.Fatalf("ansible-playbook: %v\n%s", err, out)
		}
	}
}

// timeBoth alternates two commands b.N times and reports both and the
// ratio of the first to the second.
func timeBoth(b *testing.B, aName string, a func(), bName string, other func()) {
	var ta, tb time.Duration
	b.ResetTimer()
	for range b.N {
		s := time.Now()
		a()
		ta += time.Since(s)
		s = time.Now()
		other()
		tb += time.Since(s)
	}
	b.StopTimer()
	b.ReportMetric(ta.Seconds()/float64(b.N), aName+"-s/op")
	b.ReportMetric(tb.Seconds()/float64(b.N), bName+"-s/op")
	b.ReportMetric(ta.Seconds()/tb.Seconds(), "ratio")
}

// BenchmarkNodeVsSSHCat compares driftd with the floor of parallel
// `ssh node cat FILES`, at 10, 30 and 100 nodes of 10 files each.
func BenchmarkNodeVsSSHCat(b *testing.B) {
	for _, n := range []int{10, 30, 100} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			f := newFleet(b, n)
			f.driftd(b)
			f.sshCat(b)
			timeBoth(b, "driftd", func() { f.driftd(b) }, "sshcat", func() { f.sshCat(b) })
		})
	}
}

// BenchmarkNodeVsAnsible compares driftd with ansible-playbook --check
// --diff on 30 nodes of 10 files. Run it with -benchtime 1x: one Ansible
// run takes minutes.
func BenchmarkNodeVsAnsible(b *testing.B) {
	f := newFleet(b, 30)
	run := f.ansible(b)
	f.driftd(b)
	timeBoth(b, "driftd", func() { f.driftd(b) }, "ansible", run)
}
