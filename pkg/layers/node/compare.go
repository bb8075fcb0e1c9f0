package node

import (
	"bytes"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/driftd/driftd/pkg/drift"
)

// Compare turns a node's desired files and what was read from it into
// findings. It is pure. Desired files are checked wherever they are; files
// found in a managed scope that Git does not know are unmanaged.
func Compare(node string, desired map[string]File, got Snapshot, scopes []string) []drift.Finding {
	var out []drift.Finding
	for _, p := range sortedPaths(desired) {
		want := desired[p]
		have, ok := got.Files[p]
		if !ok {
			out = append(out, drift.Finding{
				Object: p, Change: drift.ChangeMissing,
				Diff:    unified(node, p, want.Content, nil),
				Details: map[string]any{"source": want.Source},
			})
			continue
		}
		var notes []string
		if want.Mode != have.Mode {
			notes = append(notes, fmt.Sprintf("mode %s in Git, %s on the node", octal(want.Mode), octal(have.Mode)))
		}
		if want.Owner != have.Owner || want.Group != have.Group {
			notes = append(notes, fmt.Sprintf("owner %s:%s in Git, %s:%s on the node", want.Owner, want.Group, have.Owner, have.Group))
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
			Object: p, Change: drift.ChangeChanged, Diff: diff.String(),
			Details: map[string]any{"source": want.Source, "content_changed": !same, "mode_or_owner_changed": len(notes) > 0},
		})
	}
	for _, p := range sortedPaths(got.Files) {
		if _, ok := desired[p]; ok || !Match(scopes, p) {
			continue
		}
		out = append(out, drift.Finding{
			Object: p, Change: drift.ChangeUnmanaged,
			Diff: unified(node, p, nil, got.Files[p].Content),
		})
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
	from, to := "git:"+p, node+":"+p
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
