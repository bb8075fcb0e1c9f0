//go:build integration

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
// pushed it to 1.9 GB before: 40 clients each trickling a 25 MiB body, then
// a 100 MB body. The process's peak RSS must stay under 150 MB, the
// 100 MB body must get 413, and the flood must be refused rather than
// queued.
func TestWebhookFlood(t *testing.T) {
	dir := t.TempDir()
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
	p := startServe(t, cfg)
	pid := p.cmd.Process.Pid
	base := vmHWM(t, pid)

	var wg sync.WaitGroup
	codes := make(chan int, 64)
	stop := make(chan struct{})
	for range 40 {
		wg.Go(func() {
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: sha256=%s\r\nContent-Length: %d\r\n\r\n", strings.Repeat("00", 32), 25<<20)
			chunk := make([]byte, 64<<10)
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write(chunk); err != nil {
					// Cut off: read the answer, if any.
					c.SetReadDeadline(time.Now().Add(time.Second))
					b := make([]byte, 64)
					n, _ := c.Read(b)
					if f := strings.Fields(string(b[:n])); len(f) > 1 {
						code, _ := strconv.Atoi(f[1])
						codes <- code
					}
					return
				}
			}
		})
	}
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	// Then a 100 MB body, sent as fast as the server takes it, once the
	// flood has let go of the webhook's slots.
	bigBody := func() *http.Request {
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
		return req
	}
	var bigCode int
	for range 50 { // the flood may hold every slot for a moment
		resp, err := http.DefaultClient.Do(bigBody())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if bigCode = resp.StatusCode; bigCode != http.StatusTooManyRequests {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(codes)
	refused := 0
	for c := range codes {
		if c == http.StatusTooManyRequests {
			refused++
		}
	}
	peak := vmHWM(t, pid)
	t.Logf("driftd serve peak RSS %d MB (at start %d MB); %d of 40 slow clients refused with 429; 100 MB body: %d", peak>>20, base>>20, refused, bigCode)
	if bigCode != http.StatusRequestEntityTooLarge {
		t.Errorf("100 MB body: %d, want 413", bigCode)
	}
	if refused < 30 {
		t.Errorf("%d of 40 slow clients refused, want all but the %d in flight", refused, 4)
	}
	if peak > 150<<20 {
		t.Errorf("peak RSS %d MB under a webhook flood, want under 150 MB", peak>>20)
	}
	if code, _ := p.get("/healthz"); code != 200 {
		t.Errorf("/healthz after the flood: %d", code)
	}
}
