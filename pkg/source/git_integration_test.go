//go:build integration

package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/testenv"
)

// sshRepo serves a bare repository through a real OpenSSH sshd on loopback.
func sshRepo(t *testing.T) (*remote, *testenv.SSHD, string) {
	t.Helper()
	sshd := testenv.SSHDForTest(t, 1)
	r := newRemote(t)
	url := fmt.Sprintf("ssh://%s@%s:%d%s", sshd.User, sshd.Nodes[0].Addr, sshd.Port, r.bare)
	return r, sshd, url
}

func TestGitOverSSH(t *testing.T) {
	r, sshd, url := sshRepo(t)
	rev1 := r.commit("first", map[string]string{"a.yaml": "v1\n"})
	cfg := repoConfig(t, url)
	cfg.Auth.SSHKeyFile = sshd.KeyFile
	cfg.Auth.KnownHostsFile = sshd.KnownHosts
	g := NewGit(cfg, t.TempDir(), discard())

	snap, st, err := g.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != rev1 || !st.Synced {
		t.Fatalf("revision %s synced %v, want %s", snap.Revision, st.Synced, rev1)
	}

	// A force-push over ssh is followed too.
	r.rewind(rev1)
	rev2 := r.commit("amended", map[string]string{"a.yaml": "v2\n"})
	snap, _, err = g.Sync(t.Context())
	if err != nil || snap.Revision != rev2 {
		t.Fatalf("after push: revision %s err %v, want %s", snap.Revision, err, rev2)
	}
	if got := readFile(t, filepath.Join(snap.Dir, "a.yaml")); got != "v2\n" {
		t.Errorf("a.yaml = %q", got)
	}
}

func TestGitOverSSHWrongHostKey(t *testing.T) {
	r, sshd, url := sshRepo(t)
	r.commit("first", map[string]string{"a.yaml": "v1\n"})

	// known_hosts names the right host with somebody else's key.
	other := testenv.SSHDForTest(t, 1)
	pub, err := os.ReadFile(filepath.Join(other.State, "nodes", "node1", "sshd", "host_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(pub))
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[%s]:%d %s %s\n", sshd.Nodes[0].Addr, sshd.Port, f[0], f[1])
	if err := os.WriteFile(kh, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := repoConfig(t, url)
	cfg.Auth.SSHKeyFile = sshd.KeyFile
	cfg.Auth.KnownHostsFile = kh

	g := NewGit(cfg, t.TempDir(), discard())
	_, st, err := g.Sync(t.Context())
	if err == nil {
		t.Fatal("clone with a wrong host key succeeded")
	}
	if !errors.Is(err, ErrHostKey) {
		t.Errorf("err = %v, want ErrHostKey", err)
	}
	for _, want := range []string{"host key verification failed", sshd.Nodes[0].Addr, "does not match " + kh} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if st.Synced {
		t.Error("status says synced")
	}
	if _, err := os.Stat(filepath.Join(g.dir, ".git")); !os.IsNotExist(err) {
		t.Error("something was cloned from a host with a wrong key")
	}

	// A host missing from known_hosts is refused as well.
	empty := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(empty, []byte("[192.0.2.1]:22 "+f[0]+" "+f[1]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Auth.KnownHostsFile = empty
	if _, _, err := NewGit(cfg, t.TempDir(), discard()).Sync(t.Context()); !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "is not in") {
		t.Errorf("unknown host: err = %v, want an ErrHostKey saying it is not in known_hosts", err)
	}
}
