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

// Limits bound what Extract writes: Git stores blobs compressed, so a
// small repository can hold files of any size. Zero fields take the
// defaults.
type Limits struct {
	// MaxFileSize: a larger file is written as a sparse file of its size
	// and no content, which the repository jail then refuses to read, as
	// it would the real one. Default 16 MiB.
	MaxFileSize int64
	// MaxTotal bounds the bytes written in all; beyond it Extract fails.
	// Default 1 GiB.
	MaxTotal int64
	// MaxEntries bounds the files and links; default 1,000,000.
	MaxEntries int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = 16 << 20
	}
	if l.MaxTotal <= 0 {
		l.MaxTotal = 1 << 30
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 1_000_000
	}
	return l
}

// Extract writes the tree of revision ref of the repository checked out at
// repoDir into dst, which must exist and be empty, and returns the commit
// hash. Only what Git holds is written: regular files (executable or not)
// and symbolic links, as links; submodules are left out. An entry whose
// name is not a local path is an error: a crafted tree cannot write outside
// dst. The work tree at repoDir is never read.
func Extract(ctx context.Context, repoDir, ref, dst string, lim Limits) (string, error) {
	lim = lim.withDefaults()
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
	var entries int
	var total int64
	err = tree.Files().ForEach(func(f *object.File) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if entries++; entries > lim.MaxEntries {
			return fmt.Errorf("more than %d files", lim.MaxEntries)
		}
		n, err := writeEntry(ctx, root, f, lim.MaxFileSize)
		if total += n; total > lim.MaxTotal {
			return fmt.Errorf("more than %d bytes in all", lim.MaxTotal)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("--base %s: extract: %w", ref, err)
	}
	return hash.String(), nil
}

// writeEntry writes one file through root, which keeps every write and
// every symbolic link followed on the way inside dst.
// writeEntry writes one file through root, which keeps every write and
// every symbolic link followed on the way inside dst, and returns the
// bytes written.
func writeEntry(ctx context.Context, root *os.Root, f *object.File, maxFile int64) (int64, error) {
	if !filepath.IsLocal(filepath.FromSlash(f.Name)) || strings.Contains(f.Name, "\\") {
		return 0, fmt.Errorf("%q: not a path inside the repository", f.Name)
	}
	p := filepath.FromSlash(f.Name)
	if err := root.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	switch f.Mode {
	case filemode.Symlink:
		if f.Size > 4096 {
			return 0, fmt.Errorf("%s: a symbolic link of %d bytes", f.Name, f.Size)
		}
		target, err := f.Contents()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", f.Name, err)
		}
		return int64(len(target)), root.Symlink(target, p)
	case filemode.Regular, filemode.Executable, filemode.Deprecated:
		mode := os.FileMode(0o644)
		if f.Mode == filemode.Executable {
			mode = 0o755
		}
		// O_EXCL: a path written twice, or through a directory that a
		// symbolic link stands for, is refused rather than followed.
		w, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return 0, err
		}
		if f.Size > maxFile {
			// The size without the content: the jail refuses it as too
			// large, as it would the real file.
			err := w.Truncate(f.Size)
			return 0, errors.Join(err, w.Close())
		}
		r, err := f.Reader()
		if err != nil {
			w.Close()
			return 0, fmt.Errorf("%s: %w", f.Name, err)
		}
		defer r.Close()
		n, err := copyCtx(ctx, w, io.LimitReader(r, maxFile))
		if err != nil {
			w.Close()
			return n, fmt.Errorf("%s: %w", f.Name, err)
		}
		return n, w.Close()
	default:
		return 0, nil
	}
}

// copyCtx copies in chunks and stops when ctx ends.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, err := r.Read(buf)
		if k > 0 {
			m, werr := w.Write(buf[:k])
			n += int64(m)
			if werr != nil {
				return n, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
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
