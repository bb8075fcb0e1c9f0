//go:build integration

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/testenv"
)

// TestServeLeaderElection runs two replicas against a real kube-apiserver:
// exactly one leads (and checks), and when it is killed the other takes over.
func TestServeLeaderElection(t *testing.T) {
	k := testenv.KubeForTest(t)
	g := newGitRepo(t)
	g.apply()
	cfg := serveConfig(t, g, fmt.Sprintf(`serve:
  leader_election:
    enabled: true
    namespace: default
    kubeconfig: %s
    lease_duration: 3s
    renew_deadline: 2s
    retry_period: 500ms
`, k.Kubeconfig))
	a, b := startServe(t, cfg), startServe(t, cfg)
	leaders := func() []*serveProc {
		var out []*serveProc
		for _, p := range []*serveProc{a, b} {
			if p.metric("driftd_leader") == "1" {
				out = append(out, p)
			}
		}
		return out
	}
	if !eventually(20*time.Second, func() bool { return len(leaders()) == 1 }) {
		t.Fatalf("leaders: %d, want exactly 1", len(leaders()))
	}
	// Stay exactly one for a while, across lease renewals.
	for range 10 {
		if n := len(leaders()); n != 1 {
			t.Fatalf("%d leaders", n)
		}
		time.Sleep(300 * time.Millisecond)
	}
	leader := leaders()[0]
	follower := a
	if leader == a {
		follower = b
	}
	// Only the leader checks; both are ready and healthy.
	if !eventually(20*time.Second, func() bool { return leader.metric(`driftd_check_success{layer="infra",target="stacks/files"}`) == "1" }) {
		t.Fatal("the leader does not check")
	}
	if v := follower.metric(`driftd_check_success{layer="infra",target="stacks/files"}`); v != "" {
		t.Errorf("the follower checks too: %s", v)
	}
	for _, p := range []*serveProc{leader, follower} {
		if code, _ := p.get("/readyz"); code != 200 {
			t.Errorf("/readyz = %d", code)
		}
	}

	// The leader dies without releasing the lease: the follower takes over
	// once it expires.
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if !eventually(20*time.Second, func() bool { return follower.metric("driftd_leader") == "1" }) {
		t.Fatal("the follower never took over")
	}
	t.Logf("handover after %s", time.Since(start).Round(100*time.Millisecond))
	if !eventually(20*time.Second, func() bool {
		return follower.metric(`driftd_check_success{layer="infra",target="stacks/files"}`) == "1"
	}) {
		t.Error("the new leader does not check")
	}
}

// TestServeSIGTERMDuringPlan: SIGTERM while terraform is planning stops the
// plan, leaves no terraform or provider process behind, and exits.
func TestServeSIGTERMDuringPlan(t *testing.T) {
	g := newGitRepo(t)
	g.apply()
	fifo := filepath.Join(t.TempDir(), "gate")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// A data source that reads a FIFO blocks the plan until killed.
	g.write("stacks/files/gate.tf", fmt.Sprintf("data \"local_file\" \"gate\" {\n  filename = %q\n}\n", fifo))
	g.commit()
	p := startServe(t, serveConfig(t, g, ""))

	var procs []string
	if !eventually(30*time.Second, func() bool { procs = terraformProcs(t, g.cache); return len(procs) >= 2 }) {
		t.Fatalf("terraform and its provider never started: %v", procs)
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		t.Logf("exited %v after SIGTERM, in %s", err, time.Since(start).Round(100*time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatal("driftd serve did not exit within 30s of SIGTERM")
	}
	if left := terraformProcs(t, g.cache); len(left) > 0 {
		t.Errorf("processes left after SIGTERM: %v", left)
	}
}

// terraformProcs lists terraform and provider processes started by a
// driftd whose cache is cache (they carry DRIFTD_RUN_ID, and TF_DATA_DIR
// under that cache, in their environment).
func terraformProcs(t *testing.T, cache string) []string {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !strings.Contains(string(env), "DRIFTD_RUN_ID=") || !strings.Contains(string(env), "TF_DATA_DIR="+cache) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, e.Name()+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
	}
	return out
}
