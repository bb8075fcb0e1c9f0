package source

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pushTree pushes a commit whose tree has an entry named ".git", which git
// stores without complaint and which go-git refuses to check out: a
// checkout that fails half-way.
func (r *remote) pushUncheckoutable() string {
	r.t.Helper()
	blob := r.git(r.work, "hash-object", "-w", "--stdin", "--path", "x")
	inner := r.gitIn(r.work, "100644 blob "+blob+"\thook\n", "mktree")
	a := r.git(r.work, "rev-parse", "HEAD:a.yaml")
	tree := r.gitIn(r.work, "100644 blob "+a+"\ta.yaml\n040000 tree "+inner+"\t.git\n", "mktree")
	c := r.git(r.work, "commit-tree", tree, "-p", "HEAD", "-m", "bad tree")
	r.git(r.work, "push", "-q", "-f", "origin", c+":refs/heads/main")
	return c
}

func TestGitFailedCheckoutKeepsLastGood(t *testing.T) {
	r := newRemote(t)
	rev1 := r.commit("first", map[string]string{"a.yaml": "v1\n", "b.yaml": "b\n"})
	g := NewGit(repoConfig(t, "file://"+r.bare), t.TempDir(), discard())
	if _, _, err := g.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	bad := r.pushUncheckoutable()

	snap, st, err := g.Sync(t.Context())
	if err != nil {
		t.Fatalf("a failed checkout left no checkout to check: %v", err)
	}
	if snap.Revision != rev1 || st.Synced {
		t.Errorf("revision %s synced %v, want the last good %s, not synced", snap.Revision, st.Synced, rev1)
	}
	if !strings.Contains(st.Error, bad) {
		t.Errorf("status error %q does not name the revision that failed", st.Error)
	}
	if got := readFile(t, filepath.Join(snap.Dir, "b.yaml")); got != "b\n" {
		t.Errorf("last good tree not restored: b.yaml = %q", got)
	}
	// Again: still the last good revision, not the bad HEAD.
	if snap, _, err := g.Sync(t.Context()); err != nil || snap.Revision != rev1 {
		t.Errorf("second sync: %s %v, want %s", snap.Revision, err, rev1)
	}
	// The next good push recovers.
	r.rewind(rev1)
	rev3 := r.commit("fixed", map[string]string{"a.yaml": "v3\n"})
	if snap, st, err := g.Sync(t.Context()); err != nil || snap.Revision != rev3 || !st.Synced {
		t.Errorf("after a good push: %s synced %v err %v, want %s", snap.Revision, st.Synced, err, rev3)
	}
}

func TestGitRemovesStaleClones(t *testing.T) {
	r := newRemote(t)
	r.commit("first", map[string]string{"a.yaml": "v1\n"})
	cache := t.TempDir()
	stale := filepath.Join(cache, ".clone-123")
	fresh := filepath.Join(cache, ".clone-456")
	for _, d := range []string{stale, fresh} {
		if err := os.MkdirAll(filepath.Join(d, "objects"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleCloneAge)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	g := NewGit(repoConfig(t, "file://"+r.bare), cache, discard())
	if _, _, err := g.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a clone left by a killed run was kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a clone that may still be running was removed: %v", err)
	}
}

func TestGitCancelledCloneCleansUp(t *testing.T) {
	r := newRemote(t)
	r.commit("first", map[string]string{"a.yaml": "v1\n"})
	cache := t.TempDir()
	g := NewGit(repoConfig(t, "file://"+r.bare), cache, discard())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := g.Sync(ctx); err == nil {
		t.Fatal("a cancelled first clone succeeded")
	}
	left, _ := filepath.Glob(filepath.Join(cache, ".clone-*"))
	if len(left) != 0 {
		t.Errorf("a cancelled clone left %v", left)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://x-access-token:ghp_secret@github.com/o/r.git": "https://xxxxx@github.com/o/r.git",
		"https://ghp_secret@github.com/o/r.git":                "https://xxxxx@github.com/o/r.git",
		"ssh://git@github.com/o/r.git":                         "ssh://git@github.com/o/r.git",
		"file:///srv/config.git":                               "file:///srv/config.git",
	} {
		if got := RedactURL(in); got != want || strings.Contains(got, "secret") {
			t.Errorf("RedactURL(%s) = %s, want %s", in, got, want)
		}
	}
}
