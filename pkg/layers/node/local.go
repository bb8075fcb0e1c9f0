package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// ReadLocal reads what r asks for from a host root mounted at root, the
// way driftd runs as a DaemonSet without SSH. It reads the same files the
// SSH fetch would; systemd is not asked.
func ReadLocal(root string, r Request) (Snapshot, error) {
	s := Snapshot{Files: map[string]File{}}
	var paths []string
	for _, g := range r.Scopes {
		m, err := filepath.Glob(filepath.Join(root, g))
		if err != nil {
			return s, fmt.Errorf("scope %s: %w", g, err)
		}
		paths = append(paths, m...)
	}
	for _, p := range r.Paths {
		paths = append(paths, filepath.Join(root, p))
	}
	for _, full := range paths {
		rel, err := filepath.Rel(root, full)
		if err != nil {
			return s, err
		}
		p := "/" + filepath.ToSlash(rel)
		if _, done := s.Files[p]; done {
			continue
		}
		fi, err := os.Lstat(full)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return s, fmt.Errorf("stat %s: %w", p, err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(full)
		if err != nil {
			return s, fmt.Errorf("read %s: %w", p, err)
		}
		f := File{Path: p, Content: b, Mode: fi.Mode().Perm()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			f.Owner = lookupUser(root, st.Uid)
			f.Group = lookupGroup(root, st.Gid)
		}
		s.Files[p] = f
	}
	return s, nil
}

// lookupUser names a uid. The host's names live in the mounted root's
// /etc/passwd, which may differ from the container's; fall back to the
// number.
func lookupUser(root string, uid uint32) string {
	if n, ok := lookupID(filepath.Join(root, "etc/passwd"), uid); ok {
		return n
	}
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(uid))
}

func lookupGroup(root string, gid uint32) string {
	if n, ok := lookupID(filepath.Join(root, "etc/group"), gid); ok {
		return n
	}
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		return g.Name
	}
	return strconv.Itoa(int(gid))
}
