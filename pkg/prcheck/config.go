package prcheck

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/repofs"
)

// Outside checks that none of files (a setting's path in the config →
// the file it names, relative to the working directory) lies inside the
// checkout, where the pull request could have put its own: a kubeconfig
// with an exec command, a terraform binary, a provider in a plugin cache.
// Symbolic links on the way are resolved.
func Outside(files map[string]string, checkout string) error {
	root, err := resolve(checkout)
	if err != nil {
		return fmt.Errorf("checkout %s: %w", checkout, err)
	}
	var errs []string
	for field, p := range files {
		r, err := resolve(p)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		if repofs.Within(root, r) {
			errs = append(errs, fmt.Sprintf("%s: %q is inside the pull request's checkout, which the pull request controls; put it outside the checkout", field, p))
		}
	}
	slices.Sort(errs)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// resolve makes p absolute and resolves the symbolic links of its longest
// existing prefix.
func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest), nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// ConfigFinding compares the config file of the base (base) with the pull
// request's (head, nil when absent) and returns the change as a finding for
// review, or nil when there is none. The pull request's settings are never
// used.
func ConfigFinding(name string, base, head []byte) *drift.Finding {
	if string(base) == string(head) {
		return nil
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(base)), B: difflib.SplitLines(string(head)),
		FromFile: "base:" + name, ToFile: "pull-request:" + name, Context: 3,
	})
	if err != nil {
		d = fmt.Sprintf("# diff failed: %v\n", err)
	}
	return &drift.Finding{
		Object: name,
		Change: drift.ChangeChanged,
		Class:  drift.ClassIntroduced,
		Diff:   "# the pull request changes the config; its settings were not used, the base's were\n" + d,
	}
}

// ReadTreeFile reads a file of a tree (the pull request's checkout, or the
// extracted base) as data: a symbolic link is never followed (it could
// lead to .git/config, which may hold the job's token, or out of the tree),
// nor is anything but a regular file of at most max bytes read; those are
// described instead. A missing file is nil.
func ReadTreeFile(dir, name string, max int64) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	st, err := root.Lstat(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !st.Mode().IsRegular() || st.Size() > max {
		return []byte(fmt.Sprintf("# %s: not a regular file of at most %d bytes (%s), not read\n", name, max, st.Mode().Type())), nil
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(b)) > max {
		return []byte(fmt.Sprintf("# %s: larger than %d bytes, not read\n", name, max)), nil
	}
	return b, nil
}
