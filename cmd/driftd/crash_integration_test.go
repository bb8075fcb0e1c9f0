//go:build integration

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCheckCrashIsNotDrift makes the check process die the way the Go
// runtime kills a process (SIGQUIT: a goroutine dump and exit status 2,
// as on a fatal error) in the middle of a check, and asserts that `driftd
// check` exits 1, never 2, which means "drift found".
func TestCheckCrashIsNotDrift(t *testing.T) {
	bin := driftdBinary(t)
	// An API server that accepts connections and never answers keeps the
	// check busy until we crash it.
	dir := t.TempDir()
	kubeconfig := silentKubeconfig(t, dir, silentServer(t))
	repo := filepath.Join(dir, "repo")
	write(t, filepath.Join(repo, "apps/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n")
	cfg := filepath.Join(dir, "driftd.yaml")
	write(t, cfg, fmt.Sprintf("repo: {url: file:///nonexistent}\nlayers:\n  app:\n    paths: [apps]\n    kubeconfig: %s\n", kubeconfig))

	cmd := exec.Command(bin, "check", "-c", cfg, "--repo", repo, "--timeout", "60s")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := waitForChild(t, cmd.Process.Pid)
	if err := syscall.Kill(child, syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("driftd check: %v, want an exit error", err)
	}
	if code := ee.ExitCode(); code != 1 {
		t.Errorf("exit code %d after a crash, want 1 (2 means drift)\nstderr: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "crashed") {
		t.Errorf("stderr does not say the check crashed:\n%s", stderr.String())
	}
}

// waitForChild returns the pid of parent's child process, once it has one.
func waitForChild(t *testing.T, parent int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		procs, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			// pid (comm) state ppid ...: comm may hold spaces, so split
			// after its closing parenthesis.
			_, rest, ok := strings.Cut(string(b), ") ")
			if f := strings.Fields(rest); ok && len(f) > 1 && f[1] == strconv.Itoa(parent) {
				pid, _ := strconv.Atoi(strings.Split(p, "/")[2])
				// Let the child get into its check.
				time.Sleep(500 * time.Millisecond)
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("driftd check started no child process")
	return 0
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckTimeoutAgainstSilentAPIServer runs `driftd check --timeout 5s`
// against an API server that accepts connections and never answers, with
// objects of six kinds: the check must end within a few seconds of the
// timeout, exit 1, and report every namespace.
func TestCheckTimeoutAgainstSilentAPIServer(t *testing.T) {
	bin := driftdBinary(t)
	dir := t.TempDir()
	kubeconfig := silentKubeconfig(t, dir, silentServer(t))
	repo := filepath.Join(dir, "repo")
	for i, k := range []string{"ConfigMap", "Secret", "Service", "ServiceAccount", "Pod", "Endpoints"} {
		write(t, filepath.Join(repo, fmt.Sprintf("apps/%d.yaml", i)), fmt.Sprintf("apiVersion: v1\nkind: %s\nmetadata: {name: o, namespace: ns%d}\n", k, i))
	}
	cfg := filepath.Join(dir, "driftd.yaml")
	write(t, cfg, fmt.Sprintf("repo: {url: file:///nonexistent}\nlayers:\n  app:\n    paths: [apps]\n    kubeconfig: %s\n", kubeconfig))

	start := time.Now()
	cmd := exec.Command(bin, "check", "-c", cfg, "--repo", repo, "--timeout", "5s", "-o", "json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	took := time.Since(start)
	if took > 8*time.Second {
		t.Errorf("check took %s under --timeout 5s", took)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit: %v, want 1\nstderr: %s", err, stderr.String())
	}
	for i := range 6 {
		if !strings.Contains(stdout.String(), fmt.Sprintf(`"name": "ns%d"`, i)) {
			t.Errorf("namespace ns%d missing from the report:\n%s", i, stdout.String())
		}
	}
	t.Logf("check ended %s after start under --timeout 5s", took.Round(10*time.Millisecond))
}

// silentServer listens on loopback, accepts connections and never answers
// them, and returns its address.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

// silentKubeconfig writes a kubeconfig for the API server at addr into dir.
func silentKubeconfig(t *testing.T, dir, addr string) string {
	t.Helper()
	p := filepath.Join(dir, "kubeconfig")
	write(t, p, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://%s", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, addr))
	return p
}
