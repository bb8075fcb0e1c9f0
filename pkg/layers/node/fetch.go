package node

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
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

// The default bounds on what one node may send.
const (
	// DefaultMaxFileSize bounds one file's content (max_file_size).
	DefaultMaxFileSize = 1 << 20
	// DefaultMaxNodeSize bounds one node's whole answer (max_node_size).
	DefaultMaxNodeSize = 64 << 20
)

// Escape makes a name or message that came from a node safe to print:
// control characters, including the escape sequences that can rewrite a
// terminal, are shown as Go escapes, and invalid UTF-8 as \x escapes.
func Escape(s string) string {
	if !utf8.ValidString(s) || strings.IndexFunc(s, isControl) >= 0 {
		q := strconv.Quote(s)
		return q[1 : len(q)-1]
	}
	return s
}

// isControl reports C0 and C1 control characters and DEL.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

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
	// Every entry is listed, whatever its type: tar records a symbolic
	// link, a FIFO or a device as what it is, without following or
	// reading it, and the comparison reports it. "." and ".." (which the
	// dot-file variant of a glob also matches) are skipped.
	b.WriteString("echo " + tarMarker + "; set +f; set --; ")
	for _, g := range r.Scopes {
		for _, v := range globVariants(g) {
			b.WriteString("for f in " + globQuote(v) + "; do case \"$f\" in */.|*/..) continue;; esac; { [ -e \"$f\" ] || [ -L \"$f\" ]; } && set -- \"$@\" \"$f\"; done; ")
		}
	}
	for _, p := range r.Paths {
		if Match(r.Scopes, p) {
			continue // the scope's glob lists it already
		}
		b.WriteString("{ [ -e " + shellQuote(p) + " ] || [ -L " + shellQuote(p) + " ]; } && set -- \"$@\" " + shellQuote(p) + "; ")
	}
	// A file that is a hard link of another listed file comes as a link to
	// that earlier entry, which Parse resolves, so both compare as files;
	// no tar option is needed, so busybox's tar works as well as GNU tar.
	b.WriteString("[ $# -eq 0 ] && exit 0; exec tar --no-recursion -cf - -- \"$@\" 2>/dev/null")
	return b.String()
}

// Limits bound what is read from one node.
type Limits struct {
	// MaxFileSize bounds one file's content. A larger file is kept as a
	// File with TooLarge set and no content: its body is skipped, never
	// held in memory.
	MaxFileSize int64
	// MaxNodeSize bounds everything the node sends, skipped bodies
	// included. Past it the fetch fails.
	MaxNodeSize int64
}

// ErrNodeTooLarge is returned, wrapped, when a node sends more than
// Limits.MaxNodeSize bytes.
var ErrNodeTooLarge = errors.New("node sent more than the limit")

// limitedReader fails, rather than ending quietly, once more than n bytes
// have been read.
type limitedReader struct {
	r    io.Reader
	n    int64
	read int64
	// last names the entry being read, for the error.
	last string
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.read > l.n {
		return 0, l.err()
	}
	if int64(len(p)) > l.n-l.read+1 {
		p = p[:l.n-l.read+1]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.n {
		return n, l.err()
	}
	return n, err
}

func (l *limitedReader) err() error {
	if l.last != "" {
		return fmt.Errorf("%w of %d bytes (max_node_size), while reading %s", ErrNodeTooLarge, l.n, l.last)
	}
	return fmt.Errorf("%w of %d bytes (max_node_size)", ErrNodeTooLarge, l.n)
}

// maxHeaderLine bounds one line of the fetch's header.
const maxHeaderLine = 4096

// Parse reads the output of Command as it streams in: memory stays bounded
// by lim whatever the node sends, and an error from r (such as a closed
// connection at the node's timeout) ends the parse.
func Parse(r io.Reader, lim Limits) (Snapshot, error) {
	if lim.MaxFileSize <= 0 {
		lim.MaxFileSize = DefaultMaxFileSize
	}
	if lim.MaxNodeSize <= 0 {
		lim.MaxNodeSize = DefaultMaxNodeSize
	}
	s := Snapshot{Files: map[string]File{}}
	lr := &limitedReader{r: r, n: lim.MaxNodeSize}
	br := bufio.NewReaderSize(lr, maxHeaderLine)
	first, err := readLine(br)
	if err != nil || first != marker {
		if errors.Is(err, ErrNodeTooLarge) {
			return s, err
		}
		return s, fmt.Errorf("unexpected output from node: %s", Escape(truncate(first, 80)))
	}
	unit := ""
	for {
		line, err := readLine(br)
		if err != nil {
			if errors.Is(err, ErrNodeTooLarge) || errors.Is(err, errLongLine) {
				return s, err
			}
			return s, fmt.Errorf("unexpected end of output from node: no file listing (is tar installed?): %w", err)
		}
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
			if errors.Is(err, io.ErrUnexpectedEOF) && len(s.Files) == 0 && lr.read <= lr.n {
				// No file matched: tar wrote nothing at all.
				break
			}
			return s, fmt.Errorf("read files from node: %w", err)
		}
		p := "/" + strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		lr.last = Escape(p)
		f := File{Path: p, Mode: fs.FileMode(h.Mode).Perm(), Owner: h.Uname, Group: h.Gname, Size: h.Size}
		switch h.Typeflag {
		case tar.TypeReg:
			if h.Size > lim.MaxFileSize {
				f.TooLarge = true
				break // tar skips the body on Next, without keeping it
			}
			content, err := io.ReadAll(io.LimitReader(tr, lim.MaxFileSize+1))
			if err != nil {
				return s, fmt.Errorf("read %s from node: %w", Escape(p), err)
			}
			f.Content = content
		case tar.TypeSymlink:
			f.Type, f.Target = TypeSymlink, h.Linkname
		case tar.TypeLink:
			// A hard link to an entry earlier in the stream, as tar
			// sends the second name of a file: it has that file's content.
			target := "/" + strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
			if prev, ok := s.Files[target]; ok && prev.Type == "" {
				f.Content, f.TooLarge, f.Size = prev.Content, prev.TooLarge, prev.Size
			} else {
				f.Type, f.Target = TypeHardLink, h.Linkname
			}
		case tar.TypeDir:
			f.Type = TypeDir
		case tar.TypeFifo:
			f.Type = TypeFIFO
		case tar.TypeChar, tar.TypeBlock:
			f.Type = TypeDevice
		default:
			f.Type = FileType(fmt.Sprintf("tar type %q", h.Typeflag))
		}
		s.Files[p] = f
	}
	lr.last = ""
	// tar pads its archive; a node may also keep sending after it. Drain
	// what follows, still bounded, so that the session can end.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return s, fmt.Errorf("read from node after the files: %w", err)
	}
	slices.Sort(s.NeedReload)
	return s, nil
}

var errLongLine = fmt.Errorf("unexpected output from node: a header line longer than %d bytes", maxHeaderLine)

// readLine reads one line of at most maxHeaderLine bytes, without its end.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errLongLine
	}
	return strings.TrimSpace(string(line)), err
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

// globVariants returns g and, when g's last element starts with a
// wildcard, the same glob for dot files, which a shell's * never matches
// (Go's path.Match, which decides what is in scope, does match them).
func globVariants(g string) []string {
	dir, last := path.Split(g)
	if last != "" && strings.ContainsAny(last[:1], "*?[") {
		return []string{g, dir + "." + last}
	}
	return []string{g}
}

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
