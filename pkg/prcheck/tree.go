package prcheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Extract writes the tree of revision ref of the repository checked out at
// repoDir into dst, which must exist and be empty, and returns the commit
// hash. Only what Git holds is written: regular files (executable or not)
// and symbolic links, as links; submodules are left out. An entry whose
// name is not a local path is an error: a crafted tree cannot write outside
// dst. The work tree at repoDir is never read.
func Extract(ctx context.Context, repoDir, ref, dst string) (string, error) {
	repo, err := git.PlainOpenWithOptions(repoDir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return "", fmt.Errorf("open the repository at %s: %w", repoDir, err)
	}
	hash, err := repo.ResolveRevision(plumbing.Revision(ref))
	if err != nil {
		branch := strings.TrimPrefix(ref, "origin/")
		return "", fmt.Errorf("--base %s: %w (a CI checkout often holds only the pull request: fetch the base first, git fetch --depth=1 origin +refs/heads/%s:refs/remotes/origin/%s)", ref, err, branch, branch)
	}
	commit, err := repo.CommitObject(*hash)
	if err != nil {
		return "", fmt.Errorf("--base %s: %w", ref, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return "", fmt.Errorf("--base %s: tree: %w", ref, err)
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return "", err
	}
	defer root.Close()
	err = tree.Files().ForEach(func(f *object.File) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return writeEntry(root, f)
	})
	if err != nil {
		return "", fmt.Errorf("--base %s: extract: %w", ref, err)
	}
	return hash.String(), nil
}

// writeEntry writes one file through root, which keeps every write and
// every symbolic link followed on the way inside dst.
func writeEntry(root *os.Root, f *object.File) error {
	if !filepath.IsLocal(filepath.FromSlash(f.Name)) || strings.Contains(f.Name, "\\") {
		return fmt.Errorf("%q: not a path inside the repository", f.Name)
	}
	p := filepath.FromSlash(f.Name)
	if err := root.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	switch f.Mode {
	case filemode.Symlink:
		target, err := f.Contents()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		return root.Symlink(target, p)
	case filemode.Regular, filemode.Executable, filemode.Deprecated:
		mode := os.FileMode(0o644)
		if f.Mode == filemode.Executable {
			mode = 0o755
		}
		r, err := f.Reader()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		defer r.Close()
		// O_EXCL: a path written twice, or through a directory that a
		// symbolic link stands for, is refused rather than followed.
		w, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, r); err != nil {
			w.Close()
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		return w.Close()
	default:
		return nil
	}
}

// ChangedFiles lists the paths, relative and slash-separated, whose content
// or link target differs between the trees at a and b (present in one only
// included), among those keep selects. .git is never walked, and symbolic
// links are compared as links, never followed.
func ChangedFiles(a, b string, keep func(rel string) bool) ([]string, error) {
	ha, err := digestTree(a, keep)
	if err != nil {
		return nil, err
	}
	hb, err := digestTree(b, keep)
	if err != nil {
		return nil, err
	}
	var out []string
	for p, d := range ha {
		if e, ok := hb[p]; !ok || !bytes.Equal(d, e) {
			out = append(out, p)
		}
	}
	for p := range hb {
		if _, ok := ha[p]; !ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func digestTree(root string, keep func(string) bool) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !keep(rel) {
			return nil
		}
		h := sha256.New()
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "link %s", t)
		case d.Type().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		default:
			fmt.Fprintf(h, "special %s", d.Type())
		}
		out[rel] = h.Sum(nil)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("compare trees: %w", err)
	}
	return out, nil
}
