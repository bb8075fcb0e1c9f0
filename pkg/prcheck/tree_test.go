package prcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The base tree comes from Git, not from the work tree: whatever the pull
// request's checkout holds, Extract writes the base commit's files, keeps
// symbolic links as links (never following one on the way), and leaves the
// work tree alone.
func TestExtractBaseFromGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	gitRun(t, repo, "init", "-q", "-b", "main")
	writeFile(t, filepath.Join(repo, "driftd.yaml"), "base config\n")
	writeFile(t, filepath.Join(repo, "apps/cm.yaml"), "base\n")
	if err := os.Symlink("/etc", filepath.Join(repo, "escape")); err != nil {
		t.Fatal(err)
	}
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "base")
	base := gitRun(t, repo, "rev-parse", "HEAD")
	gitRun(t, repo, "checkout", "-q", "-b", "pr")
	writeFile(t, filepath.Join(repo, "driftd.yaml"), "pull request config\n")
	gitRun(t, repo, "commit", "-q", "-am", "pr")
	writeFile(t, filepath.Join(repo, "apps/cm.yaml"), "uncommitted\n")

	dst := t.TempDir()
	rev, err := Extract(t.Context(), repo, "main", dst, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if rev != base {
		t.Errorf("revision %s, want %s", rev, base)
	}
	for name, want := range map[string]string{"driftd.yaml": "base config\n", "apps/cm.yaml": "base\n"} {
		if b, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if l, err := os.Readlink(filepath.Join(dst, "escape")); err != nil || l != "/etc" {
		t.Errorf("symlink: %q, %v; want a link to /etc, not a copy", l, err)
	}
	if _, err := Extract(t.Context(), repo, "no-such-branch", t.TempDir(), Limits{}); err == nil || !strings.Contains(err.Error(), "--base no-such-branch") {
		t.Errorf("missing base: %v", err)
	}

	changed, err := ChangedFiles(dst, repo, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(changed)
	if want := []string{"apps/cm.yaml", "driftd.yaml"}; !slices.Equal(changed, want) {
		t.Errorf("changed %v, want %v (.git never walked)", changed, want)
	}
}

// Settings that name local files must not point into the pull request's
// checkout, directly, relatively, or through a symbolic link.
func TestOutsideRefusesTheCheckout(t *testing.T) {
	checkout, other := t.TempDir(), t.TempDir()
	link := filepath.Join(other, "link")
	if err := os.Symlink(checkout, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(checkout)
	err := Outside(map[string]string{
		"layers.app.kubeconfig":    "kubeconfig",
		"layers.infra.binary":      filepath.Join(link, "bin/terraform"),
		"layers.node.ssh.key_file": filepath.Join(other, "id_ed25519"),
	}, checkout)
	if err == nil {
		t.Fatal("no error for files inside the checkout")
	}
	for _, want := range []string{"layers.app.kubeconfig", "layers.infra.binary"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "key_file") {
		t.Errorf("a file outside the checkout was refused:\n%v", err)
	}
	if err := Outside(map[string]string{"cache_dir": filepath.Join(other, "cache")}, checkout); err != nil {
		t.Errorf("outside: %v", err)
	}
}

func TestConfigFinding(t *testing.T) {
	if f := ConfigFinding("driftd.yaml", []byte("a\n"), []byte("a\n")); f != nil {
		t.Errorf("same config: %+v", f)
	}
	f := ConfigFinding("driftd.yaml", []byte("binary: terraform\n"), []byte("binary: sh\n"))
	if f == nil || !strings.Contains(f.Diff, "+binary: sh") || !strings.Contains(f.Diff, "were not used") {
		t.Errorf("changed config: %+v", f)
	}
	dir := t.TempDir()
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "driftd.yaml")); err != nil {
		t.Fatal(err)
	}
	b, err := ReadTreeFile(dir, "driftd.yaml", 1<<20)
	if err == nil && strings.Contains(string(b), "root:") {
		t.Errorf("ReadTreeFile followed a link out of the checkout: %q", b)
	}
}
