package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// Kube is a running etcd and kube-apiserver, and kube-controller-manager when
// asked for with WithControllers.
type Kube struct {
	// Kubeconfig authenticates as cluster admin.
	Kubeconfig string
	// Server is the API server's URL.
	Server string
	// Kubectl is a kubectl of the server's version.
	Kubectl string
	// State is the environment's state directory.
	State string
	// ControllerManager is kube-controller-manager's https URL (its
	// /healthz answers without credentials), or "" when it does not run.
	ControllerManager string

	deployedMu sync.Mutex
	saToken    string // the ServiceAccount token DeployedKubeconfig made
}

// KubeOption changes what KubeForTest starts.
type KubeOption func(*kubeOptions)

type kubeOptions struct {
	controllers bool
}

// WithControllers also starts kube-controller-manager with its default
// controllers: Deployments get ReplicaSets and Pods (which stay Pending:
// there is no scheduler or kubelet), Jobs get Pods, the garbage collector
// follows owner references and deleted namespaces go away. It adds about a
// second to the start; without it, tests must use fresh namespaces.
func WithControllers() KubeOption {
	return func(o *kubeOptions) { o.controllers = true }
}

// KubeForTest starts etcd and kube-apiserver with testenv/kube/start.sh
// for one test and stops them at its end.
func KubeForTest(t testing.TB, opts ...KubeOption) *Kube {
	t.Helper()
	var o kubeOptions
	for _, opt := range opts {
		opt(&o)
	}
	bin := os.Getenv("DRIFTD_KUBE_BIN")
	if bin == "" {
		Unavailable(t, "DRIFTD_KUBE_BIN is not set")
	}
	need := []string{"kube-apiserver"}
	if o.controllers {
		need = append(need, "kube-controller-manager")
	}
	for _, b := range need {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			Unavailable(t, "%s: %v", b, err)
		}
	}
	state := t.TempDir()
	env := startKube(t, state, o)
	k := &Kube{Kubeconfig: env["KUBECONFIG"], Server: env["KUBE_API"], Kubectl: env["KUBECTL"], State: state,
		ControllerManager: env["KUBE_CONTROLLER_MANAGER"]}
	if o.controllers && k.ControllerManager == "" {
		t.Fatalf("start kube/start.sh: controllers were asked for, but %s/env has no KUBE_CONTROLLER_MANAGER", state)
	}
	return k
}

// startKube is startForTest for kube/start.sh, which reads
// DRIFTD_KUBE_CONTROLLERS from its environment. The variable is set on the
// script's process only, so parallel tests do not see each other's choice.
func startKube(t testing.TB, state string, o kubeOptions) map[string]string {
	t.Helper()
	controllers := "0"
	if o.controllers {
		controllers = "1"
	}
	cmd := exec.Command(filepath.Join(Dir(), "kube/start.sh"), state, strconv.Itoa(os.Getpid()))
	cmd.Env = append(os.Environ(), "DRIFTD_KUBE_CONTROLLERS="+controllers)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start kube/start.sh (DRIFTD_KUBE_CONTROLLERS=%s): %v\n%s", controllers, err, out)
	}
	t.Cleanup(func() {
		if err := run(context.Background(), "kube/stop.sh", state); err != nil {
			t.Errorf("stop kube/start.sh: %v", err)
		}
	})
	env, err := readEnv(filepath.Join(state, "env"))
	if err != nil {
		t.Fatalf("read the environment kube/start.sh wrote: %v", err)
	}
	return env
}

// Stop stops the API server and etcd (and the controller-manager) before the
// test ends, as an outage.
func (k *Kube) Stop() error {
	if err := run(context.Background(), "kube/stop.sh", k.State); err != nil {
		return fmt.Errorf("stop the test API server: %w", err)
	}
	return nil
}
