package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGitCloneAndFollow(t *testing.T) {
	r := newRemote(t)
	rev1 := r.commit("first", map[string]string{"app/a.yaml": "v1\n"})
	g := NewGit(repoConfig(t, "file://"+r.bare), t.TempDir(), discard())

	snap, st, err := g.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != rev1 || !st.Synced || st.Error != "" {
		t.Fatalf("first sync: revision %s synced %v error %q, want %s", snap.Revision, st.Synced, st.Error, rev1)
	}
	if got := readFile(t, filepath.Join(snap.Dir, "app/a.yaml")); got != "v1\n" {
		t.Errorf("a.yaml = %q", got)
	}

	rev2 := r.commit("second", map[string]string{"app/a.yaml": "v2\n", "app/b.yaml": "b\n"})
	snap, _, err = g.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != rev2 {
		t.Fatalf("second sync revision %s, want %s", snap.Revision, rev2)
	}
	if got := readFile(t, filepath.Join(snap.Dir, "app/a.yaml")); got != "v2\n" {
		t.Errorf("a.yaml after update = %q", got)
	}
}

func TestGitFollowsForcePush(t *testing.T) {
	r := newRemote(t)
	rev1 := r.commit("base", map[string]string{"a.yaml": "base\n"})
	r.commit("bad", map[string]string{"a.yaml": "bad\n", "bad.yaml": "x\n"})
	g := NewGit(repoConfig(t, "file://"+r.bare), t.TempDir(), discard())
	if _, _, err := g.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}

	// History is rewritten: the bad commit is dropped and replaced.
	r.rewind(rev1)
	rev3 := r.commit("fixed", map[string]string{"a.yaml": "fixed\n"})

	snap, st, err := g.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != rev3 || !st.Synced {
		t.Fatalf("after force-push: revision %s synced %v, want %s", snap.Revision, st.Synced, rev3)
	}
	if got := readFile(t, filepath.Join(snap.Dir, "a.yaml")); got != "fixed\n" {
		t.Errorf("a.yaml = %q, want the force-pushed content", got)
	}
	if _, err := os.Stat(filepath.Join(snap.Dir, "bad.yaml")); !os.IsNotExist(err) {
		t.Errorf("bad.yaml from the dropped commit still present: %v", err)
	}
}

func TestGitUnreachableKeepsLastGood(t *testing.T) {
	r := newRemote(t)
	rev1 := r.commit("first", map[string]string{"a.yaml": "v1\n"})
	g := NewGit(repoConfig(t, "file://"+r.bare), t.TempDir(), discard())
	if _, _, err := g.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}

	if err := os.Rename(r.bare, r.bare+".gone"); err != nil {
		t.Fatal(err)
	}
	snap, st, err := g.Sync(t.Context())
	if err != nil {
		t.Fatalf("sync with an unreachable remote and a last good checkout: %v", err)
	}
	if snap.Revision != rev1 {
		t.Errorf("revision %s, want last good %s", snap.Revision, rev1)
	}
	if st.Synced {
		t.Error("status says synced after a failed fetch")
	}
	if !strings.Contains(st.Error, "sync repo file://"+r.bare) {
		t.Errorf("status error %q does not name the remote", st.Error)
	}
	if got := readFile(t, filepath.Join(snap.Dir, "a.yaml")); got != "v1\n" {
		t.Errorf("last good content = %q", got)
	}

	// The remote comes back with a new commit: it is picked up.
	if err := os.Rename(r.bare+".gone", r.bare); err != nil {
		t.Fatal(err)
	}
	rev2 := r.commit("second", map[string]string{"a.yaml": "v2\n"})
	snap, st, err = g.Sync(t.Context())
	if err != nil || snap.Revision != rev2 || !st.Synced {
		t.Errorf("after recovery: revision %s synced %v err %v, want %s", snap.Revision, st.Synced, err, rev2)
	}
}

func TestGitUnreachableWithoutCheckout(t *testing.T) {
	g := NewGit(repoConfig(t, "file://"+filepath.Join(t.TempDir(), "missing.git")), t.TempDir(), discard())
	_, st, err := g.Sync(t.Context())
	if err == nil {
		t.Fatal("no error without any checkout")
	}
	if st.Synced || st.Error == "" {
		t.Errorf("status = %+v, want a failed sync", st)
	}
	// A failed first clone leaves nothing that could pass for a checkout.
	if _, err := os.Stat(filepath.Join(g.dir, ".git")); !os.IsNotExist(err) {
		t.Errorf("partial clone left behind: %v", err)
	}
}

func TestGitMissingBranch(t *testing.T) {
	r := newRemote(t)
	r.commit("first", map[string]string{"a.yaml": "v1\n"})
	cfg := repoConfig(t, "file://"+r.bare)
	cfg.Branch = "release"
	_, _, err := NewGit(cfg, t.TempDir(), discard()).Sync(t.Context())
	if err == nil || !strings.Contains(err.Error(), "branch release") {
		t.Fatalf("err = %v, want one naming branch release", err)
	}
}

func TestLocal(t *testing.T) {
	r := newRemote(t)
	rev := r.commit("first", map[string]string{"a.yaml": "v1\n"})
	if err := os.WriteFile(filepath.Join(r.work, "a.yaml"), []byte("uncommitted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, st, err := NewLocal(r.work).Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != rev || !st.Synced {
		t.Errorf("revision %s synced %v, want %s", snap.Revision, st.Synced, rev)
	}
	// The checkout is used as it is: uncommitted changes are what CI checks.
	if got := readFile(t, filepath.Join(snap.Dir, "a.yaml")); got != "uncommitted\n" {
		t.Errorf("a.yaml = %q, want the uncommitted content", got)
	}
	if _, _, err := NewLocal(filepath.Join(r.work, "nope")).Sync(t.Context()); err == nil {
		t.Error("missing local repo gave no error")
	}
}

func TestGitHead(t *testing.T) {
	r := newRemote(t)
	rev1 := r.commit("first", map[string]string{"a.yaml": "v1\n"})
	g := NewGit(repoConfig(t, "file://"+r.bare), t.TempDir(), discard())
	head, err := g.Head(t.Context())
	if err != nil || head != rev1 {
		t.Fatalf("Head = %s, %v; want %s", head, err, rev1)
	}
	rev2 := r.commit("second", map[string]string{"a.yaml": "v2\n"})
	if head, _ := g.Head(t.Context()); head != rev2 {
		t.Errorf("Head after a push = %s, want %s", head, rev2)
	}
	// Head never creates or moves the checkout.
	if _, err := os.Stat(g.dir); !os.IsNotExist(err) {
		t.Errorf("Head touched the checkout dir: %v", err)
	}
}
