package testenv

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Kube is a running etcd and kube-apiserver.
type Kube struct {
	// Kubeconfig authenticates as cluster admin.
	Kubeconfig string
	// Server is the API server's URL.
	Server string
	// Kubectl is a kubectl of the server's version.
	Kubectl string
	// State is the environment's state directory.
	State string
}

// KubeForTest starts etcd and kube-apiserver with testenv/kube/start.sh
// for one test and stops them at its end.
func KubeForTest(t testing.TB) *Kube {
	t.Helper()
	bin := os.Getenv("DRIFTD_KUBE_BIN")
	if bin == "" {
		Unavailable(t, "DRIFTD_KUBE_BIN is not set")
	}
	if _, err := os.Stat(filepath.Join(bin, "kube-apiserver")); err != nil {
		Unavailable(t, "kube-apiserver: %v", err)
	}
	state := t.TempDir()
	if err := run(context.Background(), "kube/start.sh", state, strconv.Itoa(os.Getpid())); err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := run(context.Background(), "kube/stop.sh", state); err != nil {
			t.Errorf("stop kube-apiserver: %v", err)
		}
	})
	env, err := readEnv(filepath.Join(state, "env"))
	if err != nil {
		t.Fatal(err)
	}
	return &Kube{Kubeconfig: env["KUBECONFIG"], Server: env["KUBE_API"], Kubectl: env["KUBECTL"], State: state}
}
