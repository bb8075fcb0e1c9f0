//go:build integration

package infra

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
)

func TestInfraInSyncThenDrift(t *testing.T) {
	w := newWorld(t)
	w.stack("net", map[string]string{"main.tf": motdStack})
	w.apply("net")
	l := w.layer(config.Stack{Dir: "net"})

	res := w.check(l)["net"]
	if res.Status != drift.StatusInSync {
		t.Fatalf("applied stack: status %s, error %q, findings %v", res.Status, res.Error, changes(res))
	}

	// Someone edits one managed file and deletes another, out of band.
	w.write(filepath.Join(w.reality, "motd"), "hacked\n")
	if err := os.Remove(filepath.Join(w.reality, "hosts")); err != nil {
		t.Fatal(err)
	}
	res = w.check(l)["net"]
	want := []string{"drifted local_file.hosts", "drifted local_file.motd"}
	if diff := cmp.Diff(want, changes(res)); diff != "" {
		t.Fatalf("findings after out-of-band edits (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.Findings[0].Diff, "local_file.hosts has been deleted outside of Terraform") {
		t.Errorf("hosts diff:\n%s", res.Findings[0].Diff)
	}
}

func TestInfraPendingIsNotDrift(t *testing.T) {
	w := newWorld(t)
	w.stack("app", map[string]string{"main.tf": motdStack})
	w.apply("app")

	// A merged change that was never applied: a new default and a new resource.
	w.stack("app", map[string]string{"main.tf": strings.Replace(motdStack, `default = "hello"`, `default = "hello, world"`, 1) + `
resource "local_file" "extra" {
  filename = "${var.reality}/extra"
  content  = "x"
}
`})
	res := w.check(w.layer(config.Stack{Dir: "app"}))["app"]
	want := []string{"pending local_file.extra", "pending local_file.motd", "pending output.greeting"}
	if diff := cmp.Diff(want, changes(res)); diff != "" {
		t.Fatalf("findings (-want +got):\n%s", diff)
	}
	motd := res.Findings[1]
	if !strings.Contains(motd.Diff, `~ content = "hello\n" -> "hello, world\n"`) {
		t.Errorf("motd diff lacks the attribute change:\n%s", motd.Diff)
	}
	if got := motd.Details["actions"]; !slices.Equal(got.([]string), []string{"delete", "create"}) {
		t.Errorf("motd actions = %v, want replace (delete, create)", got)
	}
}
