package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// runDaemon starts a test daemon and returns its base address.
func runDaemon(t *testing.T, d *Daemon, c *blockingChecker) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-c.started
	return d.Addr()
}

// rawRequest writes head to a new connection to addr and returns the
// connection, for requests a normal client will not send.
func rawRequest(t *testing.T, addr, head string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c
}

func status(t *testing.T, c net.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebhookBodyBounds(t *testing.T) {
	c := &blockingChecker{started: make(chan struct{}, 10), release: make(chan struct{})}
	d, _ := newTestDaemon(t, c, "s3cret")
	addr := runDaemon(t, d, c)

	// A declared 100 MB body: 413 before a byte of it is sent.
	conn := rawRequest(t, addr, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: 104857600\r\n\r\n")
	if code := status(t, conn); code != http.StatusRequestEntityTooLarge {
		t.Errorf("declared 100 MB body: %d, want 413", code)
	}

	// An undeclared (chunked) body that grows past the bound: 413 too, and
	// the server's memory does not grow with it.
	pr, pw := io.Pipe()
	go func() {
		chunk := make([]byte, 1<<20)
		for i := 0; i < 100; i++ {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	req, _ := http.NewRequest("POST", "http://"+addr+"/hooks/git", pr)
	req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("00", 32))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 100 MB body: %d, want 413", resp.StatusCode)
	}
	if after.HeapAlloc > before.HeapAlloc+8<<20 {
		t.Errorf("the heap grew from %d to %d MiB while a large body streamed in", before.HeapAlloc>>20, after.HeapAlloc>>20)
	}

	// A request with no signature header is refused before its body.
	conn = rawRequest(t, addr, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
	if code := status(t, conn); code != http.StatusUnauthorized {
		t.Errorf("unsigned: %d, want 401", code)
	}
}

func TestWebhookConcurrencyBounded(t *testing.T) {
	c := &blockingChecker{started: make(chan struct{}, 10), release: make(chan struct{})}
	d, _ := newTestDaemon(t, c, "s3cret")
	addr := runDaemon(t, d, c)
	// maxWebhookInFlight slow clients that send their headers and then a
	// body that never comes.
	var slow []net.Conn
	for range maxWebhookInFlight {
		slow = append(slow, rawRequest(t, addr, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: 1000\r\n\r\nx"))
	}
	waitUntil(t, func() bool { return len(d.hooks) == maxWebhookInFlight })
	conn := rawRequest(t, addr, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: 1\r\n\r\nx")
	if code := status(t, conn); code != http.StatusTooManyRequests {
		t.Errorf("request over the bound: %d, want 429", code)
	}
	for _, s := range slow {
		s.Close()
	}
	waitUntil(t, func() bool { return len(d.hooks) == 0 })
}

func TestWebConfigBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pa55"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("basic_auth_users:\n  prometheus: %s\n", hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &blockingChecker{started: make(chan struct{}, 10), release: make(chan struct{})}
	d, _ := newTestDaemon(t, c, "s3cret")
	d.opts.WebConfigFile = cfg
	addr := runDaemon(t, d, c)
	var mu sync.Mutex
	get := func(path, user, pass string) int {
		mu.Lock()
		defer mu.Unlock()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
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
	for _, p := range []string{"/", "/api/v1/report", "/metrics"} {
		if code := get(p, "", ""); code != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d, want 401", p, code)
		}
		if code := get(p, "prometheus", "wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong password: %d, want 401", p, code)
		}
	}
	if code := get("/metrics", "prometheus", "pa55"); code != http.StatusOK {
		t.Errorf("/metrics with credentials: %d, want 200", code)
	}
}
