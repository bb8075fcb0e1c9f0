package node

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/pkg/repofs"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var defaultScopes = []string{"/etc/systemd/system/*.d/*.conf", "/etc/kubernetes/manifests/*.yaml"}

func openRepo(t *testing.T, dir string) *repofs.FS {
	t.Helper()
	rfs, err := repofs.Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rfs.Close() })
	return rfs
}

func TestDesired(t *testing.T) {
	repo := t.TempDir()
	writeTree(t, repo, map[string]string{
		"nodes/roles/base/etc/systemd/system/kubelet.service.d/10-flags.conf": "[Service]\nEnvironment=NODE_IP={{ .Vars.node_ip }} CLUSTER={{ .Vars.cluster }}\n",
		"nodes/roles/cp/etc/kubernetes/manifests/apiserver.yaml":              "advertise: {{ .Node.Address }}\nname: {{ .Node.Name }}\n",
		"nodes/roles/cp/etc/kubernetes/manifests/raw.yaml":                    "no template here: ${HOME}\n",
	})
	inv := &Inventory{Vars: map[string]any{"cluster": "prod", "node_ip": "unset"}}
	h := Host{Name: "cp1", Endpoint: Endpoint{Address: "10.0.0.11"}, Roles: []string{"base", "cp"}, Vars: map[string]any{"node_ip": "10.0.0.11"}}
	inv.Nodes = []Host{h}
	got, err := LoadRoles(openRepo(t, repo), "nodes/roles", defaultScopes, inv).Desired(context.Background(), inv, h)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/etc/systemd/system/kubelet.service.d/10-flags.conf": "[Service]\nEnvironment=NODE_IP=10.0.0.11 CLUSTER=prod\n",
		"/etc/kubernetes/manifests/apiserver.yaml":            "advertise: 10.0.0.11\nname: cp1\n",
		"/etc/kubernetes/manifests/raw.yaml":                  "no template here: ${HOME}\n",
	}
	if len(got) != len(want) {
		t.Errorf("got %d files, want %d", len(got), len(want))
	}
	for p, w := range want {
		if string(got[p].Content) != w {
			t.Errorf("%s = %q, want %q", p, got[p].Content, w)
		}
	}
	if s := got["/etc/kubernetes/manifests/apiserver.yaml"].Source; s != "nodes/roles/cp/etc/kubernetes/manifests/apiserver.yaml" {
		t.Errorf("source = %q", s)
	}
}

func TestDesiredErrors(t *testing.T) {
	repo := t.TempDir()
	writeTree(t, repo, map[string]string{
		"r/a/etc/x.conf":  "line one\nvalue={{ .Vars.missing }}\n",
		"r/b/etc/y.conf":  "ok\n{{ if }}\n",
		"r/c/etc/z.conf":  "one\n",
		"r/d/etc/z.conf":  "two\n",
		"r/ok/etc/w.conf": "fine\n",
	})
	for _, tc := range []struct {
		roles []string
		want  string
	}{
		{[]string{"a"}, `template: r/a/etc/x.conf:2:14: executing "r/a/etc/x.conf" at <.Vars.missing>: map has no entry for key "missing"`},
		{[]string{"b"}, "template: r/b/etc/y.conf:2: missing value for if"},
		{[]string{"c", "d"}, "r/d/etc/z.conf: conflicts with r/c/etc/z.conf for /etc/z.conf (roles disagree)"},
		{[]string{"ok", "nope"}, "role nope: directory r/nope not found in the repo"},
	} {
		h := Host{Name: "n", Roles: tc.roles}
		inv := &Inventory{Nodes: []Host{h}}
		_, err := LoadRoles(openRepo(t, repo), "r", []string{"/etc/*.conf"}, inv).Desired(context.Background(), inv, h)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("roles %v: err = %v, want %q", tc.roles, err, tc.want)
		}
	}
}

func TestLoadInventoryErrors(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]string{
		"nodes:\n  - name: a\n    adress: 1.2.3.4\n":                         `inv.yaml:3: unknown field "adress" in nodes.0`,
		"nodes:\n  - name: a\n    address: x\n  - name: a\n    address: y\n": "inv.yaml: node a: duplicate name",
		"nodes:\n  - name: a\n    address: x\n    jump: bastion\n":           `inv.yaml: node a: jump host "bastion" is not defined under jump_hosts`,
		"nodes:\n  - name: a\n":                                              "inv.yaml: node a: address is required",
	} {
		p := filepath.Join(dir, "inv.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadInventory(openRepo(t, dir), "inv.yaml")
		if err == nil || err.Error() != want {
			t.Errorf("inventory %q: err = %v, want %q", body, err, want)
		}
	}
}

// TestRolesReadOnce: role files are read when loaded, then rendered for any
// number of nodes without touching the disk again.
func TestRolesReadOnce(t *testing.T) {
	repo := t.TempDir()
	writeTree(t, repo, map[string]string{"r/base/etc/a.conf": "ip={{ .Node.Address }}\n"})
	a := Host{Name: "a", Endpoint: Endpoint{Address: "10.0.0.1"}, Roles: []string{"base"}}
	b := Host{Name: "b", Endpoint: Endpoint{Address: "10.0.0.2"}, Roles: []string{"base"}}
	inv := &Inventory{Nodes: []Host{a, b}}
	roles := LoadRoles(openRepo(t, repo), "r", []string{"/etc/*.conf"}, inv)
	if err := os.RemoveAll(filepath.Join(repo, "r")); err != nil {
		t.Fatal(err)
	}
	for _, h := range []Host{a, b} {
		got, err := roles.Desired(context.Background(), inv, h)
		if err != nil || string(got["/etc/a.conf"].Content) != "ip="+h.Address+"\n" {
			t.Errorf("%s: %q %v", h.Name, got["/etc/a.conf"].Content, err)
		}
	}
}
