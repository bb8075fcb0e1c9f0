package app

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/repofs"
)

const secret = "hunter2-TOP-SECRET"

const configMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
data:
  k: v
`

// writeTree writes files (path -> content) under a new repo, plus a file
// outside it holding the secret, and returns the repo's path.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	if err := os.WriteFile(filepath.Join(base, "secret.yaml"), []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {password: "+secret+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for p, c := range files {
		full := filepath.Join(repo, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "symlink:"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return repo
}

func load(t *testing.T, repo string, paths ...string) ([]Object, error) {
	t.Helper()
	rfs, err := repofs.Open(repo, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	return Load(t.Context(), rfs, paths, LoadOptions{})
}

func names(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Obj.GetName())
	}
	slices.Sort(out)
	return out
}

func noSecret(t *testing.T, objs []Object, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("error quotes file content: %v", err)
	}
	for _, o := range objs {
		if strings.Contains(fmt.Sprint(o.Obj.Object), secret) {
			t.Errorf("loaded the secret from outside the repo: %s (%s)", o.Obj.GetName(), o.Source)
		}
	}
}

func TestLoadStaysInRepo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		path    string
		want    []string // objects that must still load
		wantErr error
		errPath string // the error must name this path
	}{
		{
			name:    "top-level path is a symlink to a directory",
			files:   map[string]string{"real/a.yaml": fmt.Sprintf(configMap, "a"), "apps": "symlink:real"},
			path:    "apps",
			wantErr: repofs.ErrDirSymlink, errPath: "apps",
		},
		{
			name:    "directory symlink under the path",
			files:   map[string]string{"apps/a.yaml": fmt.Sprintf(configMap, "a"), "other/b.yaml": fmt.Sprintf(configMap, "b"), "apps/more": "symlink:../other"},
			path:    "apps",
			want:    []string{"a"},
			wantErr: repofs.ErrDirSymlink, errPath: "apps/more",
		},
		{
			name:    "file symlink out of the repo",
			files:   map[string]string{"apps/a.yaml": fmt.Sprintf(configMap, "a"), "apps/s.yaml": "symlink:../../secret.yaml"},
			path:    "apps",
			want:    []string{"a"},
			wantErr: repofs.ErrOutside, errPath: "apps/s.yaml",
		},
		{
			name:    "path with ..",
			files:   map[string]string{"apps/a.yaml": fmt.Sprintf(configMap, "a")},
			path:    "../",
			wantErr: repofs.ErrOutside,
		},
		{
			name:  "file symlink inside the repo is read",
			files: map[string]string{"apps/a.yaml": "symlink:../shared/a.yaml", "shared/a.yaml": fmt.Sprintf(configMap, "a")},
			path:  "apps",
			want:  []string{"a"},
		},
		{
			name: "kustomize base outside the repo",
			files: map[string]string{
				"apps/kustomization.yaml": "resources: [../../]\n",
			},
			path:    "apps",
			wantErr: repofs.ErrOutside,
		},
		{
			name: "kustomize resource symlinked out of the repo",
			files: map[string]string{
				"apps/kustomization.yaml": "resources: [s.yaml, a.yaml]\n",
				"apps/a.yaml":             fmt.Sprintf(configMap, "a"),
				"apps/s.yaml":             "symlink:../../secret.yaml",
			},
			path:    "apps",
			wantErr: repofs.ErrOutside, errPath: "apps/s.yaml",
		},
		{
			name: "kustomize base through a directory symlink",
			files: map[string]string{
				"apps/kustomization.yaml": "resources: [base]\n",
				"real/kustomization.yaml": "resources: [a.yaml]\n",
				"real/a.yaml":             fmt.Sprintf(configMap, "a"),
				"apps/base":               "symlink:../real",
			},
			path:    "apps",
			wantErr: repofs.ErrDirSymlink, errPath: "apps/base",
		},
		{
			name: "kustomize with a local base works",
			files: map[string]string{
				"apps/prod/kustomization.yaml": "resources: [../base]\nnamePrefix: prod-\n",
				"apps/base/kustomization.yaml": "resources: [a.yaml]\n",
				"apps/base/a.yaml":             fmt.Sprintf(configMap, "a"),
			},
			path: "apps/prod",
			want: []string{"prod-a"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := load(t, writeTree(t, tc.files), tc.path)
			noSecret(t, objs, err)
			if got := names(objs); !slices.Equal(got, tc.want) {
				t.Errorf("loaded %v, want %v", got, tc.want)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Load error %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.errPath) {
				t.Errorf("error %q does not name %s", err, tc.errPath)
			}
		})
	}
}

func TestLoadErrorsDoNotQuoteContent(t *testing.T) {
	repo := writeTree(t, map[string]string{
		"apps/nokind.yaml":              "apiVersion: v1\nmetadata: {name: x}\ndata: {password: " + secret + "}\n",
		"apps/list.yaml":                "- " + secret + "\n",
		"apps/badtype.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata: " + secret + "\n",
		"apps/syntax.yaml":              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\ndata: " + secret + "\n",
		"apps/ok.yaml":                  fmt.Sprintf(configMap, "ok"),
		"apps/dupkey.yaml":              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\ndata: {a: " + secret + ", a: " + secret + "}\n",
		"apps/notobj.json":              `"` + secret + `"`,
		"apps/scalars.yaml":             secret + "\n",
		"apps/kust/x.yaml":              "",
		"apps/kust2/a.yaml":             "",
		"apps/kust/README":              secret,
		"apps/kust2/kustomization.yaml": "resources: [" + secret + "\n",
	})
	objs, err := load(t, repo, "apps")
	if got := names(objs); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("loaded %v, want the good file still loaded", got)
	}
	if err == nil {
		t.Fatal("no error for broken files")
	}
	noSecret(t, objs, err)
	for _, f := range []string{"nokind.yaml", "list.yaml", "badtype.yaml", "syntax.yaml", "notobj.json", "scalars.yaml"} {
		if !strings.Contains(err.Error(), "apps/"+f) {
			t.Errorf("error does not name apps/%s:\n%v", f, err)
		}
	}
}

// billionLaughs is a YAML alias bomb: ten levels of ten aliases each, 10^10
// nodes once expanded, in under a kilobyte.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nx:\n")
	b.WriteString("  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "  a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestLoadAliasBombBounded(t *testing.T) {
	bomb := billionLaughs()
	anchors := "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: anchors}\ndata: &d {k: v}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: anchors2, labels: &l {a: b}}\ndata: *l\n"
	repo := writeTree(t, map[string]string{
		"apps/bomb.yaml":          bomb,
		"apps/ok.yaml":            fmt.Sprintf(configMap, "ok"),
		"apps/anchors.yaml":       anchors,
		"kust/kustomization.yaml": "resources: [bomb.yaml]\n",
		"kust/bomb.yaml":          bomb,
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	objs, err := load(t, repo, "apps", "kust")
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("loading allocated %d MiB; an alias bomb must be refused before it expands", grew>>20)
	}
	if !errors.Is(err, ErrAliasBomb) {
		t.Fatalf("error %v, want ErrAliasBomb", err)
	}
	for _, f := range []string{"apps/bomb.yaml", "kust/bomb.yaml"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
	if got := names(objs); !slices.Equal(got, []string{"anchors", "anchors2", "ok"}) {
		t.Errorf("loaded %v; the other files, anchors included, must still load", got)
	}
}

// silentListener accepts connections and never answers, counting them.
func silentListener(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
	})
	return ln.Addr().String(), &n
}

func TestKustomizeRemoteRefused(t *testing.T) {
	addr, hits := silentListener(t)
	for name, k := range map[string]string{
		"http resource":       "resources: ['http://" + addr + "/x.yaml?timeout=120s']\n",
		"https resource":      "resources: [https://" + addr + "/x.yaml]\n",
		"git base":            "resources: ['git::http://" + addr + "/org/repo.git//base?ref=main&timeout=120s']\n",
		"scp-like git":        "resources: [git@" + addr + ":org/repo.git]\n",
		"schemeless git":      "resources: [" + addr + "/org/repo//base]\n",
		"component":           "components: [http://" + addr + "/c]\n",
		"http patch":          "resources: [a.yaml]\npatches: [{path: 'http://" + addr + "/p.yaml'}]\n",
		"http generator file": "resources: [a.yaml]\nconfigMapGenerator: [{name: g, files: ['k=http://" + addr + "/f']}]\n",
	} {
		t.Run(name, func(t *testing.T) {
			repo := writeTree(t, map[string]string{
				"apps/kustomization.yaml": k,
				"apps/a.yaml":             fmt.Sprintf(configMap, "a"),
				"plain/b.yaml":            fmt.Sprintf(configMap, "b"),
			})
			start := time.Now()
			objs, err := load(t, repo, "apps", "plain")
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %s, want a refusal well under a second", d)
			}
			if !errors.Is(err, ErrRemoteResource) {
				t.Fatalf("error %v, want ErrRemoteResource", err)
			}
			if !strings.Contains(err.Error(), "apps/kustomization.yaml") {
				t.Errorf("error does not name the kustomization: %v", err)
			}
			if got := names(objs); !slices.Equal(got, []string{"b"}) {
				t.Errorf("loaded %v, want the other path still loaded", got)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the remote was contacted %d times", n)
	}
}
