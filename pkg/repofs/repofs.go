// Package repofs reads the config repository's checkout as a jail. Every
// path that driftd reads because the repository or driftd.yaml names it goes
// through an FS: the path is resolved inside the checkout, symbolic links
// included (an *os.Root does the resolving, so a link is followed only while
// it stays inside), and a file is read only up to a size bound. A symbolic
// link to a directory is refused rather than followed or skipped, so that a
// tree never silently reads as empty.
//
// Errors name the offending path, relative to the checkout, and never carry a
// file's content.
package repofs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// DefaultMaxFileSize bounds one file read from the checkout when the
// configuration sets no other bound (repo.max_file_size).
const DefaultMaxFileSize = 16 << 20

// The errors an FS returns, wrapped with the path they concern.
var (
	// ErrOutside means a path, or a symbolic link along it, leads outside
	// the checkout.
	ErrOutside = errors.New("leads outside the repository")
	// ErrDirSymlink means a path is a symbolic link to a directory, which
	// driftd does not follow.
	ErrDirSymlink = errors.New("is a symbolic link to a directory, which driftd does not follow")
	// ErrTooLarge means a file is larger than the FS's bound.
	ErrTooLarge = errors.New("is larger than the limit")
	// ErrNotDir means a path that must be a directory is not one.
	ErrNotDir = errors.New("is not a directory")
	// ErrNotRegular means a path that must be a regular file is not one.
	ErrNotRegular = errors.New("is not a regular file")
)

// FS reads one checkout. It is safe for concurrent use.
type FS struct {
	root    *os.Root
	dir     string
	maxFile int64
}

// Open opens the checkout at dir. maxFile bounds every file read; zero or
// less means DefaultMaxFileSize.
func Open(dir string, maxFile int64) (*FS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	if maxFile <= 0 {
		maxFile = DefaultMaxFileSize
	}
	return &FS{root: r, dir: abs, maxFile: maxFile}, nil
}

// Close releases the FS.
func (f *FS) Close() error { return f.root.Close() }

// Path returns the checkout's absolute path.
func (f *FS) Path() string { return f.dir }

// MaxFileSize returns the bound on one file.
func (f *FS) MaxFileSize() int64 { return f.maxFile }

// Clean checks a path that the configuration or the repository names and
// returns it in canonical form: slash-separated, relative to the checkout,
// without "." or ".." elements. An absolute path, or one whose ".." elements
// climb out of the checkout, is an error. Symbolic links are resolved later,
// by each read.
func Clean(name string) (string, error) {
	if name == "" {
		return ".", nil
	}
	n := filepath.ToSlash(name)
	if path.IsAbs(n) || filepath.IsAbs(name) {
		return "", fmt.Errorf("%s: must be relative to the repository root", Quote(name))
	}
	c := path.Clean(n)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%s: %w", Quote(name), ErrOutside)
	}
	return c, nil
}

// Name checks a single path element that the repository names, such as a
// role name: it must be a plain name, neither empty nor "." nor "..", with
// no slash.
func Name(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("%s: must be a plain name (no slash, neither . nor ..)", Quote(name))
	}
	return nil
}

// Quote renders a repository-supplied path for an error message: quoted,
// with control characters escaped.
func Quote(name string) string { return fmt.Sprintf("%q", name) }

// ReadFile reads a regular file, following symbolic links only inside the
// checkout, and refuses one larger than the bound without reading it.
func (f *FS) ReadFile(name string) ([]byte, error) {
	c, err := Clean(name)
	if err != nil {
		return nil, err
	}
	// O_NONBLOCK: opening a FIFO must not wait for a writer; the mode
	// check below refuses it.
	file, err := f.root.OpenFile(c, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, f.wrap(c, err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c, err)
	}
	if !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return nil, fmt.Errorf("%s: is a directory", c)
		}
		return nil, fmt.Errorf("%s: %w", c, ErrNotRegular)
	}
	if fi.Size() > f.maxFile {
		return nil, fmt.Errorf("%s: %w of %d bytes (%d bytes)", c, ErrTooLarge, f.maxFile, fi.Size())
	}
	b, err := io.ReadAll(io.LimitReader(file, f.maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c, err)
	}
	if int64(len(b)) > f.maxFile {
		// The file grew while it was read.
		return nil, fmt.Errorf("%s: %w of %d bytes", c, ErrTooLarge, f.maxFile)
	}
	return b, nil
}

// Stat returns the file info of name, following symbolic links only inside
// the checkout.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	c, err := Clean(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.root.Stat(c)
	if err != nil {
		return nil, f.wrap(c, err)
	}
	return fi, nil
}

// Exists reports whether name exists inside the checkout. A path that leads
// outside it is an error, not a "no".
func (f *FS) Exists(name string) (bool, error) {
	_, err := f.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Dir checks that name is a directory of the checkout: a real one, not a
// symbolic link to one.
func (f *FS) Dir(name string) error {
	c, err := Clean(name)
	if err != nil {
		return err
	}
	if err := f.noDirSymlinks(c); err != nil {
		return err
	}
	fi, err := f.root.Stat(c)
	if err != nil {
		return f.wrap(c, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: %w", c, ErrNotDir)
	}
	return nil
}

// noDirSymlinks refuses a path any element of which is a symbolic link
// (leading to a directory, or out of the checkout).
func (f *FS) noDirSymlinks(c string) error {
	if c == "." {
		return nil
	}
	p := ""
	for _, el := range strings.Split(c, "/") {
		p = path.Join(p, el)
		fi, err := f.root.Lstat(p)
		if err != nil {
			return f.wrap(p, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if _, err := f.root.Stat(p); err != nil {
				return f.wrap(p, err)
			}
			return fmt.Errorf("%s: %w", p, ErrDirSymlink)
		}
	}
	return nil
}

// WalkFunc is called by Walk for each file. name is relative to the
// checkout. err is set, and name is the offending entry, when an entry cannot
// be used: a symbolic link that leads outside the checkout or to a
// directory, or a directory that cannot be read. Returning an error stops
// the walk with that error; fs.SkipDir skips the rest of the directory.
type WalkFunc func(name string, err error) error

// Walk calls fn for every regular file under dir, in lexical order, and for
// every symbolic link that resolves to a regular file inside the checkout
// (ReadFile then reads its target). It never follows a symbolic link to a
// directory: such a link is reported to fn as an error. dir itself must be
// a real directory (see Dir).
func (f *FS) Walk(dir string, fn WalkFunc) error { return f.WalkDirs(dir, nil, fn) }

// WalkDirs is Walk that also calls dirFn, when not nil, for every directory
// below dir (not dir itself) before entering it; dirFn may return
// fs.SkipDir to leave the directory out.
func (f *FS) WalkDirs(dir string, dirFn func(name string) error, fn WalkFunc) error {
	c, err := f.cleanDir(dir)
	if err != nil {
		return err
	}
	return fs.WalkDir(f.root.FS(), c, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == c {
				return f.wrap(p, err)
			}
			return fn(p, f.wrap(p, err))
		}
		switch {
		case d.IsDir():
			if dirFn != nil && p != c {
				return dirFn(p)
			}
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			fi, err := f.root.Stat(p)
			switch {
			case err != nil:
				return fn(p, f.wrap(p, err))
			case fi.IsDir():
				return fn(p, fmt.Errorf("%s: %w", p, ErrDirSymlink))
			case !fi.Mode().IsRegular():
				return fn(p, fmt.Errorf("%s: %w", p, ErrNotRegular))
			}
			return fn(p, nil)
		case d.Type().IsRegular():
			return fn(p, nil)
		default:
			return fn(p, fmt.Errorf("%s: %w", p, ErrNotRegular))
		}
	})
}

func (f *FS) cleanDir(dir string) (string, error) {
	c, err := Clean(dir)
	if err != nil {
		return "", err
	}
	if err := f.Dir(c); err != nil {
		return "", err
	}
	return c, nil
}

// wrap turns an *os.Root error into one that names the path relative to the
// checkout and says plainly when the path leads outside it.
func (f *FS) wrap(c string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", c, fs.ErrNotExist)
	}
	if f.escapes(c) {
		return fmt.Errorf("%s: %w", c, ErrOutside)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", c, pe.Err)
	}
	return fmt.Errorf("%s: %w", c, err)
}

// escapes reports whether c, resolved with its symbolic links on the host,
// leads outside the checkout. os.Root refuses such a path with an error of
// its own; this tells that case apart from others without matching the
// error's text.
func (f *FS) escapes(c string) bool {
	p := filepath.Join(f.dir, filepath.FromSlash(c))
	for i := 0; i < 64; i++ {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return !within(f.dir, real)
		}
		// A dangling link: judge by where it points.
		target, lerr := os.Readlink(p)
		if lerr != nil {
			dir := filepath.Dir(p)
			if dir == p {
				return false
			}
			p = dir
			continue
		}
		if filepath.IsAbs(target) {
			return true
		}
		p = filepath.Join(filepath.Dir(p), target)
		if !within(f.dir, p) {
			return true
		}
	}
	return true
}

func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel)
}

// Within reports whether the path p is the directory dir or lies below it,
// lexically (both cleaned, neither resolved).
func Within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// ReadDir lists a directory of the checkout, sorted by name. Entries are
// not resolved: a symbolic link is listed as one.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	c, err := Clean(name)
	if err != nil {
		return nil, err
	}
	if err := f.noDirSymlinks(c); err != nil {
		return nil, err
	}
	es, err := fs.ReadDir(f.root.FS(), c)
	if err != nil {
		return nil, f.wrap(c, err)
	}
	return es, nil
}

// Rel turns an absolute path under the checkout into a checkout-relative
// one. A path elsewhere is an ErrOutside error.
func (f *FS) Rel(abs string) (string, error) {
	rel, err := filepath.Rel(f.dir, abs)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return "", fmt.Errorf("%s: %w", Quote(abs), ErrOutside)
	}
	return filepath.ToSlash(rel), nil
}
