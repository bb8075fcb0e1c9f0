package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"strings"
	"text/template"

	"github.com/driftd/driftd/pkg/repofs"
)

// File is a file on a node, desired or actual.
type File struct {
	// Path is absolute on the node.
	Path string
	// Content is the file's bytes.
	Content []byte
	// Mode holds the permission bits.
	Mode fs.FileMode
	// Owner and Group are names.
	Owner, Group string
	// Source is where a desired file comes from in the repo.
	Source string
	// Size is the file's size in bytes as the node reported it.
	Size int64
	// TooLarge is set when the file was larger than max_file_size: its
	// content was not read.
	TooLarge bool
	// Type is empty for a regular file; otherwise what the entry is (a
	// symbolic link, a FIFO, ...), which is never followed or read.
	Type FileType
	// Target is where a link points.
	Target string
}

// FileType names a node entry that is not a regular file.
type FileType string

// The entry types the node layer reports.
const (
	TypeSymlink  FileType = "symbolic link"
	TypeHardLink FileType = "hard link"
	TypeDir      FileType = "directory"
	TypeFIFO     FileType = "FIFO"
	TypeDevice   FileType = "device"
)

// templateData is what a file template sees.
type templateData struct {
	// Node is the node's inventory entry.
	Node Host
	// Vars are the inventory's vars overlaid with the node's.
	Vars map[string]any
}

// Roles holds the role files of one checkout, read and parsed once, so
// that rendering them for many nodes costs no further I/O.
type Roles struct {
	rfs      *repofs.FS
	rolesDir string
	scopes   []string
	roles    map[string]*role
}

// role is one role directory: its files, or why it could not be read.
type role struct {
	files []roleFile
	err   error
}

// roleFile is one file of a role, as read from the repo.
type roleFile struct {
	path string // absolute on the node
	src  string // relative to the repo
	mode fs.FileMode
	raw  []byte
	tmpl *template.Template // nil when the file has no template actions
}

// LoadRoles reads every role that a node of inv uses from rolesDir, through
// the repository jail rfs. A role whose name is not a plain name, a role
// file that leads outside the repository (a symbolic link) or is a link to
// a directory, a file whose node path lies outside every scope, and a file
// whose template does not parse are errors of the nodes that use the role:
// the scopes bound what the repository can make driftd read from nodes.
func LoadRoles(rfs *repofs.FS, rolesDir string, scopes []string, inv *Inventory) *Roles {
	r := &Roles{rfs: rfs, rolesDir: rolesDir, scopes: scopes, roles: map[string]*role{}}
	for _, h := range inv.Nodes {
		for _, name := range h.Roles {
			if _, ok := r.roles[name]; !ok {
				r.roles[name] = r.load(name)
			}
		}
	}
	return r
}

func (r *Roles) load(name string) *role {
	if err := repofs.Name(name); err != nil {
		return &role{err: fmt.Errorf("role %w", err)}
	}
	dir := path.Join(r.rolesDir, name)
	if err := r.rfs.Dir(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &role{err: fmt.Errorf("role %s: directory %s not found in the repo", name, dir)}
		}
		return &role{err: fmt.Errorf("role %s: %w", name, err)}
	}
	ro := &role{}
	var errs []error
	err := r.rfs.Walk(dir, func(src string, err error) error {
		if err != nil {
			errs = append(errs, fmt.Errorf("role %s: %w", name, err))
			return nil
		}
		nodePath := "/" + strings.TrimPrefix(src, dir+"/")
		if !Match(r.scopes, nodePath) {
			errs = append(errs, fmt.Errorf("%s: %s is outside every scope (%s); driftd reads only scoped files from nodes", src, nodePath, strings.Join(r.scopes, ", ")))
			return nil
		}
		f, err := r.readRoleFile(src)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		f.path = nodePath
		ro.files = append(ro.files, f)
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("role %s: %w", name, err))
	}
	ro.err = errors.Join(errs...)
	return ro
}

// readRoleFile reads one role file and parses it as a template, named by
// its repo-relative path so that errors read "template: nodes/roles/x/etc/y:3: ...".
func (r *Roles) readRoleFile(src string) (roleFile, error) {
	b, err := r.rfs.ReadFile(src)
	if err != nil {
		return roleFile{}, err
	}
	fi, err := r.rfs.Stat(src)
	if err != nil {
		return roleFile{}, err
	}
	f := roleFile{src: src, mode: 0o644, raw: b}
	if fi.Mode()&0o111 != 0 {
		f.mode = 0o755
	}
	if bytes.Contains(b, []byte("{{")) {
		if f.tmpl, err = template.New(src).Option("missingkey=error").Parse(string(b)); err != nil {
			return roleFile{}, err
		}
	}
	return f, nil
}

// Desired renders the files node h must carry: every file under each of its
// roles' directories, at the same path relative to the role directory,
// rendered as a text/template against the node. A template error names the
// file and line; two roles that disagree on a path are an error.
//
// Rendering is bounded: its output by the repository's max_file_size, its
// time by ctx (a template can loop without end: {{range 100000}}...).
func (r *Roles) Desired(ctx context.Context, inv *Inventory, h Host) (map[string]File, error) {
	vars := maps.Clone(inv.Vars)
	if vars == nil {
		vars = map[string]any{}
	}
	maps.Copy(vars, h.Vars)
	data := templateData{Node: h, Vars: vars}

	out := map[string]File{}
	var errs []error
	for _, name := range h.Roles {
		ro, ok := r.roles[name]
		if !ok {
			ro = r.load(name)
		}
		if ro.err != nil {
			errs = append(errs, ro.err)
		}
		for _, rf := range ro.files {
			f := File{Path: rf.path, Mode: rf.mode, Owner: "root", Group: "root", Source: rf.src, Content: rf.raw}
			if rf.tmpl != nil {
				content, err := render(ctx, rf.tmpl, data, r.rfs.MaxFileSize())
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", rf.src, err))
					if ctx.Err() != nil {
						return nil, errors.Join(errs...)
					}
					continue
				}
				f.Content = content
			}
			if prev, ok := out[f.Path]; ok && !bytes.Equal(prev.Content, f.Content) {
				errs = append(errs, fmt.Errorf("%s: conflicts with %s for %s (roles disagree)", f.Source, prev.Source, f.Path))
				continue
			}
			out[f.Path] = f
		}
	}
	return out, errors.Join(errs...)
}

// render executes t on its own goroutine, into a writer that stops at max
// bytes or when ctx ends, and stops waiting when ctx ends: a template that
// loops without writing cannot be interrupted, so it is abandoned (it ends
// with its loop; a one-shot check exits before that).
func render(ctx context.Context, t *template.Template, data any, max int64) ([]byte, error) {
	w := &capWriter{ctx: ctx, max: max}
	done := make(chan error, 1)
	go func() { done <- t.Execute(w, data) }()
	select {
	case err := <-done:
		if err != nil {
			return nil, err
		}
		return w.buf.Bytes(), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("rendering stopped: %w", context.Cause(ctx))
	}
}

// capWriter is a buffer that refuses to grow past max or to be written
// after its context ended.
type capWriter struct {
	ctx context.Context
	max int64
	buf bytes.Buffer
}

func (w *capWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	if int64(w.buf.Len()+len(p)) > w.max {
		return 0, fmt.Errorf("renders to more than %d bytes (max_file_size)", w.max)
	}
	return w.buf.Write(p)
}
