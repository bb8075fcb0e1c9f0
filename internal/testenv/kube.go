package testenv

import (
	"context"
	"os"
	"path/filepath"
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
	env := startForTest(t, "kube/start.sh", "kube/stop.sh", state)
	return &Kube{Kubeconfig: env["KUBECONFIG"], Server: env["KUBE_API"], Kubectl: env["KUBECTL"], State: state}
}

// Stop stops the API server and etcd before the test ends, as an outage.
func (k *Kube) Stop() error {
	return run(context.Background(), "kube/stop.sh", k.State)
}
