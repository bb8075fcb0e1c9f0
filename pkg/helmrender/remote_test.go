package helmrender

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// chartRepo is a chart repository served on loopback: index.yaml and the
// archives, with hooks to misbehave.
type chartRepo struct {
	archives map[string][]byte // name-version: archive
	digests  map[string]string // name-version: digest in the index (default: the real one)
	index    http.HandlerFunc  // replaces the index when set
	archive  http.HandlerFunc  // replaces the archives when set
	hits     atomic.Int32
	srv      *httptest.Server
}

func newChartRepo(t *testing.T, archives map[string][]byte) *chartRepo {
	r := &chartRepo{archives: archives, digests: map[string]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		switch {
		case req.URL.Path == "/repo/index.yaml" && r.index != nil:
			r.index(w, req)
		case req.URL.Path == "/repo/index.yaml":
			fmt.Fprint(w, r.indexYAML())
		case strings.HasPrefix(req.URL.Path, "/repo/charts/") && r.archive != nil:
			r.archive(w, req)
		case strings.HasPrefix(req.URL.Path, "/repo/charts/"):
			a, ok := r.archives[strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/repo/charts/"), ".tgz")]
			if !ok {
				http.NotFound(w, req)
				return
			}
			w.Write(a)
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *chartRepo) url() string { return r.srv.URL + "/repo/" }

func (r *chartRepo) indexYAML() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n")
	byName := map[string][]string{}
	for nv := range r.archives {
		i := strings.LastIndex(nv, "-")
		byName[nv[:i]] = append(byName[nv[:i]], nv[i+1:])
	}
	for name, versions := range byName {
		fmt.Fprintf(&b, "  %s:\n", name)
		for _, v := range versions {
			nv := name + "-" + v
			sum := sha256.Sum256(r.archives[nv])
			d := hex.EncodeToString(sum[:])
			if o, ok := r.digests[nv]; ok {
				d = o
			}
			fmt.Fprintf(&b, "    - apiVersion: v2\n      name: %s\n      version: %s\n      digest: %q\n      urls: [charts/%s.tgz]\n", name, v, d, nv)
		}
	}
	return b.String()
}

// remoteChart is a chart archive whose ConfigMap says its version.
func remoteChart(t *testing.T, version string) []byte {
	files := chartFiles("web")
	files["Chart.yaml"] = "apiVersion: v2\nname: web\nversion: " + version + "\n"
	files["values.yaml"] = "data: {version: \"" + version + "\", env: default}\n"
	files["values-prod.yaml"] = "data: {env: prod}\n"
	return tgz(t, "web", files)
}

func cmData(t *testing.T, res Result) map[string]any {
	t.Helper()
	for _, m := range res.Objects {
		if m.Object.GetKind() == "ConfigMap" {
			d, _ := m.Object.Object["data"].(map[string]any)
			return d
		}
	}
	t.Fatalf("no ConfigMap in %v", summary(res))
	return nil
}

func TestRemoteChart(t *testing.T) {
	repo := newChartRepo(t, map[string][]byte{"web-1.2.3": remoteChart(t, "1.2.3"), "web-1.3.0": remoteChart(t, "1.3.0")})
	rfs := openRepo(t, "testdata/repo")
	allow := Options{AllowRemote: true, HTTPTimeout: 5 * time.Second}
	for _, tt := range []struct {
		version, want, env string
		values             []string
	}{
		{"", "1.3.0", "default", nil},
		{"~1.2", "1.2.3", "default", nil},
		{"1.2.3", "1.2.3", "prod", []string{"values-prod.yaml"}},
	} {
		t.Run("version "+tt.version, func(t *testing.T) {
			req := Request{Chart: "web", RepoURL: repo.url(), Version: tt.version, ReleaseName: "x", ValuesFiles: tt.values}
			res, err := Render(t.Context(), rfs, req, testCaps, allow)
			if err != nil {
				t.Fatal(err)
			}
			d := cmData(t, res)
			if d["version"] != tt.want || d["env"] != tt.env || res.Version != tt.want {
				t.Errorf("rendered %v (chart %s), want version %s env %s", d, res.Version, tt.want, tt.env)
			}
		})
	}
	t.Run("no such version", func(t *testing.T) {
		_, err := Render(t.Context(), rfs, Request{Chart: "web", RepoURL: repo.url(), Version: ">=2", ReleaseName: "x"}, testCaps, allow)
		checkErr(t, err, "no chart version found for web->=2")
	})
	t.Run("no such chart", func(t *testing.T) {
		_, err := Render(t.Context(), rfs, Request{Chart: "nope", RepoURL: repo.url(), ReleaseName: "x"}, testCaps, allow)
		checkErr(t, err, "repository index")
	})
	t.Run("OCI", func(t *testing.T) {
		_, err := Render(t.Context(), rfs, Request{Chart: "web", RepoURL: "oci://127.0.0.1:1/charts", ReleaseName: "x"}, testCaps, allow)
		if !errors.Is(err, ErrOCI) {
			t.Errorf("error %v, want ErrOCI", err)
		}
	})
	t.Run("other schemes", func(t *testing.T) {
		_, err := Render(t.Context(), rfs, Request{Chart: "web", RepoURL: "file:///etc", ReleaseName: "x"}, testCaps, allow)
		checkErr(t, err, "only http and https chart repositories are supported")
	})
}

func TestRemoteDigest(t *testing.T) {
	archive := remoteChart(t, "1.0.0")
	repo := newChartRepo(t, map[string][]byte{"web-1.0.0": archive})
	rfs := openRepo(t, "testdata/repo")
	req := Request{Chart: "web", RepoURL: repo.url(), ReleaseName: "x"}
	cache := t.TempDir()
	opts := Options{AllowRemote: true, CacheDir: cache}

	repo.digests["web-1.0.0"] = strings.Repeat("0", 64)
	_, err := Render(t.Context(), rfs, req, testCaps, opts)
	checkErr(t, err, "does not match the digest of the repository index")
	if !errors.Is(err, ErrDigest) {
		t.Errorf("error %v, want ErrDigest", err)
	}
	repo.digests["web-1.0.0"] = "../../../etc/passwd"
	_, err = Render(t.Context(), rfs, req, testCaps, opts)
	checkErr(t, err, "malformed digest")

	// With the right digest, the archive is cached under it and used
	// again, the index still being fetched.
	delete(repo.digests, "web-1.0.0")
	if _, err := Render(t.Context(), rfs, req, testCaps, opts); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(archive)
	if _, err := os.Stat(filepath.Join(cache, hex.EncodeToString(sum[:])+".tgz")); err != nil {
		t.Fatal(err)
	}
	repo.archive = func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusInternalServerError) }
	before := repo.hits.Load()
	if _, err := Render(t.Context(), rfs, req, testCaps, opts); err != nil {
		t.Fatalf("from the cache: %v", err)
	}
	if n := repo.hits.Load() - before; n != 1 {
		t.Errorf("%d requests, want 1 (the index)", n)
	}
	// A corrupted cache entry is not used.
	os.WriteFile(filepath.Join(cache, hex.EncodeToString(sum[:])+".tgz"), []byte("corrupt"), 0o600)
	_, err = Render(t.Context(), rfs, req, testCaps, opts)
	checkErr(t, err, "500 Internal Server Error")
}

// TestRemoteHostile: whatever a chart repository serves, a fetch ends
// within its bound of time or size.
func TestRemoteHostile(t *testing.T) {
	rfs := openRepo(t, "testdata/repo")
	endless := func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("# padding\n", 1000))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	slowLoris := func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("apiVersion: v1\n"))
		for {
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
				w.Write([]byte("#"))
			}
		}
	}
	slowHeaders := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}
	hugeLength := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(int64(1)<<40))
		w.WriteHeader(http.StatusOK)
	}
	bomb := tgz(t, "web", map[string]string{"Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n", "pad": strings.Repeat("0", 8<<20)})
	tests := []struct {
		name           string
		index, archive http.HandlerFunc
		opts           Options
		want           string
	}{
		{"never-ending index", endless, nil, Options{MaxIndexSize: 1 << 20}, "body larger than the limit of 1048576 bytes"},
		{"huge Content-Length", hugeLength, nil, Options{}, "body larger than the limit of 33554432 bytes"},
		{"slow-loris index", slowLoris, nil, Options{HTTPTimeout: time.Second}, "repository index: GET"},
		{"no headers", slowHeaders, nil, Options{HTTPTimeout: time.Second}, "repository index: GET"},
		{"never-ending archive", nil, endless, Options{MaxChartSize: 1 << 20}, "body larger than the limit of 1048576 bytes"},
		{"decompression bomb", nil, nil, Options{MaxChartSize: 1 << 20}, "chart files larger than the limit of 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := remoteChart(t, "1.0.0")
			if tt.name == "decompression bomb" {
				archive = bomb
			}
			repo := newChartRepo(t, map[string][]byte{"web-1.0.0": archive})
			repo.index, repo.archive = tt.index, tt.archive
			opts := tt.opts
			opts.AllowRemote = true
			start := time.Now()
			_, err := Render(t.Context(), rfs, Request{Chart: "web", RepoURL: repo.url(), ReleaseName: "x"}, testCaps, opts)
			checkErr(t, err, tt.want)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
	t.Run("context ends", func(t *testing.T) {
		repo := newChartRepo(t, nil)
		repo.index = slowHeaders
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Render(ctx, rfs, Request{Chart: "web", RepoURL: repo.url(), ReleaseName: "x"}, testCaps, Options{AllowRemote: true})
		checkErr(t, err, "context deadline exceeded")
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %s", d)
		}
	})
}
