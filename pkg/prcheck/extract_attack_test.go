package prcheck

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitIn runs git in dir with stdin and returns its trimmed output.
func gitIn(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// rawTree writes a tree object as given, entries in order, duplicates and
// names that git itself refuses included.
func rawTree(t *testing.T, repo string, entries ...[3]string) string {
	t.Helper()
	var b bytes.Buffer
	for _, e := range entries {
		h, err := hex.DecodeString(e[2])
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(e[0] + " " + e[1] + "\x00")
		b.Write(h)
	}
	p := filepath.Join(t.TempDir(), "tree")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return gitIn(t, repo, "", "hash-object", "-w", "--literally", "-t", "tree", p)
}

// Promise 6: a crafted base tree (entries git fsck refuses: "..", names
// with slashes, a symbolic link and a directory of the same name, .git)
// cannot make Extract write outside its directory.
func TestAttackExtractCraftedTreeStaysInside(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	victim := t.TempDir()
	for _, tc := range []struct {
		name  string
		build func(repo, blob, link string) string
	}{
		{"dotdot", func(repo, blob, _ string) string {
			return rawTree(t, repo, [3]string{"100644", "..", blob})
		}},
		{"slash in a name", func(repo, blob, _ string) string {
			return rawTree(t, repo, [3]string{"100644", "../../../../../../.." + victim + "/owned", blob})
		}},
		{"link then directory of the same name", func(repo, blob, link string) string {
			sub := rawTree(t, repo, [3]string{"100644", "owned", blob})
			return rawTree(t, repo, [3]string{"120000", "x", link}, [3]string{"40000", "x", sub})
		}},
		{"dotdot directory", func(repo, blob, _ string) string {
			sub := rawTree(t, repo, [3]string{"100644", "owned", blob})
			up := rawTree(t, repo, [3]string{"40000", "..", sub})
			return rawTree(t, repo, [3]string{"40000", "a", up}, [3]string{"40000", "..", up})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := t.TempDir()
			gitIn(t, repo, "", "init", "-q", "-b", "main")
			blob := gitIn(t, repo, "owned\n", "hash-object", "-w", "--stdin")
			link := gitIn(t, repo, victim, "hash-object", "-w", "--stdin")
			tree := tc.build(repo, blob, link)
			commit := gitIn(t, repo, "", "commit-tree", tree, "-m", "crafted")
			gitIn(t, repo, "", "update-ref", "refs/heads/main", commit)

			parent := t.TempDir()
			dst := filepath.Join(parent, "a", "b")
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := Extract(t.Context(), repo, "main", dst, Limits{})
			t.Logf("Extract: %v", err)
			for _, p := range []string{filepath.Join(victim, "owned"), filepath.Join(parent, "owned"), filepath.Join(parent, "a", "owned")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("Extract wrote %s, outside %s", p, dst)
				}
			}
		})
	}
}

// Promise 7: --base is a revision for go-git, never an argument of a
// process: values that would be options or revision syntax to git are
// only names that do not resolve, and write nothing.
func TestAttackBaseRefIsOnlyARevision(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	gitRun(t, repo, "init", "-q", "-b", "main")
	writeFile(t, filepath.Join(repo, "driftd.yaml"), "base\n")
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "base")
	marker := filepath.Join(t.TempDir(), "marker")
	for _, ref := range []string{
		"--output=" + marker,
		"--upload-pack=touch " + marker,
		"$(touch " + marker + ")",
		"origin/main;touch " + marker,
		"main@{-1}",
	} {
		dst := t.TempDir()
		if _, err := Extract(t.Context(), repo, ref, dst, Limits{}); err == nil {
			t.Errorf("--base %q resolved", ref)
		}
		if _, err := os.Lstat(marker); err == nil {
			t.Fatalf("--base %q wrote %s", ref, marker)
		}
		if es, _ := os.ReadDir(dst); len(es) > 0 {
			t.Errorf("--base %q: wrote %d entries", ref, len(es))
		}
	}
}
