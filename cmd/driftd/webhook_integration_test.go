//go:build integration

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// vmHWM returns a process's peak resident set size, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestWebhookFlood runs `driftd serve` and floods its webhook the way that
// pushed it to 1.9 GB before: 40 clients each declaring a 25 MiB body and
// trickling it, then a 100 MB body. The process's peak RSS must stay under
// 150 MB; the clients beyond the 4 webhook slots must be refused with 429
// at once; the 4 in the slots must be cut off with 408 by the read timeout
// (3 s here) long before their bodies are complete; the server must keep
// answering its probes meanwhile; and the 100 MB body must get 413.
func TestWebhookFlood(t *testing.T) {
	const (
		clients     = 40
		slots       = 4
		readTimeout = 3 * time.Second
		declared    = 25 << 20
		rssBound    = 150 << 20
	)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	write(t, secret, "s3cret\n")
	kubeconfig := silentKubeconfig(t, dir, silentServer(t))
	write(t, filepath.Join(dir, "repo/apps/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n")
	cfg := filepath.Join(dir, "driftd.yaml")
	write(t, cfg, fmt.Sprintf(`repo: {url: "file://%s/nonexistent"}
cache_dir: %s/cache
schedule: "0 0 1 1 *"
serve:
  start_jitter: 0s
  http: {read_timeout: %s}
  webhook: {secret_file: %s, max_in_flight: %d}
layers:
  app: {paths: [apps], kubeconfig: %s, timeout: 5s}
`, dir, dir, readTimeout, secret, slots, kubeconfig))
	p := startServe(t, cfg)
	pid := p.cmd.Process.Pid
	base := vmHWM(t, pid)

	type outcome struct {
		code int
		took time.Duration
		sent int64
	}
	outcomes := make(chan outcome, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			start := time.Now()
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				outcomes <- outcome{code: -1}
				return
			}
			defer c.Close()
			// Read the answer while the body trickles: it comes when the
			// server gives up on the body.
			answered := make(chan int, 1)
			go func() {
				c.SetReadDeadline(time.Now().Add(4 * readTimeout))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					answered <- 0
					return
				}
				resp.Body.Close()
				answered <- resp.StatusCode
			}()
			fmt.Fprintf(c, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: sha256=%s\r\nContent-Length: %d\r\n\r\n", strings.Repeat("00", 32), declared)
			chunk := make([]byte, 64<<10)
			var sent int64
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case code := <-answered:
					outcomes <- outcome{code, time.Since(start), sent}
					return
				case <-tick.C:
				}
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if n, err := c.Write(chunk); err == nil {
					sent += int64(n)
				}
			}
		})
	}
	// The server keeps answering its probes under the flood.
	time.Sleep(readTimeout / 2)
	probeStart := time.Now()
	if code, _ := p.get("/healthz"); code != 200 {
		t.Errorf("/healthz under the flood: %d", code)
	}
	probe := time.Since(probeStart)
	wg.Wait()
	close(outcomes)

	var refused, cutOff int
	var slowest time.Duration
	for o := range outcomes {
		switch o.code {
		case http.StatusTooManyRequests:
			refused++
			if o.took > time.Second {
				t.Errorf("a refusal took %v: it waited for a slot", o.took)
			}
		case http.StatusRequestTimeout:
			cutOff++
			slowest = max(slowest, o.took)
			if o.took < readTimeout || o.took > readTimeout+3*time.Second {
				t.Errorf("a slow body was cut off after %v, want about the %v read timeout", o.took, readTimeout)
			}
			if o.sent >= declared {
				t.Errorf("a slow client sent its whole body (%d bytes) before the cut-off", o.sent)
			}
		default:
			t.Errorf("a slow client got %d after %v, want 429 or 408", o.code, o.took)
		}
	}

	// Then a 100 MB body, sent as fast as the server takes it, now that
	// the flood has let go of the webhook's slots.
	pr, pw := io.Pipe()
	go func() {
		chunk := make([]byte, 1<<20)
		for range 100 {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", "http://"+p.addr+"/hooks/git", pr)
	req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("00", 32))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	peak := vmHWM(t, pid)
	t.Logf("driftd serve peak RSS %d MB (%d MB at start); of %d slow clients %d refused with 429 at once and %d cut off with 408 by the %v read timeout (the last after %v); /healthz answered in %v under the flood; 100 MB body: %d",
		peak>>20, base>>20, clients, refused, cutOff, readTimeout, slowest.Round(time.Millisecond), probe.Round(time.Millisecond), resp.StatusCode)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("100 MB body: %d, want 413", resp.StatusCode)
	}
	if refused != clients-slots || cutOff != slots {
		t.Errorf("%d refused and %d cut off, want %d and %d", refused, cutOff, clients-slots, slots)
	}
	if peak > rssBound {
		t.Errorf("peak RSS %d MB under a webhook flood, want under %d MB", peak>>20, rssBound>>20)
	}
	if code, _ := p.get("/healthz"); code != 200 {
		t.Errorf("/healthz after the flood: %d", code)
	}
}

// TestServeWebConfig runs `driftd serve --web.config.file` with a bcrypt
// basic_auth_users entry: every endpoint refuses a request without the
// credentials and takes one with them. A web config file that does not
// parse stops serve at start-up, exit 1.
func TestServeWebConfig(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-scrape"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(dir, "web.yml")
	write(t, web, fmt.Sprintf("basic_auth_users:\n  prometheus: %s\n", hash))
	secret := filepath.Join(dir, "secret")
	write(t, secret, "s3cret\n")
	kubeconfig := silentKubeconfig(t, dir, silentServer(t))
	write(t, filepath.Join(dir, "repo/apps/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n")
	cfg := filepath.Join(dir, "driftd.yaml")
	write(t, cfg, fmt.Sprintf(`repo: {url: "file://%s/nonexistent"}
cache_dir: %s/cache
schedule: "0 0 1 1 *"
serve: {start_jitter: 0s, webhook: {secret_file: %s}}
layers:
  app: {paths: [apps], kubeconfig: %s, timeout: 5s}
`, dir, dir, secret, kubeconfig))
	p := startServe(t, cfg, "--web.config.file="+web)
	do := func(method, path, user, pass string) int {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader("{}"))
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, e := range [][2]string{{"GET", "/"}, {"GET", "/api/v1/report"}, {"GET", "/metrics"}, {"GET", "/healthz"}, {"GET", "/readyz"}, {"POST", "/hooks/git"}} {
		if code := do(e[0], e[1], "", ""); code != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: %d, want 401", e[0], e[1], code)
		}
		if code := do(e[0], e[1], "prometheus", "guess"); code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong password: %d, want 401", e[0], e[1], code)
		}
	}
	if code := do("GET", "/metrics", "prometheus", "s3cret-scrape"); code != http.StatusOK {
		t.Errorf("/metrics with credentials: %d, want 200", code)
	}
	if code := do("GET", "/", "prometheus", "s3cret-scrape"); code != http.StatusOK {
		t.Errorf("/ with credentials: %d, want 200", code)
	}
	// Past basic auth, the webhook still wants its signature.
	if code := do("POST", "/hooks/git", "prometheus", "s3cret-scrape"); code != http.StatusUnauthorized {
		t.Errorf("unsigned webhook with credentials: %d, want 401 from the signature check", code)
	}

	bad := filepath.Join(dir, "bad.yml")
	write(t, bad, "basic_auth_users: [not a map]\n")
	out, err := exec.Command(driftdBinary(t), "serve", "-c", cfg, "--listen", freePort(t), "--web.config.file="+bad).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "--web.config.file") {
		t.Errorf("a bad web config file: %v, want exit 1 naming the flag:\n%s", err, out)
	}
}
