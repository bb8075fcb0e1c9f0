package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/driftd/driftd/pkg/drift"
)

// Compare turns a node's desired files and what was read from it into
// findings. It is pure. Desired files are checked wherever they are; files
// found in a managed scope that Git does not know are unmanaged, reported
// by name, size and SHA-256 unless showUnmanaged is set, because a file
// written by hand may hold a credential. An entry that is not a regular
// file (a symbolic link, a FIFO, ...) is reported as what it is, and a file
// too large to compare by its size: neither is ever read. Names that came
// from the node are escaped.
func Compare(node string, desired map[string]File, got Snapshot, scopes []string, showUnmanaged bool) []drift.Finding {
	var out []drift.Finding
	node = Escape(node)
	for _, p := range sortedPaths(desired) {
		want := desired[p]
		have, ok := got.Files[p]
		if !ok {
			out = append(out, drift.Finding{
				Object: Escape(p), Change: drift.ChangeMissing,
				Diff:    unified(node, p, want.Content, nil),
				Details: map[string]any{"source": want.Source},
			})
			continue
		}
		if note, details := special(have); note != "" {
			details["source"] = want.Source
			out = append(out, drift.Finding{
				Object: Escape(p), Change: drift.ChangeChanged,
				Diff:    fmt.Sprintf("# %s:%s %s; Git has a regular file of %d bytes\n", node, Escape(p), note, len(want.Content)),
				Details: details,
			})
			continue
		}
		var notes []string
		if want.Mode != have.Mode {
			notes = append(notes, fmt.Sprintf("mode %s in Git, %s on the node", octal(want.Mode), octal(have.Mode)))
		}
		if want.Owner != have.Owner || want.Group != have.Group {
			notes = append(notes, fmt.Sprintf("owner %s:%s in Git, %s:%s on the node", want.Owner, want.Group, Escape(have.Owner), Escape(have.Group)))
		}
		same := bytes.Equal(want.Content, have.Content)
		if same && len(notes) == 0 {
			continue
		}
		var diff strings.Builder
		for _, n := range notes {
			diff.WriteString("# " + n + "\n")
		}
		if !same {
			diff.WriteString(unified(node, p, want.Content, have.Content))
		}
		out = append(out, drift.Finding{
			Object: Escape(p), Change: drift.ChangeChanged, Diff: diff.String(),
			Details: map[string]any{"source": want.Source, "content_changed": !same, "mode_or_owner_changed": len(notes) > 0},
		})
	}
	for _, p := range sortedPaths(got.Files) {
		if _, ok := desired[p]; ok || !Match(scopes, p) {
			continue
		}
		have := got.Files[p]
		f := drift.Finding{Object: Escape(p), Change: drift.ChangeUnmanaged}
		switch note, details := special(have); {
		case note != "":
			f.Diff, f.Details = fmt.Sprintf("# %s:%s %s\n", node, Escape(p), note), details
		case showUnmanaged:
			f.Diff = unified(node, p, nil, have.Content)
		default:
			sum := sha256.Sum256(have.Content)
			f.Diff = fmt.Sprintf("# %s:%s: unmanaged file of %d bytes, sha256 %x (content not shown: unmanaged_content is hash)\n", node, Escape(p), len(have.Content), sum)
			f.Details = map[string]any{"size": len(have.Content), "sha256": hex.EncodeToString(sum[:])}
		}
		out = append(out, f)
	}
	for _, u := range got.NeedReload {
		if !hasDropIn(desired, u) {
			continue
		}
		out = append(out, drift.Finding{
			Object: "systemd:" + u, Change: drift.ChangeChanged,
			Diff: fmt.Sprintf("# %s: unit files or drop-ins changed on disk, but systemd still runs the old definition (NeedDaemonReload=yes); run systemctl daemon-reload\n", u),
		})
	}
	return out
}

// special describes a node entry that is compared by what it is rather
// than by content: not a regular file, or too large to read.
func special(f File) (string, map[string]any) {
	switch {
	case f.Type == TypeSymlink || f.Type == TypeHardLink:
		return fmt.Sprintf("is a %s to %s (not followed)", f.Type, Escape(f.Target)), map[string]any{"type": string(f.Type), "target": Escape(f.Target)}
	case f.Type != "":
		return fmt.Sprintf("is a %s (not read)", f.Type), map[string]any{"type": string(f.Type)}
	case f.TooLarge:
		return fmt.Sprintf("is too large to compare (%d bytes; max_file_size)", f.Size), map[string]any{"size": f.Size, "too_large": true}
	}
	return "", nil
}

// Units lists the systemd units that desired drop-ins belong to.
func Units(desired map[string]File) []string {
	var out []string
	for p := range desired {
		if u, ok := dropInUnit(p); ok && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

// dropInUnit maps /etc/systemd/system/kubelet.service.d/x.conf to
// kubelet.service.
func dropInUnit(p string) (string, bool) {
	dir, file, ok := strings.Cut(strings.TrimPrefix(p, "/etc/systemd/system/"), "/")
	if !ok || p == dir || !strings.HasSuffix(dir, ".d") || !strings.HasSuffix(file, ".conf") || strings.Contains(file, "/") {
		return "", false
	}
	return strings.TrimSuffix(dir, ".d"), true
}

func hasDropIn(desired map[string]File, unit string) bool {
	for p := range desired {
		if u, ok := dropInUnit(p); ok && u == unit {
			return true
		}
	}
	return false
}

// unified is a unified diff from Git's content to the node's, headed by the
// node and path. nil means the file does not exist on that side.
func unified(node, p string, git, live []byte) string {
	from, to := "git:"+Escape(p), node+":"+Escape(p)
	if git == nil {
		from = "/dev/null"
	}
	if live == nil {
		to = "/dev/null"
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(git), B: lines(live), FromFile: from, ToFile: to, Context: 3,
	})
	if err != nil {
		return fmt.Sprintf("# diff failed: %v\n", err)
	}
	return d
}

// lines splits content for difflib, marking a missing final newline as diff
// does.
func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	out := difflib.SplitLines(string(b))
	if last := out[len(out)-1]; last == "\n" {
		out = out[:len(out)-1]
	} else if !bytes.HasSuffix(b, []byte("\n")) {
		out[len(out)-1] = strings.TrimSuffix(last, "\n") + "\n\\ No newline at end of file\n"
	}
	return out
}

func octal(m fs.FileMode) string { return fmt.Sprintf("%04o", uint32(m.Perm())) }

func sortedPaths(m map[string]File) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
