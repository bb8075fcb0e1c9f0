package node

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path"
	"strconv"
	"strings"
	"syscall"
)

// ReadLocal reads what r asks for from a host root mounted at root, the
// way driftd runs as a DaemonSet without SSH. It reads the same entries the
// SSH fetch would, through an os.Root, with the same rules: an entry that
// is not a regular file is recorded as what it is and never followed or
// read, a file larger than lim.MaxFileSize is recorded by its size, and
// everything read counts against lim.MaxNodeSize. systemd is not asked.
func ReadLocal(root string, r Request, lim Limits) (Snapshot, error) {
	if lim.MaxFileSize <= 0 {
		lim.MaxFileSize = DefaultMaxFileSize
	}
	if lim.MaxNodeSize <= 0 {
		lim.MaxNodeSize = DefaultMaxNodeSize
	}
	s := Snapshot{Files: map[string]File{}}
	host, err := os.OpenRoot(root)
	if err != nil {
		return s, fmt.Errorf("open host root: %w", err)
	}
	defer host.Close()
	var paths []string
	for _, g := range r.Scopes {
		for _, v := range globVariants(g) {
			m, err := fs.Glob(host.FS(), strings.TrimPrefix(v, "/"))
			if err != nil {
				return s, fmt.Errorf("scope %s: %w", g, err)
			}
			for _, p := range m {
				if b := path.Base(p); b != "." && b != ".." {
					paths = append(paths, "/"+p)
				}
			}
		}
	}
	paths = append(paths, r.Paths...)
	var total int64
	for _, p := range paths {
		if _, done := s.Files[p]; done {
			continue
		}
		rel := strings.TrimPrefix(path.Clean(p), "/")
		fi, err := host.Lstat(rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return s, fmt.Errorf("stat %s: %w", Escape(p), err)
		}
		f := File{Path: p, Mode: fi.Mode().Perm(), Size: fi.Size()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			f.Owner = lookupUser(host, st.Uid)
			f.Group = lookupGroup(host, st.Gid)
		}
		switch t := fi.Mode().Type(); {
		case t == fs.ModeSymlink:
			f.Type = TypeSymlink
			f.Target, _ = host.Readlink(rel)
		case t == fs.ModeDir:
			f.Type = TypeDir
		case t == fs.ModeNamedPipe:
			f.Type = TypeFIFO
		case t&fs.ModeDevice != 0:
			f.Type = TypeDevice
		case t != 0:
			f.Type = FileType(t.String())
		case fi.Size() > lim.MaxFileSize:
			f.TooLarge = true
		default:
			b, err := readNoFollow(host, rel, lim.MaxFileSize)
			if err != nil {
				return s, fmt.Errorf("read %s: %w", Escape(p), err)
			}
			if total += int64(len(b)); total > lim.MaxNodeSize {
				return s, fmt.Errorf("%w of %d bytes (max_node_size), while reading %s", ErrNodeTooLarge, lim.MaxNodeSize, Escape(p))
			}
			f.Content = b
		}
		s.Files[p] = f
	}
	return s, nil
}

// readNoFollow reads a regular file of at most max bytes, refusing to
// follow a symbolic link that replaced it since it was checked.
func readNoFollow(host *os.Root, rel string, max int64) ([]byte, error) {
	f, err := host.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("changed into a %s while being read", fi.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		err = fmt.Errorf("grew past max_file_size (%d bytes) while being read", max)
	}
	return b, err
}

// lookupUser names a uid. The host's names live in the mounted root's
// /etc/passwd, which may differ from the container's; fall back to the
// number.
func lookupUser(host *os.Root, uid uint32) string {
	if n, ok := lookupID(host, "etc/passwd", uid); ok {
		return n
	}
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(uid))
}

func lookupGroup(host *os.Root, gid uint32) string {
	if n, ok := lookupID(host, "etc/group", gid); ok {
		return n
	}
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		return g.Name
	}
	return strconv.Itoa(int(gid))
}
