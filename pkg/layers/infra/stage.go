package infra

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/driftd/driftd/pkg/repofs"
)

// stageTree copies the repository's files, read through the jail rfs, into
// dst, which terraform then runs in: terraform sees only what lies inside
// the repository (a symbolic link that leaves it, or one to a directory, is
// not copied), and what terraform writes (the dependency lock file, say)
// lands in driftd's cache, never in the checkout. It returns the entries it
// refused, by repository path, so that the stacks holding them can fail
// with the reason.
func stageTree(rfs *repofs.FS, dst string) (map[string]error, error) {
	if err := os.RemoveAll(dst); err != nil {
		return nil, fmt.Errorf("clear %s: %w", dst, err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	refused := map[string]error{}
	err := rfs.WalkDirs(".", func(dir string) error {
		if path.Base(dir) == ".git" || path.Base(dir) == ".terraform" {
			return fs.SkipDir
		}
		return os.MkdirAll(filepath.Join(dst, filepath.FromSlash(dir)), 0o755)
	}, func(name string, err error) error {
		if err != nil {
			refused[name] = err
			return nil
		}
		b, err := rfs.ReadFile(name)
		if err != nil {
			refused[name] = err
			return nil
		}
		mode := fs.FileMode(0o644)
		if fi, err := rfs.Stat(name); err == nil && fi.Mode()&0o111 != 0 {
			mode = 0o755
		}
		return os.WriteFile(filepath.Join(dst, filepath.FromSlash(name)), b, mode)
	})
	return refused, err
}

// refusedIn returns the refused entries inside dir, as one error.
func refusedIn(refused map[string]error, dir string) error {
	var errs []error
	for p, err := range refused {
		if dir == "." || p == dir || strings.HasPrefix(p, dir+"/") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
