package node

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

const (
	applyFlags    = "/etc/systemd/system/kubelet.service.d/10-flags.conf"
	applyEtcd     = "/etc/kubernetes/manifests/etcd.yaml"
	applyOther    = "/etc/kubernetes/manifests/other.yaml"
	applyDebug    = "/etc/systemd/system/kubelet.service.d/99-debug.conf"
	applyFlagsGit = "[Service]\nEnvironment=\"KUBELET_EXTRA_ARGS=--max-pods=110\"\n"
	applyEtcdGit  = "kind: Pod\nmetadata:\n  name: etcd\n"
	applyOtherGit = "kind: Pod\nmetadata:\n  name: other\n"
)

// localNode is a config repo and a host root, read and written through the
// local transport, as the DaemonSet does.
type localNode struct {
	t       *testing.T
	repo    string
	root    string
	reloads string
	cfg     Config
}

func newLocalNode(t *testing.T) *localNode {
	t.Helper()
	n := &localNode{t: t, repo: t.TempDir(), root: t.TempDir()}
	n.reloads = filepath.Join(t.TempDir(), "reloads")
	writeTree(t, n.repo, map[string]string{
		"nodes/inventory.yaml":          "nodes:\n  - name: n1\n    address: 127.0.0.1\n    roles: [base]\n",
		"nodes/roles/base" + applyFlags: applyFlagsGit,
		"nodes/roles/base" + applyEtcd:  applyEtcdGit,
		"nodes/roles/base" + applyOther: applyOtherGit,
	})
	// The host's accounts: the test's own uid is "root", so that apply can
	// give files the owner Git asks for without running as root.
	writeTree(t, n.root, map[string]string{
		"etc/passwd":                        fmt.Sprintf("root:x:%d:%d:root:/root:/bin/sh\n", os.Getuid(), os.Getgid()),
		"etc/group":                         fmt.Sprintf("root:x:%d:\n", os.Getgid()),
		strings.TrimPrefix(applyFlags, "/"): applyFlagsGit,
		strings.TrimPrefix(applyEtcd, "/"):  applyEtcdGit,
		strings.TrimPrefix(applyOther, "/"): applyOtherGit,
	})
	n.cfg = Config{Transport: "local", LocalRoot: n.root, LocalNode: "n1"}
	n.cfg.Apply.ReloadCommand = "echo reload >> " + shellQuote(n.reloads)
	n.cfg.Apply.RestartCommand = "echo restart >> " + shellQuote(n.reloads)
	n.cfg.Defaults()
	return n
}

func (n *localNode) layer() *Layer {
	n.t.Helper()
	l, err := New(n.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		n.t.Fatal(err)
	}
	return l
}

func (n *localNode) check(l *Layer) drift.TargetResult {
	n.t.Helper()
	res, err := l.Check(n.t.Context(), drift.Snapshot{Dir: n.repo})
	if err != nil || len(res) != 1 {
		n.t.Fatalf("check: %v %v", res, err)
	}
	res[0].Normalize()
	if res[0].Error != "" {
		n.t.Fatalf("check: %s", res[0].Error)
	}
	return res[0]
}

func (n *localNode) apply(l *Layer, target drift.TargetResult, dryRun bool) []string {
	n.t.Helper()
	out := l.Apply(n.t.Context(), drift.Snapshot{Dir: n.repo}, target, drift.ApplyRequest{Findings: target.Findings, DryRun: dryRun})
	return results(out)
}

func results(out []drift.ActionResult) []string {
	var s []string
	for _, a := range out {
		line := a.Result + " " + a.Action + " " + a.Object
		if a.Reason != "" {
			line += ": " + a.Reason
		}
		s = append(s, line)
	}
	return s
}

func (n *localNode) host(p string) string { return filepath.Join(n.root, p) }

func (n *localNode) write(p, content string) {
	n.t.Helper()
	if err := os.WriteFile(n.host(p), []byte(content), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

func (n *localNode) read(p string) string {
	n.t.Helper()
	b, err := os.ReadFile(n.host(p))
	if err != nil {
		n.t.Fatal(err)
	}
	return string(b)
}

func (n *localNode) reloadLog() string {
	b, _ := os.ReadFile(n.reloads)
	return string(b)
}

// stamp is what shows that a file was not touched: its inode, mode and
// modification time.
func stamp(t *testing.T, file string) string {
	t.Helper()
	fi, err := os.Lstat(file)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("ino %d mode %s mtime %s", fi.Sys().(*syscall.Stat_t).Ino, fi.Mode(), fi.ModTime().Format(time.RFC3339Nano))
}

// temps lists apply's temporary files under root.
func temps(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && isTemp(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestNodeApplyLocalRestoresOnlyTheDrift(t *testing.T) {
	n := newLocalNode(t)
	l := n.layer()
	if r := n.check(l); r.Status != drift.StatusInSync {
		t.Fatalf("before drift: %s %v", r.Status, r.Findings)
	}
	// An old mtime on the file that stays in sync, so that a rewrite shows.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(n.host(applyOther), old, old); err != nil {
		t.Fatal(err)
	}
	before := stamp(t, n.host(applyOther))

	n.write(applyFlags, "[Service]\nEnvironment=\"KUBELET_EXTRA_ARGS=--max-pods=110 --v=4\"\n")
	if err := os.Chmod(n.host(applyFlags), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(n.host(applyEtcd)); err != nil {
		t.Fatal(err)
	}
	r := n.check(l)
	want := []string{"missing " + applyEtcd, "changed " + applyFlags}
	if got := findingNames(r); !cmp.Equal(got, want) {
		t.Fatalf("findings %v, want %v", got, want)
	}

	got := n.apply(l, r, false)
	wantRes := []string{"applied create " + applyEtcd, "applied restore " + applyFlags, "applied reload systemd"}
	if diff := cmp.Diff(wantRes, got); diff != "" {
		t.Fatalf("apply (-want +got):\n%s", diff)
	}
	if after := n.check(l); after.Status != drift.StatusInSync {
		t.Errorf("after apply: %s %v", after.Status, findingNames(after))
	}
	if n.read(applyFlags) != applyFlagsGit || n.read(applyEtcd) != applyEtcdGit {
		t.Errorf("contents not restored")
	}
	if fi, _ := os.Stat(n.host(applyFlags)); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %s, want 0644", fi.Mode())
	}
	if after := stamp(t, n.host(applyOther)); after != before {
		t.Errorf("a file in sync was touched: %s, then %s", before, after)
	}
	if got := n.reloadLog(); got != "reload\n" {
		t.Errorf("reload command ran %q, want once (a drop-in changed), and no restart (restart_units is off)", got)
	}
	if tmp := temps(t, n.root); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// A manifest alone needs no reload.
	n.write(applyEtcd, "kind: Pod\n")
	got = n.apply(l, n.check(l), false)
	if !cmp.Equal(got, []string{"applied restore " + applyEtcd}) {
		t.Errorf("manifest only: %v", got)
	}
	if got := n.reloadLog(); got != "reload\n" {
		t.Errorf("reload ran for a manifest: %q", got)
	}
}

func findingNames(r drift.TargetResult) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, string(f.Change)+" "+f.Object)
	}
	return out
}

func TestNodeApplyLocalChangedSinceTheCheckIsSkipped(t *testing.T) {
	n := newLocalNode(t)
	l := n.layer()
	n.write(applyFlags, "[Service]\n# edit 1\n")
	n.write(applyOther, "kind: Pod\n# edit 1\n")
	if err := os.Remove(n.host(applyEtcd)); err != nil {
		t.Fatal(err)
	}
	r := n.check(l)
	if len(r.Findings) != 3 {
		t.Fatalf("findings %v", findingNames(r))
	}
	// After the check, and before apply: someone edits again, creates the
	// missing file, and deletes one.
	n.write(applyFlags, "[Service]\n# edit 2\n")
	n.write(applyEtcd, "kind: Pod\n# by hand\n")
	if err := os.Remove(n.host(applyOther)); err != nil {
		t.Fatal(err)
	}
	got := n.apply(l, r, false)
	want := []string{
		"skipped create " + applyEtcd + ": created since the check: check again",
		"skipped restore " + applyOther + ": deleted since the check: check again",
		"skipped restore " + applyFlags + ": changed since the check: check again",
	}
	if diff := cmp.Diff(want, sortedCopy(got)); diff != "" {
		t.Errorf("apply (-want +got):\n%s", diff)
	}
	if n.read(applyFlags) != "[Service]\n# edit 2\n" || n.read(applyEtcd) != "kind: Pod\n# by hand\n" {
		t.Errorf("a file that changed since the check was written")
	}
	if _, err := os.Stat(n.host(applyOther)); !os.IsNotExist(err) {
		t.Errorf("a file deleted since the check came back: %v", err)
	}
	if n.reloadLog() != "" {
		t.Errorf("reload ran though nothing was written: %q", n.reloadLog())
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestNodeApplyLocalDryRunChangesNothing(t *testing.T) {
	n := newLocalNode(t)
	l := n.layer()
	n.write(applyFlags, "[Service]\n# by hand\n")
	n.write(applyDebug, "[Service]\nEnvironment=DEBUG=1\n")
	if err := os.Remove(n.host(applyEtcd)); err != nil {
		t.Fatal(err)
	}
	r := n.check(l)
	stamps := map[string]string{}
	for _, p := range []string{applyFlags, applyDebug, applyOther} {
		stamps[p] = stamp(t, n.host(p))
	}
	got := n.apply(l, r, true)
	want := []string{
		"would_apply restore " + applyFlags,
		"would_apply delete " + applyDebug,
		"would_apply create " + applyEtcd,
		"would_apply reload systemd",
	}
	if diff := cmp.Diff(sortedCopy(want), sortedCopy(got)); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
	for p, s := range stamps {
		if now := stamp(t, n.host(p)); now != s {
			t.Errorf("%s touched by a dry run: %s, then %s", p, s, now)
		}
	}
	if _, err := os.Stat(n.host(applyEtcd)); !os.IsNotExist(err) {
		t.Errorf("dry run created %s", applyEtcd)
	}
	if n.reloadLog() != "" {
		t.Errorf("dry run ran the reload: %q", n.reloadLog())
	}
	if after := n.check(l); !cmp.Equal(findingNames(after), findingNames(r)) {
		t.Errorf("findings after a dry run %v, before %v", findingNames(after), findingNames(r))
	}
	// A dry run still compares: what changed since the check is skipped.
	n.write(applyFlags, "[Service]\n# again\n")
	got = n.apply(l, r, true)
	if !slices.Contains(got, "skipped restore "+applyFlags+": changed since the check: check again") {
		t.Errorf("dry run of a file changed since the check: %v", got)
	}
}

func TestNodeApplyLocalPrune(t *testing.T) {
	n := newLocalNode(t)
	l := n.layer()
	n.write(applyDebug, "[Service]\nEnvironment=DEBUG=1\n")
	n.write("/etc/kubernetes/manifests/extra.yaml", "kind: Pod\n")
	r := n.check(l)
	if got := findingNames(r); !cmp.Equal(got, []string{"unmanaged /etc/kubernetes/manifests/extra.yaml", "unmanaged " + applyDebug}) {
		t.Fatalf("findings %v", got)
	}
	n.write("/etc/kubernetes/manifests/extra.yaml", "kind: Pod\n# changed\n")
	got := n.apply(l, r, false)
	want := []string{
		"skipped delete /etc/kubernetes/manifests/extra.yaml: changed since the check: check again",
		"applied delete " + applyDebug,
		"applied reload systemd",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("prune (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(n.host(applyDebug)); !os.IsNotExist(err) {
		t.Errorf("unmanaged drop-in not removed: %v", err)
	}
	if n.read("/etc/kubernetes/manifests/extra.yaml") != "kind: Pod\n# changed\n" {
		t.Errorf("a file changed since the check was removed")
	}
}

func TestNodeApplyLocalReloadAndRestart(t *testing.T) {
	t.Run("restart_units", func(t *testing.T) {
		n := newLocalNode(t)
		n.cfg.Apply.RestartUnits = true
		l := n.layer()
		n.write(applyFlags, "[Service]\n")
		got := n.apply(l, n.check(l), false)
		want := []string{"applied restore " + applyFlags, "applied reload systemd", "applied restart kubelet.service"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if got := n.reloadLog(); got != "reload\nrestart kubelet.service\n" {
			t.Errorf("commands run: %q", got)
		}
	})
	t.Run("reload fails", func(t *testing.T) {
		n := newLocalNode(t)
		n.cfg.Apply.RestartUnits = true
		n.cfg.Apply.ReloadCommand = "echo 'Failed to connect to bus' >&2; exit 3"
		l := n.layer()
		n.write(applyFlags, "[Service]\n")
		got := n.apply(l, n.check(l), false)
		want := []string{
			"applied restore " + applyFlags,
			"failed reload systemd: reload: exit status 3: Failed to connect to bus",
			"blocked restart kubelet.service: " + earlierFailure,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("reload off", func(t *testing.T) {
		n := newLocalNode(t)
		n.cfg.Apply.Reload = mustSwitch(t, false)
		l := n.layer()
		n.write(applyFlags, "[Service]\n")
		got := n.apply(l, n.check(l), false)
		want := []string{"applied restore " + applyFlags, "skipped reload systemd: layers.node.apply.reload is off: systemd runs the old definitions until reloaded"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if n.reloadLog() != "" {
			t.Errorf("reload ran: %q", n.reloadLog())
		}
	})
}

func TestNodeApplyLocalStopsAtTheFirstFailure(t *testing.T) {
	n := newLocalNode(t)
	l := n.layer()
	n.write(applyFlags, "[Service]\n")
	n.write(applyOther, "kind: Pod\n")
	r := n.check(l)
	// The record of the first finding is lost: it fails, the rest waits.
	rec := r.Private.(*nodeRecord)
	delete(rec.files, r.Findings[0].Object)
	got := n.apply(l, r, false)
	want := []string{
		"failed restore " + r.Findings[0].Object + ": the check kept no record of this object",
		"blocked restore " + r.Findings[1].Object + ": " + earlierFailure,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	r.Private = nil
	if got := n.apply(l, r, false); !strings.HasPrefix(got[0], "failed restore") || !strings.HasPrefix(got[1], "blocked") {
		t.Errorf("without a record: %v", got)
	}
}

func TestNodeApplyLocalLeavesWhatItCannotVerify(t *testing.T) {
	n := newLocalNode(t)
	l := n.layer()
	if err := os.Remove(n.host(applyOther)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("etcd.yaml", n.host(applyOther)); err != nil {
		t.Fatal(err)
	}
	r := n.check(l)
	got := n.apply(l, r, false)
	if len(got) != 1 || !strings.HasPrefix(got[0], "skipped restore "+applyOther+": it is a symbolic link to etcd.yaml (not followed); apply replaces or removes only regular files") {
		t.Errorf("symbolic link: %v", got)
	}
	if target, err := os.Readlink(n.host(applyOther)); err != nil || target != "etcd.yaml" {
		t.Errorf("the link was touched: %q %v", target, err)
	}
}

func TestNodeApplyLocalRemovesStaleTemporaryFiles(t *testing.T) {
	n := newLocalNode(t)
	l := n.layer()
	stale := n.host("/etc/kubernetes/manifests/.driftd-0123456789abcdef.tmp")
	if err := os.WriteFile(stale, []byte("half a fi"), 0o600); err != nil {
		t.Fatal(err)
	}
	n.write(applyEtcd, "kind: Pod\n")
	got := n.apply(l, n.check(l), false)
	if !cmp.Equal(got, []string{"applied restore " + applyEtcd}) {
		t.Fatalf("apply: %v", got)
	}
	if tmp := temps(t, n.root); len(tmp) > 0 {
		t.Errorf("stale temporary files left: %v", tmp)
	}
}

// TestNodeApplyLocalRefusesLinkedParent: a parent directory swapped for a
// link after the check fails the write and the removal, naming the link,
// and nothing is written, removed or left where the link points.
func TestNodeApplyLocalRefusesLinkedParent(t *testing.T) {
	swap := func(n *localNode, keep bool) {
		t.Helper()
		manifests := n.host("/etc/kubernetes/manifests")
		if err := os.MkdirAll(n.host("/root"), 0o700); err != nil {
			t.Fatal(err)
		}
		var err error
		if keep {
			// The directory moves out of the scopes with its files.
			err = os.Rename(manifests, n.host("/root/evil"))
		} else if err = os.RemoveAll(manifests); err == nil {
			err = os.Mkdir(n.host("/root/evil"), 0o700)
		}
		if err == nil {
			err = os.Symlink("../../root/evil", manifests)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	const linked = "/etc/kubernetes/manifests is a symbolic link or not a directory"
	t.Run("create", func(t *testing.T) {
		n := newLocalNode(t)
		l := n.layer()
		if err := os.Remove(n.host(applyEtcd)); err != nil {
			t.Fatal(err)
		}
		r := n.check(l)
		swap(n, false)
		for _, dryRun := range []bool{true, false} {
			got := n.apply(l, r, dryRun)
			if len(got) != 1 || !strings.HasPrefix(got[0], "failed create "+applyEtcd+": "+linked) {
				t.Errorf("dry run %v: %v", dryRun, got)
			}
		}
		if entries, _ := os.ReadDir(n.host("/root/evil")); len(entries) > 0 {
			t.Errorf("written through the link: %v", entries)
		}
	})
	t.Run("prune", func(t *testing.T) {
		n := newLocalNode(t)
		l := n.layer()
		extra := "/etc/kubernetes/manifests/extra.yaml"
		n.write(extra, "kind: Pod\n")
		r := n.check(l)
		swap(n, true)
		got := n.apply(l, r, false)
		if len(got) != 1 || !strings.HasPrefix(got[0], "failed delete "+extra+": "+linked) {
			t.Errorf("prune: %v", got)
		}
		if _, err := os.Lstat(n.host("/root/evil/extra.yaml")); err != nil {
			t.Errorf("removed through the link: %v", err)
		}
	})
	t.Run("a file where a directory should be", func(t *testing.T) {
		n := newLocalNode(t)
		l := n.layer()
		if err := os.Remove(n.host(applyEtcd)); err != nil {
			t.Fatal(err)
		}
		r := n.check(l)
		if err := os.RemoveAll(n.host("/etc/kubernetes/manifests")); err != nil {
			t.Fatal(err)
		}
		n.write("/etc/kubernetes/manifests", "not a directory\n")
		got := n.apply(l, r, false)
		if len(got) != 1 || !strings.HasPrefix(got[0], "failed create "+applyEtcd+": "+linked) {
			t.Errorf("apply: %v", got)
		}
	})
	t.Run("missing directories are created", func(t *testing.T) {
		n := newLocalNode(t)
		l := n.layer()
		if err := os.RemoveAll(n.host("/etc/kubernetes")); err != nil {
			t.Fatal(err)
		}
		got := n.apply(l, n.check(l), false)
		if !cmp.Equal(sortedCopy(got), []string{"applied create " + applyEtcd, "applied create " + applyOther}) {
			t.Fatalf("apply: %v", got)
		}
		if n.read(applyEtcd) != applyEtcdGit {
			t.Errorf("content not restored")
		}
		if fi, err := os.Lstat(n.host("/etc/kubernetes/manifests")); err != nil || !fi.IsDir() || fi.Mode().Perm()&0o755 != fi.Mode().Perm() {
			t.Errorf("created directory: %v %v", fi, err)
		}
	})
}

// TestNodeApplyFileScriptTempSwap: someone who can write in the directory
// swaps the script's temporary file for a link to another file (outside
// the scopes) while the content arrives. The hash, owner and mode go
// through the open file, never the name: the other file keeps its own
// owner and mode.
func TestNodeApplyFileScriptTempSwap(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Fatal(err)
	}
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The other file holds Git's content too (the repository may be
	// public): a hash read through the name matches.
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("from git\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "app")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	want := &File{Content: []byte("from git\n"), Mode: 0o644, Owner: me.Username, Group: grp.Name}
	tmp := filepath.Join(dir, tempBase())
	cmd := exec.Command("sh", "-c", fileScript(fileOp{path: filepath.Join(dir, "x.conf"), want: want, live: liveAbsent}, tmp))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write(want.Content); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Lstat(tmp); err == nil {
			break
		}
		if time.Now().After(deadline) {
			stdin.Close()
			_ = cmd.Wait()
			t.Fatalf("the script made no temporary file %s: %s", tmp, stdout.String())
		}
	}
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, tmp); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	runErr := cmd.Wait()
	_, same, err := parseAnswer(stdout.String(), runErr)
	if fi, statErr := os.Stat(victim); statErr != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the mode went through the swapped name to the other file: %v (answer same=%v err=%v)", statErr, same, err)
		if statErr == nil {
			t.Errorf("the other file's mode is %s", fi.Mode())
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "from git\n" {
		t.Errorf("the other file holds %q", b)
	}
}

func TestNodeApplyUnsafePaths(t *testing.T) {
	l := &Layer{cfg: Config{Scopes: defaultScopes}}
	root := &File{Owner: "root", Group: "root", Mode: 0o644}
	for _, tc := range []struct {
		fr   fileRecord
		want string
	}{
		{fileRecord{path: applyFlags, want: root}, ""},
		{fileRecord{path: applyDebug}, ""},
		{fileRecord{path: "/etc/passwd", want: root}, "outside every scope"},
		{fileRecord{path: "/etc/kubernetes/manifests/../../passwd.yaml"}, "not a clean absolute path"},
		{fileRecord{path: "etc/kubernetes/manifests/x.yaml"}, "not a clean absolute path"},
		{fileRecord{path: "/etc/kubernetes/manifests/x\n.yaml"}, "control characters"},
		{fileRecord{path: "/etc/kubernetes/manifests/.driftd-1.tmp"}, "outside every scope"},
		{fileRecord{path: applyFlags, want: &File{Owner: "root;rm", Group: "root"}}, "not a plain name"},
		{fileRecord{path: applyFlags, want: &File{Owner: "root", Group: "root", Mode: 0o644 | os.ModeSetuid}}, "not plain permissions"},
	} {
		if got := l.unsafe(tc.fr); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.fr.path, got, tc.want)
		}
	}
	l.cfg.Scopes = []string{"/etc/x/*"}
	if got := l.unsafe(fileRecord{path: "/etc/x/.driftd-ab.tmp", want: root}); !strings.Contains(got, "temporary files") {
		t.Errorf("a desired file named like a temporary file: %q", got)
	}
	if got := l.unsafe(fileRecord{path: "/etc/x/.driftd-ab.tmp"}); got != "" {
		t.Errorf("an unmanaged temporary file may be removed: %q", got)
	}
}

func TestSystemdUnit(t *testing.T) {
	for p, want := range map[string]string{
		applyFlags:                                    "kubelet.service",
		"/etc/systemd/system/containerd.service":      "containerd.service",
		"/usr/lib/systemd/system/foo.socket.d/a.conf": "foo.socket",
		"/etc/systemd/system/kubelet.service.d/x.txt": "",
		"/etc/kubernetes/manifests/etcd.yaml":         "",
		"/etc/systemd/system/multi-user.target.wants": "",
	} {
		got, ok := systemdUnit(p)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", p, got, ok, want)
		}
	}
	for u, want := range map[string]bool{"kubelet.service": true, "getty@tty1.service": true, "getty@.service": false, "a b.service": false, "x.conf": false} {
		if validUnit(u) != want {
			t.Errorf("validUnit(%q) = %v", u, !want)
		}
	}
}

// TestNodeApplyFileScript runs the script that SSH apply sends to a node in
// a real local shell, against a temporary directory: it writes atomically
// with owner and mode, refuses a file that changed since the check, keeps
// the old file whole when the content arrives cut short, and removes stale
// temporary files.
func TestNodeApplyFileScript(t *testing.T) {
	shells := []string{"sh"}
	if _, err := exec.LookPath("bash"); err == nil {
		shells = append(shells, "bash")
	}
	if _, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, "busybox sh")
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Fatal(err)
	}
	for _, shell := range shells {
		t.Run(shell, func(t *testing.T) {
			// The script refuses a directory reached through a link: the
			// temporary directory as the kernel names it.
			top, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(top, "it's a dir")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(dir, "a $x.conf")
			oldContent := []byte("old\n")
			if err := os.WriteFile(f, oldContent, 0o600); err != nil {
				t.Fatal(err)
			}
			want := &File{Content: []byte("new\ncontent\n"), Mode: 0o640, Owner: me.Username, Group: grp.Name}
			run := func(op fileOp, stdin []byte) (string, bool, error) {
				tmp := ""
				if op.want != nil && !op.dryRun {
					tmp = filepath.Join(filepath.Dir(op.path), tempBase())
				}
				args := append(strings.Fields(shell), "-c", fileScript(op, tmp))
				cmd := exec.Command(args[0], args[1:]...)
				cmd.Stdin = bytes.NewReader(stdin)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					err = fmt.Errorf("%w: %s", err, stderr.String())
				}
				return parseAnswer(string(out), err)
			}
			liveOld := sha256hex(oldContent)

			// Changed since the check: nothing is written.
			now, same, err := run(fileOp{path: f, want: want, live: sha256hex([]byte("other\n"))}, want.Content)
			if err != nil || same || now != liveOld {
				t.Errorf("changed since the check: %q %v %v", now, same, err)
			}
			// Cut short: the old file stays whole, no temporary file stays.
			stale := filepath.Join(dir, ".driftd-stale.tmp")
			if err := os.WriteFile(stale, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			_, same, err = run(fileOp{path: f, want: want, live: liveOld}, want.Content[:5])
			if err == nil || same || !strings.Contains(err.Error(), "the content arrived incomplete") {
				t.Errorf("cut short: %v %v", same, err)
			}
			if b, _ := os.ReadFile(f); !bytes.Equal(b, oldContent) {
				t.Errorf("cut short: the file holds %q", b)
			}
			if tmp := temps(t, dir); len(tmp) > 0 {
				t.Errorf("cut short: temporary files left: %v", tmp)
			}
			// Dry run: compares, writes nothing.
			if _, same, err := run(fileOp{path: f, want: want, live: liveOld, dryRun: true}, nil); err != nil || !same {
				t.Errorf("dry run: %v %v", same, err)
			}
			if b, _ := os.ReadFile(f); !bytes.Equal(b, oldContent) {
				t.Errorf("dry run wrote %q", b)
			}
			// Written, with its mode.
			if _, same, err := run(fileOp{path: f, want: want, live: liveOld}, want.Content); err != nil || !same {
				t.Fatalf("write: %v %v", same, err)
			}
			if b, _ := os.ReadFile(f); !bytes.Equal(b, want.Content) {
				t.Errorf("write: the file holds %q", b)
			}
			if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o640 {
				t.Errorf("write: mode %s", fi.Mode())
			}
			if tmp := temps(t, dir); len(tmp) > 0 {
				t.Errorf("write: temporary files left: %v", tmp)
			}
			// Created in a directory that does not exist yet.
			created := filepath.Join(dir, "sub dir", "b.conf")
			if _, same, err := run(fileOp{path: created, want: want, live: liveAbsent}, want.Content); err != nil || !same {
				t.Fatalf("create: %v %v", same, err)
			}
			if fi, err := os.Stat(filepath.Dir(created)); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("create: directory %v %v", fi, err)
			}
			// Created since the check.
			if now, same, err := run(fileOp{path: created, want: want, live: liveAbsent}, want.Content); err != nil || same || now != sha256hex(want.Content) {
				t.Errorf("created since the check: %q %v %v", now, same, err)
			}
			// Removed, only if unchanged.
			if now, same, err := run(fileOp{path: created, live: liveOld}, nil); err != nil || same || now != sha256hex(want.Content) {
				t.Errorf("remove of a changed file: %q %v %v", now, same, err)
			}
			if _, same, err := run(fileOp{path: created, live: sha256hex(want.Content)}, nil); err != nil || !same {
				t.Errorf("remove: %v %v", same, err)
			}
			if _, err := os.Stat(created); !os.IsNotExist(err) {
				t.Errorf("remove: %v", err)
			}
			// A symbolic link is never followed.
			link := filepath.Join(dir, "link.conf")
			if err := os.Symlink(f, link); err != nil {
				t.Fatal(err)
			}
			if now, same, err := run(fileOp{path: link, want: want, live: sha256hex(want.Content)}, want.Content); err != nil || same || now != liveOther {
				t.Errorf("link: %q %v %v", now, same, err)
			}
		})
	}
}

func mustSwitch(t *testing.T, on bool) (s yamlconf.Switch) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(fmt.Sprint(on)), &s); err != nil {
		t.Fatal(err)
	}
	return s
}
