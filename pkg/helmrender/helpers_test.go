package helmrender

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// writeTree writes files (path: content) under root.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// chartFiles is a minimal chart named name with one ConfigMap template.
func chartFiles(name string) map[string]string {
	return map[string]string{
		"Chart.yaml":          "apiVersion: v2\nname: " + name + "\nversion: 0.1.0\n",
		"values.yaml":         "data: {}\n",
		"templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-" + name + "\ndata: {{ .Values.data | toJson }}\n",
		"templates/_none.tpl": "",
	}
}

// prefixed returns files under dir.
func prefixed(dir string, files map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[dir+"/"+k] = v
	}
	return out
}

// tgz builds a chart archive of files under the top directory top, as
// helm package does.
func tgz(t testing.TB, top string, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		name := n
		if top != "" {
			name = top + "/" + n
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newRepo makes a repository with files, in a directory that has a
// sibling "outside" directory holding a secret, for escape attempts.
func newRepo(t testing.TB, files map[string]string) (repo, outside string) {
	t.Helper()
	base := t.TempDir()
	repo, outside = filepath.Join(base, "repo"), filepath.Join(base, "outside")
	writeTree(t, outside, map[string]string{
		"secret.yaml":        "leak: TOPSECRET-OUTSIDE\n",
		"chart/Chart.yaml":   "apiVersion: v2\nname: outside\nversion: 0.1.0\n",
		"chart/values.yaml":  "leak: TOPSECRET-OUTSIDE\n",
		"chart/templates/x":  "leak: TOPSECRET-OUTSIDE\n",
		"chart/templates/cm": "",
	})
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTree(t, repo, files)
	return repo, outside
}
