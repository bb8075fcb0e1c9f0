package node

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Request says what to read from a node: every file matching the scopes,
// plus the desired paths (which may lie outside them), plus systemd's view
// of the units that have drop-ins.
type Request struct {
	// Scopes are absolute path globs.
	Scopes []string
	// Paths are absolute paths.
	Paths []string
	// Units are systemd units to ask NeedDaemonReload of.
	Units []string
}

// Snapshot is what was read from a node.
type Snapshot struct {
	// Files maps absolute paths to files.
	Files map[string]File
	// NeedReload lists the units systemd reports NeedDaemonReload=yes for.
	NeedReload []string
	// Systemd is false when the node has no running systemd to ask.
	Systemd bool
}

const (
	marker    = "DRIFTD-FETCH-1"
	tarMarker = "DRIFTD-TAR"
)

// Command builds the one shell command that reads everything in r: it
// prints a header with systemd's answers, then a tar stream of the files,
// which carries names, modes and owners with unambiguous framing. It needs
// only a POSIX shell and tar on the node, and systemctl if there is one.
// A desired path inside a scope is left to the scope's glob, so that no file
// is read twice.
func (r Request) Command() string {
	var b strings.Builder
	b.WriteString("set -f; echo " + marker + "; ")
	if len(r.Units) > 0 {
		b.WriteString("if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl show -p Id -p NeedDaemonReload --")
		for _, u := range r.Units {
			b.WriteString(" " + shellQuote(u))
		}
		b.WriteString(" 2>/dev/null; fi; ")
	}
	// The file names are collected with shell builtins into "$@" and tar
	// is exec'd: besides the session's shell, tar is the only process the
	// fetch starts on the node. Globs stay unquoted so that the shell
	// expands them; an unmatched glob stays literal and fails the -f test.
	b.WriteString("echo " + tarMarker + "; set +f; set --; ")
	for _, g := range r.Scopes {
		b.WriteString("for f in " + globQuote(g) + "; do [ -f \"$f\" ] && set -- \"$@\" \"$f\"; done; ")
	}
	for _, p := range r.Paths {
		if Match(r.Scopes, p) {
			continue // the scope's glob lists it already
		}
		b.WriteString("[ -f " + shellQuote(p) + " ] && set -- \"$@\" " + shellQuote(p) + "; ")
	}
	b.WriteString("[ $# -eq 0 ] && exit 0; exec tar --no-recursion -cf - -- \"$@\" 2>/dev/null")
	return b.String()
}

// Parse reads the output of Command.
func Parse(out []byte) (Snapshot, error) {
	s := Snapshot{Files: map[string]File{}}
	br := bufio.NewReader(bytes.NewReader(out))
	first, err := br.ReadString('\n')
	if err != nil || strings.TrimSpace(first) != marker {
		return s, fmt.Errorf("unexpected output from node: %q", truncate(first, 80))
	}
	unit := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return s, errors.New("unexpected end of output from node: no file listing (is tar installed?)")
		}
		line = strings.TrimSpace(line)
		if line == tarMarker {
			break
		}
		s.Systemd = true
		if v, ok := strings.CutPrefix(line, "Id="); ok {
			unit = v
		} else if v, ok := strings.CutPrefix(line, "NeedDaemonReload="); ok && v == "yes" {
			s.NeedReload = append(s.NeedReload, unit)
		}
	}
	tr := tar.NewReader(br)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) && len(s.Files) == 0 {
				// No file matched: tar wrote nothing at all.
				break
			}
			return s, fmt.Errorf("read files from node: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			return s, fmt.Errorf("read %s from node: %w", h.Name, err)
		}
		p := "/" + strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		s.Files[p] = File{Path: p, Content: content, Mode: fs.FileMode(h.Mode).Perm(), Owner: h.Uname, Group: h.Gname}
	}
	slices.Sort(s.NeedReload)
	return s, nil
}

// Match reports whether p is in one of the scopes.
func Match(scopes []string, p string) bool {
	for _, g := range scopes {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
	}
	return false
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// globQuote quotes everything in g but the glob characters * ? [ ].
func globQuote(g string) string {
	var b strings.Builder
	lit := func(s string) {
		if s != "" {
			b.WriteString(shellQuote(s))
		}
	}
	start := 0
	for i := 0; i < len(g); i++ {
		switch g[i] {
		case '*', '?', '[', ']':
			lit(g[start:i])
			b.WriteByte(g[i])
			start = i + 1
		}
	}
	lit(g[start:])
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
