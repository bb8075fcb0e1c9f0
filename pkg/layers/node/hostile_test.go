package node

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// stream builds fetch output: the header, then a tar stream of entries.
func stream(t *testing.T, entries ...*tar.Header) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(marker + "\n" + tarMarker + "\n")
	tw := tar.NewWriter(&b)
	for _, h := range entries {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &b
}

func TestParseBoundsAndTypes(t *testing.T) {
	out := stream(t,
		&tar.Header{Name: "etc/big.conf", Typeflag: tar.TypeReg, Size: 5000, Mode: 0o644},
		&tar.Header{Name: "etc/ok.conf", Typeflag: tar.TypeReg, Size: 10, Mode: 0o644},
		&tar.Header{Name: "etc/key.conf", Typeflag: tar.TypeSymlink, Linkname: "/etc/kubernetes/pki/ca.key"},
		&tar.Header{Name: "etc/same.conf", Typeflag: tar.TypeLink, Linkname: "etc/ok.conf"},
		&tar.Header{Name: "etc/pipe.conf", Typeflag: tar.TypeFifo},
		&tar.Header{Name: "etc/\x1b]52;c;ZXZpbA==\x07.conf", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
	)
	snap, err := Parse(out, Limits{MaxFileSize: 4096, MaxNodeSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if f := snap.Files["/etc/big.conf"]; !f.TooLarge || f.Content != nil || f.Size != 5000 {
		t.Errorf("big: %+v, want too large without content", f)
	}
	if f := snap.Files["/etc/key.conf"]; f.Type != TypeSymlink || f.Target != "/etc/kubernetes/pki/ca.key" || f.Content != nil {
		t.Errorf("symlink: %+v", f)
	}
	if f := snap.Files["/etc/same.conf"]; f.Type != "" || string(f.Content) != "xxxxxxxxxx" {
		t.Errorf("hard link: %+v, want the linked file's content", f)
	}
	if f := snap.Files["/etc/pipe.conf"]; f.Type != TypeFIFO {
		t.Errorf("fifo: %+v", f)
	}

	desired := map[string]File{"/etc/key.conf": {Path: "/etc/key.conf", Content: []byte("k\n"), Mode: 0o644}}
	findings := Compare("n\x1b[2J", desired, snap, []string{"/etc/*.conf"}, false)
	var all strings.Builder
	for _, f := range findings {
		all.WriteString(f.Object + "\n" + f.Diff)
	}
	text := all.String()
	for _, want := range []string{"symbolic link to /etc/kubernetes/pki/ca.key (not followed)", "too large to compare (5000 bytes", "is a FIFO", `\x1b]52`} {
		if !strings.Contains(text, want) {
			t.Errorf("findings do not say %q:\n%s", want, text)
		}
	}
	if strings.ContainsAny(text, "\x1b\x07") {
		t.Errorf("findings carry raw control characters from the node:\n%q", text)
	}
	if strings.Contains(text, "xxxxxxxxxx") {
		t.Errorf("an unmanaged file's content is shown with unmanaged_content: hash:\n%s", text)
	}
}

// endless is a reader that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'A'
	}
	return len(p), nil
}

func TestParseEndlessStreamBounded(t *testing.T) {
	for name, r := range map[string]io.Reader{
		"header line": io.MultiReader(strings.NewReader(marker+"\n"), endless{}),
		"tar body":    io.MultiReader(stream(t), endless{}), // garbage after the archive
		"one huge entry": func() io.Reader {
			var b bytes.Buffer
			b.WriteString(marker + "\n" + tarMarker + "\n")
			tw := tar.NewWriter(&b)
			_ = tw.WriteHeader(&tar.Header{Name: "etc/zero.conf", Typeflag: tar.TypeReg, Size: 1 << 40, Mode: 0o644})
			return io.MultiReader(&b, endless{})
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Parse(r, Limits{MaxFileSize: 1 << 20, MaxNodeSize: 8 << 20})
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("an endless stream parsed without error")
			}
			if name != "header line" && !errors.Is(err, ErrNodeTooLarge) {
				t.Errorf("error %v, want ErrNodeTooLarge", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
				t.Errorf("allocated %d KiB reading an endless stream", grew>>10)
			}
		})
	}
}

// TestCommandFileTypes runs the fetch command in a real shell with real
// tar: links are reported and not followed, hard links of two desired
// files compare as two files, and dot files in a scope are fetched.
func TestCommandFileTypes(t *testing.T) {
	root := t.TempDir()
	d := root + "/etc/systemd/system/kubelet.service.d"
	writeTree(t, root, map[string]string{
		"etc/systemd/system/kubelet.service.d/10-a.conf":    "a\n",
		"etc/systemd/system/kubelet.service.d/.hidden.conf": "dot\n",
		"secret/ca.key": "TOP-SECRET\n",
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Link(d+"/10-a.conf", d+"/20-b.conf"))
	must(os.Symlink(root+"/secret/ca.key", d+"/30-key.conf"))
	must(syscall.Mkfifo(d+"/40-pipe.conf", 0o644))
	scopes := []string{root + "/etc/systemd/system/*.d/*.conf"}
	req := Request{Scopes: scopes, Paths: []string{d + "/10-a.conf", d + "/20-b.conf", d + "/.hidden.conf"}}
	cmd := exec.Command("sh", "-c", req.Command())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fetch command: %v", err)
	}
	snap, err := Parse(bytes.NewReader(out), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("TOP-SECRET")) {
		t.Error("the fetch read a symbolic link's target")
	}
	for p, want := range map[string]string{"/10-a.conf": "a\n", "/20-b.conf": "a\n", "/.hidden.conf": "dot\n"} {
		if got := snap.Files[d+p]; got.Type != "" || string(got.Content) != want {
			t.Errorf("%s: %+v, want a regular file %q", p, got, want)
		}
	}
	if f := snap.Files[d+"/30-key.conf"]; f.Type != TypeSymlink || f.Target != root+"/secret/ca.key" {
		t.Errorf("symlink: %+v", f)
	}
	if f := snap.Files[d+"/40-pipe.conf"]; f.Type != TypeFIFO {
		t.Errorf("fifo: %+v", f)
	}
	// The same through the local transport.
	local, err := ReadLocal(root, Request{Scopes: []string{"/etc/systemd/system/*.d/*.conf"}}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ld := "/etc/systemd/system/kubelet.service.d"
	if f := local.Files[ld+"/30-key.conf"]; f.Type != TypeSymlink || f.Content != nil {
		t.Errorf("local symlink: %+v", f)
	}
	if f := local.Files[ld+"/40-pipe.conf"]; f.Type != TypeFIFO {
		t.Errorf("local fifo: %+v", f)
	}
	if f := local.Files[ld+"/.hidden.conf"]; string(f.Content) != "dot\n" {
		t.Errorf("local dot file: %+v", f)
	}
}

func TestRolesStayInRepoAndScopes(t *testing.T) {
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	writeTree(t, base, map[string]string{"secret.key": "TOP-SECRET\n"})
	writeTree(t, repo, map[string]string{
		"r/ok/etc/systemd/system/k.service.d/a.conf":   "a\n",
		"r/pki/etc/kubernetes/pki/ca.key":              "",
		"r/link/etc/systemd/system/k.service.d/a.conf": "a\n",
		"inv-ok.yaml":  "nodes: [{name: n, address: x}]\n",
		"inv-bad.yaml": "nodes: [{name: n, address: [TOP-SECRET]}]\n",
	})
	if err := os.Symlink("../../../../../../../secret.key", filepath.Join(repo, "r/link/etc/systemd/system/k.service.d/b.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../secret.key", filepath.Join(repo, "inv-link.yaml")); err != nil {
		t.Fatal(err)
	}
	rfs := openRepo(t, repo)
	for roles, want := range map[string]string{
		"../../x": "must be a plain name",
		"a/b":     "must be a plain name",
		"pki":     "/etc/kubernetes/pki/ca.key is outside every scope",
		"link":    "r/link/etc/systemd/system/k.service.d/b.conf: leads outside the repository",
	} {
		h := Host{Name: "n", Roles: []string{"ok", roles}}
		inv := &Inventory{Nodes: []Host{h}}
		got, err := LoadRoles(rfs, "r", defaultScopes, inv).Desired(context.Background(), inv, h)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("role %s: %v, want %q", roles, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "TOP-SECRET") {
			t.Errorf("role %s: error quotes a file: %v", roles, err)
		}
		for _, f := range got {
			if strings.Contains(string(f.Content), "TOP-SECRET") {
				t.Errorf("role %s: read a file outside the repository", roles)
			}
		}
	}
	for _, dir := range []string{"../", "r/../.."} {
		h := Host{Name: "n", Roles: []string{"ok"}}
		inv := &Inventory{Nodes: []Host{h}}
		if _, err := LoadRoles(rfs, dir, defaultScopes, inv).Desired(context.Background(), inv, h); err == nil || !strings.Contains(err.Error(), "leads outside the repository") {
			t.Errorf("roles_dir %s: %v, want it refused", dir, err)
		}
	}
	if _, err := LoadInventory(rfs, "inv-link.yaml"); err == nil || !strings.Contains(err.Error(), "leads outside the repository") {
		t.Errorf("inventory symlink: %v", err)
	}
	if _, err := LoadInventory(rfs, "../secret.key"); err == nil {
		t.Error("inventory ../ was read")
	}
	_, err := LoadInventory(rfs, "inv-bad.yaml")
	if err == nil || strings.Contains(err.Error(), "TOP-SECRET") || !strings.Contains(err.Error(), "inv-bad.yaml:1") {
		t.Errorf("inventory decode error %v: want file and line, without content", err)
	}
}

// TestNodeDurationAndLocal checks a node through the local transport and
// that its duration is measured (it was always 0).
func TestNodeDurationAndLocal(t *testing.T) {
	repo, host := t.TempDir(), t.TempDir()
	writeTree(t, repo, map[string]string{
		"nodes/inventory.yaml": "nodes: [{name: n1, address: 127.0.0.1, roles: [base]}]\n",
		"nodes/roles/base/etc/systemd/system/k.service.d/a.conf": "a\n",
	})
	writeTree(t, host, map[string]string{
		"etc/systemd/system/k.service.d/a.conf":     "changed\n",
		"etc/systemd/system/k.service.d/debug.conf": "Environment=DB_PASSWORD=TOP-SECRET\n",
	})
	l, err := New(Config{Inventory: "nodes/inventory.yaml", RolesDir: "nodes/roles", Scopes: defaultScopes,
		Transport: "local", LocalRoot: host, LocalNode: "n1", Parallelism: 1, Timeout: yamlconf.Duration(time.Minute),
		UnmanagedContent: "hash"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Check(context.Background(), drift.Snapshot{Dir: repo})
	if err != nil || len(res) != 1 {
		t.Fatalf("check: %v %v", res, err)
	}
	if res[0].Duration <= 0 {
		t.Errorf("duration %v, want it measured", res[0].Duration)
	}
	if len(res[0].Findings) != 2 {
		t.Fatalf("findings %+v, want a change and an unmanaged file", res[0].Findings)
	}
	for _, f := range res[0].Findings {
		if strings.Contains(f.Diff, "TOP-SECRET") {
			t.Errorf("unmanaged file content shown: %s", f.Diff)
		}
	}
}
