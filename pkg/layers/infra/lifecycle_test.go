package infra

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadIgnoreChanges(t *testing.T) {
	stage := t.TempDir()
	data := t.TempDir()
	writeFiles(t, stage, map[string]string{
		"stack/main.tf": `
resource "aws_instance" "web" {
  lifecycle {
    ignore_changes = [tags["team"], ingress[0].cidr_blocks, user_data]
  }
}
resource "aws_instance" "all" {
  lifecycle { ignore_changes = all }
}
resource "aws_instance" "old" {
  lifecycle { ignore_changes = [all] }
}
resource "aws_instance" "none" {
  lifecycle { create_before_destroy = true }
}
data "aws_ami" "x" {
  lifecycle { ignore_changes = [tags] }
}
`,
		"stack/over_override.tf": `
resource "aws_instance" "none" {
  lifecycle { ignore_changes = [ami] }
}
`,
		"stack/extra.tf.json": `{"resource": {"aws_s3_bucket": {"logs": {"lifecycle": {"ignore_changes": ["tags.owner", "acl"]}}}}}`,
		"stack/mod/main.tf":   "resource \"aws_iam_role\" \"r\" {\n  lifecycle {\n    ignore_changes = [description]\n  }\n}\n",
	})
	writeFiles(t, data, map[string]string{
		"modules/modules.json": `{"Modules":[{"Key":"","Source":"","Dir":"."},{"Key":"iam","Source":"./mod","Dir":"mod"},{"Key":"iam.inner","Source":"../mod","Dir":"mod"}]}`,
	})
	got, err := readIgnoreChanges(stage, filepath.Join(stage, "stack"), data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ignoreChanges{
		"aws_instance.web":                       {paths: []string{"tags.team", "ingress[0].cidr_blocks", "user_data"}, where: "stack/main.tf:4"},
		"aws_instance.all":                       {all: true, where: "stack/main.tf:8"},
		"aws_instance.old":                       {all: true, where: "stack/main.tf:11"},
		"aws_instance.none":                      {paths: []string{"ami"}, where: "stack/over_override.tf:3"},
		"aws_s3_bucket.logs":                     {paths: []string{"tags.owner", "acl"}, where: "stack/extra.tf.json:1"},
		"module.iam.aws_iam_role.r":              {paths: []string{"description"}, where: "stack/mod/main.tf:3"},
		"module.iam.module.inner.aws_iam_role.r": {paths: []string{"description"}, where: "stack/mod/main.tf:3"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(ignoreChanges{})); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}

func TestConfigAddress(t *testing.T) {
	for in, want := range map[string]string{
		"aws_instance.web":                           "aws_instance.web",
		"aws_instance.web[3]":                        "aws_instance.web",
		`module.a["x]y"].module.b[0].t.n["k\"]"]`:    "module.a.module.b.t.n",
		`module.net.cloudfile_firewall.cache["a.b"]`: "module.net.cloudfile_firewall.cache",
	} {
		if got := configAddress(in); got != want {
			t.Errorf("configAddress(%s) = %s, want %s", in, got, want)
		}
	}
}

// A modules.json written by a hostile module source (or edited) cannot make
// driftd read configuration outside the staged repository and the stack's
// data directory; a huge file is refused, not read whole.
func TestReadIgnoreChangesStaysInBounds(t *testing.T) {
	stage := t.TempDir()
	data := t.TempDir()
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"main.tf": "resource \"x\" \"y\" {\n  lifecycle {\n    ignore_changes = all\n  }\n}\n"})
	writeFiles(t, stage, map[string]string{
		"stack/main.tf": `resource "a" "b" {}`,
		"stack/big.tf":  "# " + strings.Repeat("x", maxConfigFile) + "\n",
	})
	writeFiles(t, data, map[string]string{
		"modules/modules.json": `{"Modules":[{"Key":"evil","Dir":"` + outside + `"},{"Key":"up","Dir":"../../` + filepath.Base(outside) + `"}]}`,
	})
	got, err := readIgnoreChanges(stage, filepath.Join(stage, "stack"), data)
	if len(got) != 0 {
		t.Errorf("rules read from outside: %v", got)
	}
	for _, want := range []string{"module evil: directory outside", "module up: directory outside", "big.tf: larger than"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %q", err, want)
		}
	}
}
