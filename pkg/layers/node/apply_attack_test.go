package node

// Attack tests for the node layer's apply mode (apply.go). Each test says,
// in its comment, what a hostile or unlucky node does and what should
// happen instead.

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttackNodeApplyLocalParentSymlinkSwappedAfterCheck: between the check
// and the apply, someone who can write in a directory on the node (not
// necessarily root: a scope may cover an application's config directory)
// swaps a parent directory of a missing file for a relative symlink to a
// directory outside every scope. The local writer checks only the last
// component (Lstat and O_NOFOLLOW on the file); os.Root follows symlinks in
// the middle of the path as long as they stay under the host root. Apply
// (as root) then creates Git's file, with Git's owner and mode, outside
// layers.node.scopes, and removes apply-named files there. Every component
// of the path should be opened without following links (openat with
// O_NOFOLLOW|O_DIRECTORY, component by component), or the directory's
// resolved path compared with the path before writing and before the
// rename.
func TestAttackNodeApplyLocalParentSymlinkSwappedAfterCheck(t *testing.T) {
	n := newLocalNode(t)
	l := n.layer()
	if err := os.Remove(n.host(applyEtcd)); err != nil {
		t.Fatal(err)
	}
	r := n.check(l)
	if got := findingNames(r); len(got) != 1 || got[0] != "missing "+applyEtcd {
		t.Fatalf("findings %v", got)
	}
	// The swap: /etc/kubernetes/manifests -> ../../root/evil (outside scopes).
	manifests := n.host("/etc/kubernetes/manifests")
	if err := os.RemoveAll(manifests); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(n.host("/root/evil"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../root/evil", manifests); err != nil {
		t.Fatal(err)
	}
	got := n.apply(l, r, false)
	if _, err := os.Lstat(n.host("/root/evil/etcd.yaml")); err == nil {
		t.Errorf("apply wrote /root/evil/etcd.yaml, outside layers.node.scopes %v, through a parent directory swapped for a link after the check: %v", n.cfg.Scopes, got)
	}
}

// TestAttackNodeApplySSHScriptParentSymlink: the same swap against the
// script the SSH transport runs: the script tests [ -L "$f" ] on the file
// only, so `cat >"$t"` and `mv -f -- "$t" "$f"` go through a linked parent
// directory to wherever it points. The script should refuse when
// `cd -P -- "$d" && pwd -P` is not "$d" (checked again right before the mv),
// or write through a directory file descriptor it opened without following
// links.
func TestAttackNodeApplySSHScriptParentSymlink(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	secret := filepath.Join(base, "secret")
	if err := os.Mkdir(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	appDir := filepath.Join(base, "etc", "app")
	if err := os.MkdirAll(filepath.Dir(appDir), 0o755); err != nil {
		t.Fatal(err)
	}
	// At the check, etc/app was a directory without x.conf (missing);
	// now it points elsewhere.
	if err := os.Symlink(secret, appDir); err != nil {
		t.Fatal(err)
	}
	want := &File{Content: []byte("from git\n"), Mode: 0o644, Owner: me.Username, Group: grp.Name}
	op := fileOp{path: filepath.Join(appDir, "x.conf"), want: want, live: liveAbsent}
	tmp := filepath.Join(appDir, tempBase())
	cmd := exec.Command("sh", "-c", fileScript(op, tmp))
	cmd.Stdin = bytes.NewReader(want.Content)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	_, same, err := parseAnswer(string(out), runErr)
	if _, statErr := os.Lstat(filepath.Join(secret, "x.conf")); statErr == nil {
		t.Errorf("the SSH script wrote through a linked parent directory into %s (answer same=%v err=%v, stderr %q)", secret, same, err, strings.TrimSpace(stderr.String()))
	}
}

// TestAttackNodeApplySSHScriptParentSymlinkPrune: prune through a linked
// parent. At the check /etc/app/old.conf was an unmanaged regular file;
// afterwards /etc/app points at a directory holding a file with the same
// content (a copy of a config the attacker can read, e.g. a default one)
// and apply removes that one instead.
func TestAttackNodeApplySSHScriptParentSymlinkPrune(t *testing.T) {
	base := t.TempDir()
	secret := filepath.Join(base, "secret")
	if err := os.Mkdir(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	content := []byte("# default\n")
	if err := os.WriteFile(filepath.Join(secret, "old.conf"), content, 0o600); err != nil {
		t.Fatal(err)
	}
	appDir := filepath.Join(base, "etc", "app")
	if err := os.MkdirAll(filepath.Dir(appDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, appDir); err != nil {
		t.Fatal(err)
	}
	op := fileOp{path: filepath.Join(appDir, "old.conf"), live: sha256hex(content)}
	out, runErr := exec.Command("sh", "-c", fileScript(op, "")).Output()
	_, same, err := parseAnswer(string(out), runErr)
	if _, statErr := os.Lstat(filepath.Join(secret, "old.conf")); os.IsNotExist(statErr) {
		t.Errorf("prune removed %s through a linked parent directory (same=%v err=%v)", filepath.Join(secret, "old.conf"), same, err)
	}
}
