package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/driftd/driftd/pkg/apply"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
)

// runDaemon starts a test daemon and returns its base address once its
// start-up check is running.
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

// answer reads the response on c, waiting at most 10 s.
func answer(t *testing.T, c net.Conn) *http.Response {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	return resp
}

// chunkedPost posts size bytes of zeros to url without declaring a length
// (chunked), signed with sig.
func chunkedPost(t *testing.T, url, sig string, size int) int {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		chunk := make([]byte, 64<<10)
		for left := size; left > 0; left -= len(chunk) {
			if _, err := pw.Write(chunk[:min(left, len(chunk))]); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", url, pr)
	req.Header.Set("X-Hub-Signature-256", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

const zeroSig = "sha256=0000000000000000000000000000000000000000000000000000000000000000"

func TestWebhookBodyBounds(t *testing.T) {
	c := &blockingChecker{started: make(chan struct{}, 10), release: make(chan struct{})}
	d, _ := newTestDaemon(t, c, "s3cret")
	addr := runDaemon(t, d, c)
	if got := d.opts.WebhookLimits.MaxBodySize; got != 25<<20 {
		t.Fatalf("default webhook body bound %d, want 25 MiB", got)
	}

	// A declared 100 MB body: 413 before a byte of it is sent.
	conn := rawRequest(t, addr, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: "+zeroSig+"\r\nContent-Length: 104857600\r\n\r\n")
	if code := answer(t, conn).StatusCode; code != http.StatusRequestEntityTooLarge {
		t.Errorf("declared 100 MB body: %d, want 413", code)
	}

	// An undeclared (chunked) body that grows past the bound: 413 too, and
	// the server's memory does not grow with it.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	code := chunkedPost(t, "http://"+addr+"/hooks/git", zeroSig, 100<<20)
	runtime.ReadMemStats(&after)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 100 MB body: %d, want 413", code)
	}
	if after.HeapAlloc > before.HeapAlloc+8<<20 {
		t.Errorf("the heap grew from %d to %d MiB while a large body streamed in", before.HeapAlloc>>20, after.HeapAlloc>>20)
	}

	// A request with no signature header is refused before its body.
	conn = rawRequest(t, addr, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
	if code := answer(t, conn).StatusCode; code != http.StatusUnauthorized {
		t.Errorf("unsigned: %d, want 401", code)
	}
}

// TestWebhookBodyLimitExact: a signed body of exactly the bound is taken,
// one byte more is not, declared or not.
func TestWebhookBodyLimitExact(t *testing.T) {
	c := &blockingChecker{started: make(chan struct{}, 10)}
	d, _ := newTestDaemon(t, c, "s3cret", func(o *Options) { o.WebhookLimits.MaxBodySize = 1024 })
	addr := runDaemon(t, d, c)
	url := "http://" + addr + "/hooks/git"
	waitUntil(t, func() bool { return d.ready.Load() })

	body := strings.Repeat("x", 1024)
	if code := chunkedPost(t, url, githubSig("s3cret", string(make([]byte, 1024))), 1024); code != http.StatusAccepted {
		t.Errorf("signed chunked body of exactly 1024 bytes: %d, want 202", code)
	}
	if code := chunkedPost(t, url, githubSig("s3cret", string(make([]byte, 1025))), 1025); code != http.StatusRequestEntityTooLarge {
		t.Errorf("signed chunked body of 1025 bytes: %d, want 413", code)
	}
	req, _ := http.NewRequest("POST", url, strings.NewReader(body+"x"))
	req.Header.Set("X-Hub-Signature-256", githubSig("s3cret", body+"x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("declared body of 1025 bytes: %d, want 413", resp.StatusCode)
	}
}

func TestWebhookConcurrencyBounded(t *testing.T) {
	c := &blockingChecker{started: make(chan struct{}, 10), release: make(chan struct{})}
	d, _ := newTestDaemon(t, c, "s3cret")
	addr := runDaemon(t, d, c)
	slots := d.opts.WebhookLimits.MaxInFlight
	if slots != 4 {
		t.Fatalf("default webhook slots %d, want 4", slots)
	}
	// As many slow clients as there are slots, each sending its headers
	// and then a body that never comes.
	var slow []net.Conn
	for range slots {
		slow = append(slow, rawRequest(t, addr, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: "+zeroSig+"\r\nContent-Length: 1000\r\n\r\nx"))
	}
	waitUntil(t, func() bool { return len(d.hooks) == slots })
	// Every further request is refused at once, without queueing.
	for range 10 {
		start := time.Now()
		conn := rawRequest(t, addr, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: "+zeroSig+"\r\nContent-Length: 1000\r\n\r\n")
		resp := answer(t, conn)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("request over the bound: %d, want 429", resp.StatusCode)
		}
		if ra := resp.Header.Get("Retry-After"); ra != webhookRetryAfter {
			t.Errorf("Retry-After %q, want %q", ra, webhookRetryAfter)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("the refusal took %v: it waited for a slot", took)
		}
	}
	if n := len(d.hooks); n != slots {
		t.Errorf("%d slots taken after the refusals, want %d", n, slots)
	}
	for _, s := range slow {
		s.Close()
	}
	waitUntil(t, func() bool { return len(d.hooks) == 0 })
}

// TestSlowClientsCutOff: a client that trickles its headers or its body is
// cut off by the read timeouts, and its webhook slot freed.
func TestSlowClientsCutOff(t *testing.T) {
	c := &blockingChecker{started: make(chan struct{}, 10), release: make(chan struct{})}
	d, _ := newTestDaemon(t, c, "s3cret", func(o *Options) {
		o.HTTP = config.HTTP{ReadHeaderTimeout: config.Duration(300 * time.Millisecond), ReadTimeout: config.Duration(time.Second)}
	})
	addr := runDaemon(t, d, c)

	// Headers that never end: the connection is closed.
	start := time.Now()
	conn := rawRequest(t, addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Errorf("slow headers: %v, want the server to close the connection", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("slow headers were cut off after %v, want about 300ms", took)
	}

	// A body that trickles a byte every 100ms: 408 after the read timeout.
	start = time.Now()
	conn = rawRequest(t, addr, "POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: "+zeroSig+"\r\nContent-Length: 1000\r\n\r\n")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write([]byte("x")); err != nil {
				return
			}
		}
	})
	resp := answer(t, conn)
	close(stop)
	wg.Wait()
	took := time.Since(start)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("trickled body: %d, want 408", resp.StatusCode)
	}
	if took < 900*time.Millisecond || took > 4*time.Second {
		t.Errorf("trickled body cut off after %v, want about the 1s read timeout", took)
	}
	waitUntil(t, func() bool { return len(d.hooks) == 0 })
}

// TestReportRenderedOnce: many readers of the status page and the report
// share one rendering of each.
func TestReportRenderedOnce(t *testing.T) {
	c := &blockingChecker{started: make(chan struct{}, 10)}
	d, _ := newTestDaemon(t, c, "")
	addr := runDaemon(t, d, c)
	waitUntil(t, func() bool { return d.ready.Load() })
	bodies := make(chan string, 40)
	var wg sync.WaitGroup
	for i := range 40 {
		path := "/api/v1/report"
		if i%2 == 1 {
			path = "/"
		}
		wg.Go(func() {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				bodies <- err.Error()
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			bodies <- fmt.Sprint(path, resp.StatusCode, errors.Join(err), len(b))
		})
	}
	wg.Wait()
	close(bodies)
	seen := map[string]int{}
	for b := range bodies {
		seen[b]++
	}
	if len(seen) != 2 {
		t.Errorf("want one answer per endpoint, got %v", seen)
	}
	d.pages.mu.Lock()
	renders := d.pages.renders
	d.pages.mu.Unlock()
	if renders != 2 {
		t.Errorf("%d renderings for 40 requests, want 2 (one JSON, one page)", renders)
	}
}

// TestStatusPageEscapesControlCharacters: names, errors and diffs on the status page are
// inert HTML, and control characters and bidirectional overrides in them
// are shown as escapes.
func TestStatusPageEscapesControlCharacters(t *testing.T) {
	r := drift.Report{Revision: "abc", Source: drift.SourceStatus{Synced: true}, Layers: []drift.LayerResult{{
		Layer: drift.LayerNode, Targets: []drift.TargetResult{
			{Name: "node<script>alert(1)</script>", Findings: []drift.Finding{{
				Object: "/etc/x\x1b]52;c;ZXZpbA==\x07\u202eesrever.conf", Change: drift.ChangeUnmanaged,
				Diff: "+evil \x1b[2K\r<img src=x>\n+tab\tok\n",
			}}},
			{Name: "n2", Status: drift.StatusUnknown, Error: "ssh: \x1b[31mred\nsecond line"},
		},
	}}}
	r.Normalize()
	var p pages
	b, err := p.html(&r, true, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "<script>", "<img"} {
		if strings.Contains(page, bad) {
			t.Errorf("the status page holds %q raw", bad)
		}
	}
	for _, want := range []string{`\x1b]52;c;ZXZpbA==\x07\u202eesrever.conf`, `evil \x1b[2K\x0d&lt;img src=x&gt;`, "tab\tok", "ssh: \\x1b[31mred\nsecond line", "node&lt;script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("the status page lacks %q", want)
		}
	}
}

// The status page's apply section shows what was applied, blocked and why,
// with names from live systems escaped as everywhere else.
func TestStatusPageApplySection(t *testing.T) {
	r := drift.Report{Revision: "abc", Source: drift.SourceStatus{Synced: true}}
	r.Normalize()
	res := &apply.Result{Revision: "abc", Blocked: "max_changes: 30 changes exceed apply.max_changes (20); nothing was applied", Actions: []drift.ActionResult{
		{Layer: drift.LayerApp, Target: "shop", Object: "core/ConfigMap/shop/\x1b[31m<script>x", Action: "restore", Result: drift.ResultBlocked, Reason: "max_changes: ..."},
		{Layer: drift.LayerNode, Target: "n1", Object: "/etc/a.conf", Action: "restore", Result: drift.ResultApplied},
	}}
	var p pages
	b, err := p.html(&r, true, "test", res)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{`id="apply-blocked"`, `data-result="blocked"`, `data-result="applied"`, "/etc/a.conf", "30 changes exceed"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	for _, bad := range []string{"\x1b", "<script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("status page carries %q from an object name", bad)
		}
	}
}
