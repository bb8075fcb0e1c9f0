package node

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"text/template"
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
}

// templateData is what a file template sees.
type templateData struct {
	// Node is the node's inventory entry.
	Node Host
	// Vars are the inventory's vars overlaid with the node's.
	Vars map[string]any
}

// Desired renders the files node h must carry: every file under each of its
// roles' directories, at the same path relative to the role directory,
// rendered as a text/template. repoDir is the checkout; rolesDir is relative
// to it. A template error names the file and line.
func Desired(repoDir, rolesDir string, inv *Inventory, h Host) (map[string]File, error) {
	vars := maps.Clone(inv.Vars)
	if vars == nil {
		vars = map[string]any{}
	}
	maps.Copy(vars, h.Vars)
	data := templateData{Node: h, Vars: vars}

	out := map[string]File{}
	var errs []error
	for _, role := range h.Roles {
		dir := filepath.Join(repoDir, rolesDir, role)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			errs = append(errs, fmt.Errorf("role %s: directory %s not found in the repo", role, filepath.Join(rolesDir, role)))
			continue
		}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			src, _ := filepath.Rel(repoDir, p)
			f, err := render(p, src, data)
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			f.Path = "/" + filepath.ToSlash(rel)
			if prev, ok := out[f.Path]; ok && !bytes.Equal(prev.Content, f.Content) {
				errs = append(errs, fmt.Errorf("%s: conflicts with %s for %s (roles disagree)", src, prev.Source, f.Path))
				return nil
			}
			out[f.Path] = f
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("role %s: %w", role, err))
		}
	}
	return out, errors.Join(errs...)
}

// render renders one role file. src is its repo-relative path, which names
// the template so that errors read "template: nodes/roles/x/etc/y:3: ...".
func render(path, src string, data templateData) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", src, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return File{}, err
	}
	mode := fs.FileMode(0o644)
	if fi.Mode()&0o111 != 0 {
		mode = 0o755
	}
	f := File{Mode: mode, Owner: "root", Group: "root", Source: src}
	if !bytes.Contains(b, []byte("{{")) {
		f.Content = b
		return f, nil
	}
	t, err := template.New(src).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return File{}, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return File{}, err
	}
	f.Content = buf.Bytes()
	return f, nil
}
