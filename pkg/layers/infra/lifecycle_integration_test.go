//go:build integration

package infra

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/pkg/drift"
)

// firewallStack uses driftd/cloudfile (testenv/tfprovider), whose resources
// refresh attributes in place as a cloud provider's do: hashicorp/local
// only ever sees a changed file as a deleted resource.
const firewallStack = `
provider "cloudfile" {
  root = var.reality
}
resource "cloudfile_firewall" "web" {
  name        = "web"
  description = "web tier"
  ports       = [443]
  tags        = { team = "web", cost = "a" }
  lifecycle {
    ignore_changes = [tags["team"], description]
  }
}
resource "cloudfile_firewall" "db" {
  name        = "db"
  description = "database"
  ports       = [5432]
}
`

// firewallModule is the same rule inside a module, with ignore_changes =
// all, in JSON syntax.
const firewallModule = `{
  "variable": {"root": {"type": "string"}},
  "terraform": {"required_providers": {"cloudfile": {"source": "driftd/cloudfile"}}},
  "resource": {"cloudfile_firewall": {"cache": {
    "count": 2,
    "name": "cache-${count.index}",
    "description": "cache",
    "lifecycle": {"ignore_changes": "all"}
  }}}
}`

// TestInfraIgnoreChangesIsNotDrift: drift only in attributes that
// lifecycle ignore_changes names is not drift, for terraform and tofu;
// drift in any other attribute of the same resource is, and so is a
// resource deleted outside Terraform, ignore_changes or not.
func TestInfraIgnoreChangesIsNotDrift(t *testing.T) { binaries(t, testInfraIgnoreChangesIsNotDrift) }

func testInfraIgnoreChangesIsNotDrift(t *testing.T, bin string) {
	w := newWorldWith(t, bin)
	w.stack("fw", map[string]string{"main.tf": firewallStack + `
module "caches" {
  source = "./modules/cache"
  root   = var.reality
}
`})
	mod := filepath.Join(w.repo, "fw", "modules", "cache")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	w.write(filepath.Join(mod, "main.tf.json"), firewallModule)
	w.write(filepath.Join(mod, "provider.tf"), "provider \"cloudfile\" {\n  root = var.root\n}\n")
	w.apply("fw")
	l := w.layer(Stack{Dir: "fw", AllowReplace: true})
	if res := w.check(l)["fw"]; res.Status != drift.StatusInSync {
		t.Fatalf("applied stack: status %s, error %q, findings %v", res.Status, res.Error, changes(res))
	}

	// In the console: an ignored tag and the ignored description of web,
	// everything about the module's caches.
	w.edit("web", func(r map[string]any) {
		r["description"] = "hand edit"
		r["tags"].(map[string]any)["team"] = "ops"
	})
	w.edit("cache-0", func(r map[string]any) { r["description"] = "resized"; r["ports"] = []int{6379} })
	res := w.check(l)["fw"]
	counted, ignored := splitIgnored(res)
	if res.Error != "" || len(counted) != 0 {
		t.Fatalf("drift only in ignored attributes: error %q, findings %v", res.Error, counted)
	}
	if got := ignored["cloudfile_firewall.web"]; !strings.Contains(got, `lifecycle ignore_changes = [tags.team, description] at fw/main.tf:`) {
		t.Errorf("web is not ignored by its lifecycle rule: %q (all: %v)", got, ignored)
	}
	if got := ignored[`module.caches.cloudfile_firewall.cache[0]`]; !strings.Contains(got, "ignore_changes = [all] at fw/modules/cache/main.tf.json:") {
		t.Errorf("cache[0] is not ignored by the module's rule: %q (all: %v)", got, ignored)
	}

	// Another attribute of the same resource (a tag the rule does not
	// name), an attribute of a resource without rules, and a deletion
	// under ignore_changes = all are drift.
	w.edit("web", func(r map[string]any) { r["tags"].(map[string]any)["cost"] = "b" })
	w.edit("db", func(r map[string]any) { r["ports"] = []int{5432, 22} })
	if err := os.Remove(filepath.Join(w.reality, "cache-1.json")); err != nil {
		t.Fatal(err)
	}
	res = w.check(l)["fw"]
	counted, _ = splitIgnored(res)
	want := []string{
		"drifted cloudfile_firewall.db",
		"drifted cloudfile_firewall.web",
		`drifted module.caches.cloudfile_firewall.cache[1]`,
	}
	if diff := cmp.Diff(want, counted); diff != "" {
		t.Fatalf("findings (-want +got):\n%s", diff)
	}
	for _, f := range res.Findings {
		if f.Object == "cloudfile_firewall.web" && !strings.Contains(f.Diff, `tags.cost = "a" -> "b"`) {
			t.Errorf("web's diff does not show the tag that is drift:\n%s", f.Diff)
		}
	}

	// Apply restores what is drift and, as terraform does, leaves what
	// ignore_changes names as reality has it.
	res.Findings = slices.DeleteFunc(res.Findings, func(f drift.Finding) bool { return f.Details["ignored_by"] != nil })
	for _, r := range w.applyDrift(l, res, false) {
		if r.Result != "applied" {
			t.Fatalf("apply %s: %s: %s", r.Object, r.Result, r.Reason)
		}
	}
	var web map[string]any
	if err := json.Unmarshal([]byte(w.read(filepath.Join(w.reality, "web.json"))), &web); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"team": "ops", "cost": "a"}; !cmp.Equal(web["tags"], want) || web["description"] != "hand edit" {
		t.Errorf("web after apply: %v, want tags %v and the hand-edited description", web, want)
	}
	counted, _ = splitIgnored(w.check(l)["fw"])
	if len(counted) != 0 {
		t.Errorf("after apply: %v", counted)
	}
}

// splitIgnored lists a result's findings as "CHANGE OBJECT", apart from
// those a rule set aside (details ignored_by), which it maps to the rule.
func splitIgnored(res drift.TargetResult) (counted []string, ignored map[string]string) {
	ignored = map[string]string{}
	for _, f := range res.Findings {
		if by, ok := f.Details["ignored_by"].(string); ok {
			ignored[f.Object] = by
			continue
		}
		counted = append(counted, string(f.Change)+" "+f.Object)
	}
	return counted, ignored
}

// edit changes one cloudfile object behind Terraform's back.
func (w *world) edit(name string, fn func(map[string]any)) {
	w.t.Helper()
	path := filepath.Join(w.reality, name+".json")
	b, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		w.t.Fatal(err)
	}
	fn(r)
	b, err = json.Marshal(r)
	if err != nil {
		w.t.Fatal(err)
	}
	w.write(path, string(b))
}
