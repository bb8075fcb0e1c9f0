package node

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCommandParse runs the fetch command in a real local shell, with real
// tar, against a tree in a temporary directory, and parses its output.
func TestCommandParse(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"etc/systemd/system/kubelet.service.d/10-flags.conf": "[Service]\nEnvironment=A=1\n",
		"etc/systemd/system/kubelet.service.d/it's odd.conf": "odd name\n",
		"etc/systemd/system/docker.service.d/notes.txt":      "not in scope\n",
		"etc/kubernetes/manifests/etcd.yaml":                 "kind: Pod\n",
		"etc/outside/explicit.conf":                          "asked for by path\n",
	}
	writeTree(t, root, files)
	if err := os.Chmod(filepath.Join(root, "etc/kubernetes/manifests/etcd.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	req := Request{
		Scopes: []string{root + "/etc/systemd/system/*.d/*.conf", root + "/etc/kubernetes/manifests/*.yaml", root + "/etc/empty/*.conf"},
		Paths:  []string{root + "/etc/outside/explicit.conf", root + "/etc/outside/absent.conf"},
		Units:  []string{"kubelet.service"},
	}
	out, err := exec.Command("sh", "-c", req.Command()).Output()
	if err != nil {
		t.Fatalf("command failed: %v", err)
	}
	snap, err := Parse(bytes.NewReader(out), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for p, f := range snap.Files {
		got[p] = string(f.Content)
	}
	want := map[string]string{
		root + "/etc/systemd/system/kubelet.service.d/10-flags.conf": files["etc/systemd/system/kubelet.service.d/10-flags.conf"],
		root + "/etc/systemd/system/kubelet.service.d/it's odd.conf": "odd name\n",
		root + "/etc/kubernetes/manifests/etcd.yaml":                 "kind: Pod\n",
		root + "/etc/outside/explicit.conf":                          "asked for by path\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if m := snap.Files[root+"/etc/kubernetes/manifests/etcd.yaml"].Mode; m != 0o600 {
		t.Errorf("mode = %o, want 600", m)
	}
}

func TestParseEmptyAndBroken(t *testing.T) {
	out, err := exec.Command("sh", "-c", Request{Scopes: []string{"/nonexistent/*.conf"}}.Command()).Output()
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Parse(bytes.NewReader(out), Limits{})
	if err != nil || len(snap.Files) != 0 {
		t.Errorf("no files: %v %v", snap.Files, err)
	}
	if _, err := Parse(strings.NewReader("Welcome to node1!\n"), Limits{}); err == nil {
		t.Error("garbage parsed without error")
	}
}

func TestParseSystemd(t *testing.T) {
	out := "DRIFTD-FETCH-1\nId=kubelet.service\nNeedDaemonReload=yes\n\nId=docker.service\nNeedDaemonReload=no\nDRIFTD-TAR\n"
	snap, err := Parse(strings.NewReader(out), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Systemd || !cmp.Equal(snap.NeedReload, []string{"kubelet.service"}) {
		t.Errorf("systemd %v need reload %v", snap.Systemd, snap.NeedReload)
	}
}

func TestGlobQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/etc/systemd/system/*.d/*.conf": `'/etc/systemd/system/'*'.d/'*'.conf'`,
		"/a b/c?[0-9]":                   `'/a b/c'?['0-9']`,
	} {
		if got := globQuote(in); got != want {
			t.Errorf("globQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
