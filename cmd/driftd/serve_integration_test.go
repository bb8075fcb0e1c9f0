//go:build integration

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// driftdBinary builds driftd once per test run: serve tests run it as a
// real process, so that signals and process trees are real.
func driftdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "driftd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "driftd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveProc is a running `driftd serve`.
type serveProc struct {
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
	done chan error
}

func startServe(t *testing.T, cfg string, extraArgs ...string) *serveProc {
	t.Helper()
	addr := freePort(t)
	p := &serveProc{addr: addr, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(driftdBinary(t), append([]string{"serve", "-c", cfg, "--listen", addr, "--log-level", "debug"}, extraArgs...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	// The test's own directory: every process driftd started under it
	// (terraform, its provider) carries it in its command line.
	root := filepath.Dir(t.TempDir())
	t.Cleanup(func() {
		// SIGTERM first: driftd ends its checks and reaps what terraform
		// started; SIGKILL only if it does not exit.
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		killUnder(root)
		if t.Failed() {
			t.Logf("driftd serve logs:\n%s", p.logs)
		}
	})
	// Up when /healthz answers: 200, or 401 behind basic auth.
	if !eventually(20*time.Second, func() bool { code, _ := p.get("/healthz"); return code == 200 || code == 401 }) {
		t.Fatalf("driftd serve did not come up:\n%s", p.logs)
	}
	return p
}

// killUnder kills every process whose command line names a path under dir:
// a provider that terraform left when driftd was killed mid-plan must not
// outlive the test.
func killUnder(dir string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmd), dir+"/") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (p *serveProc) get(path string) (int, string) {
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of one series from /metrics, or "".
func (p *serveProc) metric(series string) string {
	_, body := p.get("/metrics")
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

func eventually(d time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// serveConfig adds a serve section and a fast schedule to the repo's config.
func serveConfig(t *testing.T, g *gitRepo, extra string) string {
	t.Helper()
	body := readString(t, filepath.Join(g.work, "driftd.yaml")) + "schedule: \"@every 2s\"\n" + extra
	p := filepath.Join(t.TempDir(), "driftd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type amNotification struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// TestServeAlertsEndToEnd: drift on a real stack reaches a real Alertmanager
// through a real Prometheus scraping driftd, then resolves; and every query
// of the shipped dashboard returns data.
func TestServeAlertsEndToEnd(t *testing.T) {
	g := newGitRepo(t)
	g.apply()
	p := startServe(t, serveConfig(t, g, ""))

	var mu sync.Mutex
	var notes []amNotification
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n amNotification
		if err := json.NewDecoder(r.Body).Decode(&n); err == nil {
			mu.Lock()
			notes = append(notes, n)
			mu.Unlock()
		}
	}))
	defer recv.Close()
	received := func(status string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range notes {
			for _, a := range n.Alerts {
				if a.Status == status && a.Labels["alertname"] == "DriftdDriftDetected" &&
					a.Labels["layer"] == "infra" && a.Labels["target"] == "stacks/files" {
					return true
				}
			}
		}
		return false
	}

	// The shipped rules, with every for: shortened so the test need not
	// wait 15 minutes; promtool tests the real durations.
	rules, err := os.ReadFile("../../deploy/prometheus/driftd-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	ruleFile := filepath.Join(t.TempDir(), "rules.yml")
	fast := regexp.MustCompile(`(?m)^(\s+)for: \S+$`).ReplaceAllString(string(rules), "${1}for: 0s")
	if err := os.WriteFile(ruleFile, []byte(fast), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := testenv.PrometheusForTest(t, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["@ALERTMANAGER@"]}]
scrape_configs:
  - job_name: driftd
    static_configs: [{targets: [%q]}]
`, ruleFile, p.addr), fmt.Sprintf(`route:
  receiver: team
  group_by: [alertname, layer, target]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs:
      - url: %q
        send_resolved: true
`, recv.URL))

	if !eventually(30*time.Second, func() bool { return p.metric(`driftd_check_success{layer="infra",target="stacks/files"}`) == "1" }) {
		t.Fatal("no successful check")
	}
	if received("firing") {
		t.Fatal("drift alert before any drift")
	}

	// Reality drifts.
	if err := os.WriteFile(filepath.Join(g.reality, "motd"), []byte("edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !eventually(60*time.Second, func() bool { return received("firing") }) {
		t.Fatalf("the drift alert never reached the receiver; notifications: %+v", notes)
	}

	// Every dashboard query returns data from this Prometheus.
	checkDashboard(t, prom.URL)

	// The exposition passes promtool's lint.
	_, metrics := p.get("/metrics")
	lint := exec.Command("promtool", "check", "metrics")
	lint.Stdin = strings.NewReader(metrics)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	// Reality is put back: the alert resolves.
	g.apply()
	if !eventually(60*time.Second, func() bool { return received("resolved") }) {
		t.Fatalf("the drift alert never resolved; notifications: %+v", notes)
	}

	// SIGTERM: a clean exit.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("driftd serve exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("driftd serve did not exit within 30s of SIGTERM")
	}
}

// checkDashboard runs every panel query of dashboards/driftd.json against
// Prometheus, with Grafana's variables substituted, and requires data.
func checkDashboard(t *testing.T, promURL string) {
	t.Helper()
	b, err := os.ReadFile("../../dashboards/driftd.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$__rate_interval", "30s", "$__range", "5m", "$__interval", "1s", "$layer", ".*")
	n := 0
	for _, pn := range dash.Panels {
		for _, tg := range pn.Targets {
			n++
			q := vars.Replace(tg.Expr)
			ok := eventually(30*time.Second, func() bool { return promHasData(t, promURL, q) })
			if !ok {
				t.Errorf("panel %q: query %q returned no data", pn.Title, q)
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d dashboard queries found", n)
	}
}

func promHasData(t *testing.T, base, q string) bool {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return false
	}
	if r.Status != "success" {
		t.Errorf("query %q: %s", q, r.Error)
		return false
	}
	return len(r.Data.Result) > 0
}
