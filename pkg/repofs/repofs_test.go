package repofs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tree makes a checkout next to a secret that lies outside it, and returns
// the checkout's path. The secret's content must never be returned.
func tree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	must(t, os.WriteFile(filepath.Join(base, "secret"), []byte("TOP-SECRET-KEY\n"), 0o600))
	must(t, os.MkdirAll(filepath.Join(base, "outside-dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(base, "outside-dir", "x.yaml"), []byte("TOP-SECRET-KEY\n"), 0o600))
	for _, d := range []string{"apps/real", "roles/worker/etc", "shared"} {
		must(t, os.MkdirAll(filepath.Join(repo, d), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(repo, "apps/real/a.yaml"), []byte("a: 1\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(repo, "shared/common.conf"), []byte("shared\n"), 0o644))
	links := map[string]string{
		"apps/linked-dir":           "real",                        // directory symlink inside
		"apps-link":                 "apps/real",                   // top-level directory symlink
		"roles/worker/etc/key":      "../../../../secret",          // relative, out of the repo
		"roles/worker/etc/abs":      "/etc/passwd",                 // absolute
		"roles/worker/etc/ok.conf":  "../../../shared/common.conf", // inside: allowed
		"roles/worker/etc/dangling": "../../../../nonexistent",
		"roles/worker/etc/out-dir":  "../../../../outside-dir",
		"roles/worker/etc/loop":     "loop",
	}
	for name, target := range links {
		must(t, os.Symlink(target, filepath.Join(repo, name)))
	}
	return repo
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, dir string, max int64) *FS {
	t.Helper()
	f, err := Open(dir, max)
	must(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestReadFileStaysInside(t *testing.T) {
	f := open(t, tree(t), 0)
	for _, tc := range []struct {
		name    string
		wantErr error // nil: must read
	}{
		{"roles/worker/etc/ok.conf", nil},
		{"apps/real/a.yaml", nil},
		{"roles/worker/etc/key", ErrOutside},
		{"roles/worker/etc/abs", ErrOutside},
		{"roles/worker/etc/dangling", ErrOutside},
		{"roles/worker/etc/out-dir/x.yaml", ErrOutside},
		{"../secret", ErrOutside},
		{"apps/../../secret", ErrOutside},
		{"/etc/passwd", nil}, // absolute: refused, checked below
		{"roles/worker/etc/loop", nil},
		{"apps/nope.yaml", fs.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := f.ReadFile(tc.name)
			if strings.Contains(string(b), "TOP-SECRET") || (err != nil && strings.Contains(err.Error(), "TOP-SECRET")) {
				t.Fatalf("read the secret outside the repo: %q %v", b, err)
			}
			switch {
			case tc.name == "/etc/passwd" || tc.name == "roles/worker/etc/loop":
				if err == nil {
					t.Fatalf("read %s, want an error", tc.name)
				}
			case tc.wantErr == nil:
				if err != nil {
					t.Fatalf("ReadFile: %v", err)
				}
			default:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ReadFile error %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), strings.TrimPrefix(filepath.Clean(tc.name), "/")) && errors.Is(tc.wantErr, ErrOutside) && !strings.Contains(tc.name, "..") {
					t.Errorf("error %q does not name the path", err)
				}
			}
		})
	}
}

func TestReadFileBounded(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "big"), make([]byte, 4097), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "fits"), make([]byte, 4096), 0o644))
	f := open(t, dir, 4096)
	if _, err := f.ReadFile("big"); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "4097") {
		t.Errorf("big: %v, want ErrTooLarge naming the size", err)
	}
	if b, err := f.ReadFile("fits"); err != nil || len(b) != 4096 {
		t.Errorf("fits: %d bytes, %v", len(b), err)
	}
	// A FIFO would block a plain read forever.
	must(t, mkfifo(filepath.Join(dir, "fifo")))
	if _, err := f.ReadFile("fifo"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("fifo: %v, want ErrNotRegular", err)
	}
}

func TestDirRefusesSymlinks(t *testing.T) {
	f := open(t, tree(t), 0)
	if err := f.Dir("apps/real"); err != nil {
		t.Errorf("real directory: %v", err)
	}
	for name, want := range map[string]error{
		"apps-link":                ErrDirSymlink,
		"apps/linked-dir":          ErrDirSymlink,
		"roles/worker/etc/out-dir": ErrOutside,
		"apps/real/a.yaml":         ErrNotDir,
		"..":                       ErrOutside,
		"nope":                     fs.ErrNotExist,
	} {
		if err := f.Dir(name); !errors.Is(err, want) {
			t.Errorf("Dir(%s) = %v, want %v", name, err, want)
		}
	}
}

func TestWalkReportsLinks(t *testing.T) {
	f := open(t, tree(t), 0)
	var files []string
	errs := map[string]error{}
	must(t, f.Walk(".", func(name string, err error) error {
		if err != nil {
			errs[name] = err
			return nil
		}
		files = append(files, name)
		return nil
	}))
	want := []string{"apps/real/a.yaml", "roles/worker/etc/ok.conf", "shared/common.conf"}
	if !slices.Equal(files, want) {
		t.Errorf("files %v, want %v", files, want)
	}
	for name, wantErr := range map[string]error{
		"apps-link":                 ErrDirSymlink,
		"apps/linked-dir":           ErrDirSymlink,
		"roles/worker/etc/key":      ErrOutside,
		"roles/worker/etc/abs":      ErrOutside,
		"roles/worker/etc/dangling": ErrOutside,
		"roles/worker/etc/out-dir":  ErrOutside,
	} {
		if !errors.Is(errs[name], wantErr) {
			t.Errorf("%s: %v, want %v", name, errs[name], wantErr)
		}
	}
	if _, ok := errs["roles/worker/etc/loop"]; !ok {
		t.Errorf("a symlink loop was not reported")
	}
	for n, e := range errs {
		if strings.Contains(e.Error(), "TOP-SECRET") {
			t.Errorf("%s: error carries file content: %v", n, e)
		}
	}
}

func TestCleanAndName(t *testing.T) {
	for in, want := range map[string]string{"": ".", "a/b/../c": "a/c", "./x": "x", "a//b/": "a/b"} {
		if got, err := Clean(in); err != nil || got != want {
			t.Errorf("Clean(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"/etc", "..", "../x", "a/../../x"} {
		if _, err := Clean(bad); err == nil {
			t.Errorf("Clean(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", ".", "..", "../../x", "a/b", "a\x00b"} {
		if err := Name(bad); err == nil {
			t.Errorf("Name(%q) accepted", bad)
		}
	}
	if err := Name("control-plane"); err != nil {
		t.Errorf("Name(control-plane): %v", err)
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		dir, p string
		want   bool
	}{
		{"/repo", "/repo", true},
		{"/repo", "/repo/a/b", true},
		{"/repo", "/repo/../repo/a", true},
		{"/repo", "/repository", false},
		{"/repo", "/", false},
		{"/repo", "/repo/../etc", false},
		{"repo", "/repo", false},
	} {
		if got := Within(tc.dir, tc.p); got != tc.want {
			t.Errorf("Within(%q, %q) = %t, want %t", tc.dir, tc.p, got, tc.want)
		}
	}
}
