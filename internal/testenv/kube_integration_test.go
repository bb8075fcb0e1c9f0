//go:build integration

package testenv_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/testenv"
)

// TestKubeWithControllers checks that WithControllers gives the test API
// server working controllers (deployment, replicaset, job, namespace), and
// that Stop ends kube-controller-manager with the rest.
func TestKubeWithControllers(t *testing.T) {
	k := testenv.KubeForTest(t, testenv.WithControllers())
	if k.ControllerManager == "" {
		t.Fatal("ControllerManager is empty with WithControllers")
	}
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(k.Kubectl, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	// eventually waits up to 60 s for kubectl ARGS to print want.
	eventually := func(want string, args ...string) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			out, err := exec.Command(k.Kubectl, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...).Output()
			if got = strings.TrimSpace(string(out)); err == nil && got == want {
				return
			}
		}
		t.Fatalf("kubectl %s: %q, want %q", strings.Join(args, " "), got, want)
	}

	kubectl("create", "namespace", "ctl")
	kubectl("create", "deployment", "web", "-n", "ctl", "--image=nginx:1.0", "--replicas=2")
	// The deployment controller makes a ReplicaSet, numbers the revision and
	// writes status; the replicaset controller makes Pods (Pending: no
	// scheduler).
	eventually("1", "get", "deployment", "web", "-n", "ctl", "-o", `jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}`)
	eventually("2", "get", "deployment", "web", "-n", "ctl", "-o", "jsonpath={.status.replicas}")
	eventually("1", "get", "replicasets", "-n", "ctl", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.annotations.deployment\\.kubernetes\\.io/revision}")
	eventually("Pending Pending", "get", "pods", "-n", "ctl", "-l", "app=web", "-o", "jsonpath={.items[*].status.phase}")

	kubectl("create", "job", "once", "-n", "ctl", "--image=busybox:1.36", "--", "true")
	eventually("Pending", "get", "pods", "-n", "ctl", "-l", "job-name=once", "-o", "jsonpath={.items[*].status.phase}")

	// The namespace controller empties a deleted namespace and removes it;
	// without it, the namespace stays Terminating.
	kubectl("delete", "namespace", "ctl", "--wait=false")
	eventually("", "get", "namespaces", "-o", "jsonpath={.items[?(@.metadata.name==\"ctl\")].metadata.name}")

	pid := readPid(t, filepath.Join(k.State, "controller-manager.pid"))
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("kube-controller-manager (pid %d) is not running: %v", pid, err)
	}
	if err := k.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("kube-controller-manager (pid %d) still runs after Stop", pid)
	}
}

// TestKubeWithoutControllers: the default starts no controller-manager.
func TestKubeWithoutControllers(t *testing.T) {
	k := testenv.KubeForTest(t)
	if k.ControllerManager != "" {
		t.Errorf("ControllerManager = %q without WithControllers", k.ControllerManager)
	}
	if _, err := os.Stat(filepath.Join(k.State, "controller-manager.pid")); err == nil {
		t.Error("a controller-manager was started without WithControllers")
	}
	pids, err := os.ReadFile(filepath.Join(k.State, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(string(pids))); n != 2 {
		t.Errorf("%d processes in the pids file, want 2 (apiserver, etcd):\n%s", n, pids)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}
