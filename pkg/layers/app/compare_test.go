package app

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftd/driftd/pkg/ignore"
	"github.com/driftd/driftd/pkg/yamlconf"
)

var update = flag.Bool("update", false, "rewrite golden files")

func readObject(t *testing.T, p string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(b)
	if err != nil || len(objs) != 1 {
		t.Fatalf("%s: %v", p, err)
	}
	return objs[0]
}

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("diff (-want +got):\n%s", d)
	}
}

// TestCompareGolden runs the pure part of the comparison (normalize, ignore
// paths, diff) on testdata/compare/<case>/{git,live}.yaml, with the rules in
// ignore.yaml if there is one, and compares the diff with want.diff
// (rewritten by -update; an empty want.diff means in sync). The secret key
// is fixed so that Secret hashes are stable.
func TestCompareGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/compare/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	key := []byte("a fixed key for golden files only")
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			git, live := readObject(t, filepath.Join(dir, "git.yaml")), readObject(t, filepath.Join(dir, "live.yaml"))
			var rules []ignore.Rule
			if b, err := os.ReadFile(filepath.Join(dir, "ignore.yaml")); err == nil {
				if err := yamlconf.DecodeStrict("ignore.yaml", b, &rules); err != nil {
					t.Fatal(err)
				}
			}
			l := &Layer{ignore: rules}
			g, lv := normalize(git, key), normalize(live, key)
			for _, p := range l.ignoredPaths(git) {
				removePointer(g, p)
				removePointer(lv, p)
			}
			dropOwned(lv, []map[string]any{g}, managedFields(live, l.ignoredManagers(git)))
			got := ""
			if !reflect.DeepEqual(g, lv) {
				got = yamlDiff(ID(git), g, lv)
			}
			for _, secret := range []string{"hunter2", "hunter3", "aHVudGVy"} {
				if strings.Contains(got, secret) {
					t.Errorf("the diff shows a Secret value: %s", got)
				}
			}
			golden(t, filepath.Join(dir, "want.diff"), got)
		})
	}
}

// TestReadOnlyGolden runs the read-only comparison on
// testdata/readonly/<case>/{git,live}.yaml, where live.yaml was recorded
// from a real kube-apiserver (managedFields included) by
// TestRecordReadOnly (go test -tags integration -run TestRecordReadOnly
// -record), and compares the diff with want.diff (rewritten by -update; an
// empty want.diff means in sync). The manager that want.managers names, if
// any, must be the first one the finding names.
func TestReadOnlyGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/readonly/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	key := []byte("a fixed key for golden files only")
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			git, live := readObject(t, filepath.Join(dir, "git.yaml")), readObject(t, filepath.Join(dir, "live.yaml"))
			cfg := Config{}
			cfg.Defaults()
			l := &Layer{cfg: cfg}
			g, lv := normalize(git, key), normalize(live, key)
			for _, p := range annotationPaths(git) {
				removePointer(g, p)
				removePointer(lv, p)
			}
			want := newReadOnly(live, lv, l.classify).want(g)
			got := ""
			if !reflect.DeepEqual(want, lv) {
				got = yamlDiff(ID(git), want, lv)
				for _, c := range changedBy(live, want, lv) {
					got = "# changed by " + c.String() + "\n" + got
				}
			}
			golden(t, filepath.Join(dir, "want.diff"), got)
		})
	}
}
