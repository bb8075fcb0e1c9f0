//go:build integration

package infra

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var record = flag.Bool("record", false, "re-record testdata/plans from real terraform runs")

// TestRecordPlans records the plan JSON of real terraform runs into
// testdata/plans/<case>/plan.json, for TestFindingsGolden. It runs only
// with -record: go test -tags integration -run RecordPlans -record.
func TestRecordPlans(t *testing.T) {
	if !*record {
		t.Skip("run with -record to re-record the plans")
	}
	save := func(w *world, stack, name string) {
		t.Helper()
		w.terraform(stack, "plan", "-input=false", "-no-color", "-lock=false", "-out=plan.bin")
		out := w.terraform(stack, "show", "-json", "plan.bin")
		// Keep the recording free of this run's temporary paths.
		out = strings.ReplaceAll(out, filepath.Dir(w.repo), "/tmp/world")
		dir := filepath.Join("testdata", "plans", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "plan.json"), []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sensitive := motdStack + `
variable "token" {
  type      = string
  sensitive = true
  default   = "old-token"
}
resource "local_file" "token" {
  filename = "${var.reality}/token"
  content  = var.token
}
`
	{ // nothing applied yet: everything pending
		w := newWorld(t)
		w.stack("s", map[string]string{"main.tf": motdStack})
		w.terraform("s", "init", "-input=false", "-no-color")
		save(w, "s", "pending-create")
	}
	{ // a managed file deleted outside Terraform
		w := newWorld(t)
		w.stack("s", map[string]string{"main.tf": motdStack})
		w.apply("s")
		if err := os.Remove(filepath.Join(w.reality, "hosts")); err != nil {
			t.Fatal(err)
		}
		save(w, "s", "deleted-outside")
	}
	{ // a file edited by hand, and a Git change to another
		w := newWorld(t)
		w.stack("s", map[string]string{"main.tf": motdStack})
		w.apply("s")
		w.write(filepath.Join(w.reality, "hosts"), "10.0.0.1 evil\n")
		w.write(filepath.Join(w.repo, "s", "main.tf"), strings.Replace(motdStack, `default = "hello"`, `default = "welcome"`, 1))
		save(w, "s", "drift-and-change")
	}
	{ // a sensitive value rotated in Git
		w := newWorld(t)
		w.stack("s", map[string]string{"main.tf": sensitive})
		w.apply("s")
		w.write(filepath.Join(w.repo, "s", "main.tf"), strings.Replace(sensitive, `"old-token"`, `"new-token"`, 1))
		save(w, "s", "sensitive-change")
	}
}
