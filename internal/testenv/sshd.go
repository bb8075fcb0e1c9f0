package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SSHNode is one sshd "node" with its own /etc.
type SSHNode struct {
	// Name is the node's hostname, node1 to nodeN.
	Name string
	// Addr is its loopback address.
	Addr string
	// EtcDir is the host directory overlaid on the node's /etc.
	EtcDir string
	// LogFile is the node's sshd log.
	LogFile string
}

// SSHD is a running set of sshd nodes.
type SSHD struct {
	// Port is the port every node listens on.
	Port int
	// User is the login user.
	User string
	// KeyFile is the client's private key.
	KeyFile string
	// KnownHosts holds every node's host key.
	KnownHosts string
	// Nodes lists the nodes in order.
	Nodes []SSHNode
	// State is the environment's state directory.
	State string
}

// BastionForTest starts a bastion and a private node behind it, in network
// namespaces, with testenv/sshd/bastion.sh, for one test. Nodes[0] is the
// bastion and Nodes[1] the private node, which only the bastion can reach.
func BastionForTest(t testing.TB) *SSHD {
	t.Helper()
	requireSSHD(t)
	state := t.TempDir()
	return sshdFromEnv(state, startForTest(t, "sshd/bastion.sh", "sshd/stop.sh", state))
}

func requireSSHD(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		Unavailable(t, "sshd: %v", err)
	}
}

// sshdFromEnv describes the nodes that a start script wrote to env.
func sshdFromEnv(state string, env map[string]string) *SSHD {
	port, _ := strconv.Atoi(env["SSHD_PORT"])
	s := &SSHD{Port: port, User: env["SSHD_USER"], KeyFile: env["SSHD_KEY"], KnownHosts: env["SSHD_KNOWN_HOSTS"], State: state}
	for _, f := range strings.Fields(env["SSHD_NODES"]) {
		name, addr, _ := strings.Cut(f, "=")
		dir := filepath.Join(state, "nodes", name)
		s.Nodes = append(s.Nodes, SSHNode{Name: name, Addr: addr, EtcDir: filepath.Join(dir, "etc"), LogFile: filepath.Join(dir, "sshd", "sshd.log")})
	}
	return s
}

func (s *SSHD) pid(i int) (int, error) {
	b, err := os.ReadFile(filepath.Join(s.State, "pids"))
	if err != nil {
		return 0, err
	}
	pids := strings.Fields(string(b))
	if i >= len(pids) {
		return 0, fmt.Errorf("no node %d", i)
	}
	return strconv.Atoi(pids[i])
}

// OnNode runs a command inside node i's mount namespace, where /etc is the
// node's own, without opening an SSH session: the way to hand-patch a node
// in a test without disturbing session counts.
func (s *SSHD) OnNode(i int, args ...string) error {
	pid, err := s.pid(i)
	if err != nil {
		return err
	}
	out, err := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "-m", "--"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("on node%d: %s: %w\n%s", i+1, strings.Join(args, " "), err, out)
	}
	return nil
}

// StopNode kills the sshd of node i (0-based), as if the node went down.
func (s *SSHD) StopNode(i int) error {
	pid, err := s.pid(i)
	if err != nil {
		return err
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	if err := p.Kill(); err != nil {
		return err
	}
	// The process is not our child, so wait for its port to close.
	addr := net.JoinHostPort(s.Nodes[i].Addr, strconv.Itoa(s.Port))
	for range 100 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("node%d still listens on %s", i+1, addr)
}

// Sessions counts the SSH sessions node i's sshd has started so far.
func (s *SSHD) Sessions(i int) (int, error) {
	b, err := os.ReadFile(s.Nodes[i].LogFile)
	if err != nil {
		return 0, err
	}
	return strings.Count(string(b), "Starting session:"), nil
}

// NodeEtc is the host directory that node name's /etc is overlaid with, in
// state. Fill it before the nodes start: overlayfs sees later changes to
// existing files, but may miss directories created after the mount.
func NodeEtc(state, name string) string {
	return filepath.Join(state, "nodes", name, "etc")
}

// SSHDForTest starts n nodes for one test and stops them at its end. It skips
// (or, under `make test`, fails) when sshd is not installed.
func SSHDForTest(t testing.TB, n int) *SSHD {
	t.Helper()
	return SSHDForTestIn(t, t.TempDir(), n)
}

// SSHDForTestIn is SSHDForTest with a state directory the test has prepared,
// for example with NodeEtc trees.
func SSHDForTestIn(t testing.TB, state string, n int) *SSHD {
	t.Helper()
	requireSSHD(t)
	return sshdFromEnv(state, startForTest(t, "sshd/start.sh", "sshd/stop.sh", state, strconv.Itoa(n)))
}
