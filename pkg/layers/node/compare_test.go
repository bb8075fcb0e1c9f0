package node

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompare(t *testing.T) {
	desired := map[string]File{
		"/etc/systemd/system/kubelet.service.d/10-flags.conf": {Content: []byte("[Service]\nEnvironment=KUBELET_ARGS=--max-pods=110\n"), Mode: 0o644, Owner: "root", Group: "root"},
		"/etc/kubernetes/manifests/etcd.yaml":                 {Content: []byte("kind: Pod\n"), Mode: 0o644, Owner: "root", Group: "root"},
		"/etc/kubernetes/manifests/apiserver.yaml":            {Content: []byte("kind: Pod\n"), Mode: 0o644, Owner: "root", Group: "root"},
	}
	got := Snapshot{Files: map[string]File{
		"/etc/systemd/system/kubelet.service.d/10-flags.conf": {Content: []byte("[Service]\nEnvironment=KUBELET_ARGS=--max-pods=250\n"), Mode: 0o644, Owner: "root", Group: "root"},
		"/etc/kubernetes/manifests/etcd.yaml":                 {Content: []byte("kind: Pod\n"), Mode: 0o600, Owner: "root", Group: "root"},
		"/etc/systemd/system/kubelet.service.d/99-debug.conf": {Content: []byte("[Service]\nEnvironment=DEBUG=1"), Mode: 0o644, Owner: "root", Group: "root"},
		"/etc/hosts": {Content: []byte("outside every scope\n"), Mode: 0o644},
	}, NeedReload: []string{"kubelet.service", "other.service"}}
	scopes := []string{"/etc/systemd/system/*.d/*.conf", "/etc/kubernetes/manifests/*.yaml"}

	var kinds []string
	diffs := map[string]string{}
	for _, f := range Compare("node1", desired, got, scopes, true) {
		kinds = append(kinds, string(f.Change)+" "+f.Object)
		diffs[f.Object] = f.Diff
	}
	wantKinds := []string{
		"missing /etc/kubernetes/manifests/apiserver.yaml",
		"changed /etc/kubernetes/manifests/etcd.yaml",
		"changed /etc/systemd/system/kubelet.service.d/10-flags.conf",
		"unmanaged /etc/systemd/system/kubelet.service.d/99-debug.conf",
		"changed systemd:kubelet.service",
	}
	if d := cmp.Diff(wantKinds, kinds); d != "" {
		t.Fatalf("findings (-want +got):\n%s", d)
	}
	wantDiffs := map[string]string{
		"/etc/systemd/system/kubelet.service.d/10-flags.conf": `--- git:/etc/systemd/system/kubelet.service.d/10-flags.conf
+++ node1:/etc/systemd/system/kubelet.service.d/10-flags.conf
@@ -1,2 +1,2 @@
 [Service]
-Environment=KUBELET_ARGS=--max-pods=110
+Environment=KUBELET_ARGS=--max-pods=250
`,
		"/etc/kubernetes/manifests/etcd.yaml": "# mode 0644 in Git, 0600 on the node\n",
		"/etc/kubernetes/manifests/apiserver.yaml": `--- git:/etc/kubernetes/manifests/apiserver.yaml
+++ /dev/null
@@ -1 +0,0 @@
-kind: Pod
`,
		"/etc/systemd/system/kubelet.service.d/99-debug.conf": `--- /dev/null
+++ node1:/etc/systemd/system/kubelet.service.d/99-debug.conf
@@ -0,0 +1,2 @@
+[Service]
+Environment=DEBUG=1
\ No newline at end of file
`,
	}
	for obj, want := range wantDiffs {
		if d := cmp.Diff(want, diffs[obj]); d != "" {
			t.Errorf("diff of %s (-want +got):\n%s", obj, d)
		}
	}
}

func TestCompareInSync(t *testing.T) {
	f := File{Content: []byte("x\n"), Mode: 0o644, Owner: "root", Group: "root"}
	got := Compare("n", map[string]File{"/etc/a.conf": f}, Snapshot{Files: map[string]File{"/etc/a.conf": f}}, []string{"/etc/*.conf"}, true)
	if len(got) != 0 {
		t.Errorf("findings for identical files: %+v", got)
	}
}

func TestUnits(t *testing.T) {
	d := map[string]File{
		"/etc/systemd/system/kubelet.service.d/a.conf": {},
		"/etc/systemd/system/kubelet.service.d/b.conf": {},
		"/etc/systemd/system/docker.service.d/x.conf":  {},
		"/etc/systemd/system/foo.service":              {},
		"/etc/kubernetes/manifests/etcd.yaml":          {},
	}
	if got := Units(d); !cmp.Equal(got, []string{"docker.service", "kubelet.service"}) {
		t.Errorf("Units = %v", got)
	}
}
