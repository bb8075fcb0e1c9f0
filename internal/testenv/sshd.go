package testenv

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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

// StartSSHD starts n sshd nodes in state with testenv/sshd/start.sh. They
// stop when Stop is called or when this process exits.
func StartSSHD(ctx context.Context, state string, n int) (*SSHD, error) {
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		return nil, err
	}
	if err := run(ctx, "sshd/start.sh", state, strconv.Itoa(n), strconv.Itoa(os.Getpid())); err != nil {
		return nil, err
	}
	env, err := readEnv(filepath.Join(state, "env"))
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(env["SSHD_PORT"])
	if err != nil {
		return nil, err
	}
	s := &SSHD{Port: port, User: env["SSHD_USER"], KeyFile: env["SSHD_KEY"], KnownHosts: env["SSHD_KNOWN_HOSTS"], State: state}
	for _, f := range strings.Fields(env["SSHD_NODES"]) {
		name, addr, _ := strings.Cut(f, "=")
		dir := filepath.Join(state, "nodes", name)
		s.Nodes = append(s.Nodes, SSHNode{Name: name, Addr: addr, EtcDir: filepath.Join(dir, "etc"), LogFile: filepath.Join(dir, "sshd", "sshd.log")})
	}
	return s, nil
}

// Stop stops the nodes.
func (s *SSHD) Stop() error {
	return run(context.Background(), "sshd/stop.sh", s.State)
}

// SSHDForTest starts n nodes for one test and stops them at its end. It skips
// (or, under `make test`, fails) when sshd is not installed.
func SSHDForTest(t testing.TB, n int) *SSHD {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		Unavailable(t, "sshd: %v", err)
	}
	s, err := StartSSHD(context.Background(), t.TempDir(), n)
	if err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop sshd: %v", err)
		}
	})
	return s
}
