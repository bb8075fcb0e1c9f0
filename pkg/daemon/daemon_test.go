package daemon

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/robfig/cron/v3"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/report"
)

// blockingChecker returns a report after release is closed (or at once if
// it is nil) and counts its runs.
type blockingChecker struct {
	runs    atomic.Int32
	started chan struct{}
	release chan struct{}
}

func (c *blockingChecker) Run(ctx context.Context) drift.Report {
	c.runs.Add(1)
	if c.started != nil {
		c.started <- struct{}{}
	}
	if c.release != nil {
		select {
		case <-c.release:
		case <-ctx.Done():
		}
	}
	r := drift.Report{Revision: "abc", Source: drift.SourceStatus{Synced: true},
		Layers: []drift.LayerResult{{Layer: drift.LayerInfra, Targets: []drift.TargetResult{{Name: "net", Findings: []drift.Finding{{Object: "x", Change: drift.ChangeDrifted, Diff: "-a\n+b\n"}}}}}}}
	r.Normalize()
	return r
}

// newTestDaemon returns a daemon on a loopback port; each of adjust may
// change its options first.
func newTestDaemon(t *testing.T, c Checker, secret string, adjust ...func(*Options)) (*Daemon, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	// A schedule far in the future: only explicit triggers run checks.
	sched, err := cron.ParseStandard("0 0 1 1 *")
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Checker: c, Schedule: sched, Listen: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second,
		WebhookSecret: []byte(secret), Registry: reg, Metrics: report.NewMetrics(reg, false),
		Version: "test", Logger: slog.New(slog.DiscardHandler),
	}
	for _, f := range adjust {
		f(&o)
	}
	return New(o), reg
}

func TestOverlappingRunsAreSkipped(t *testing.T) {
	c := &blockingChecker{started: make(chan struct{}, 10), release: make(chan struct{})}
	d, reg := newTestDaemon(t, c, "")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	<-c.started // the start-up check is running
	for range 3 {
		if d.Trigger("test") {
			t.Error("a trigger during a running check was accepted")
		}
	}
	if got := testutil.ToFloat64(d.opts.Metrics.SkippedCounter()); got != 3 {
		t.Errorf("driftd_checks_skipped_total = %v, want 3", got)
	}
	close(c.release)
	waitUntil(t, func() bool { return d.ready.Load() })
	if n := c.runs.Load(); n != 1 {
		t.Errorf("%d runs, want 1: skipped runs must not be stacked", n)
	}
	if n, _ := testutil.GatherAndCount(reg, "driftd_drift_objects"); n != 1 {
		t.Errorf("drift_objects series after a check: %d", n)
	}
}

func TestHTTP(t *testing.T) {
	c := &blockingChecker{started: make(chan struct{}, 10), release: make(chan struct{})}
	d, _ := newTestDaemon(t, c, "s3cret")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-c.started
	base := "http://" + d.Addr()

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("/readyz before the first check = %d, want 503", code)
	}
	if code, _ := get("/api/v1/report"); code != 503 {
		t.Errorf("/api/v1/report before the first check = %d, want 503", code)
	}
	close(c.release)
	waitUntil(t, func() bool { code, _ := get("/readyz"); return code == 200 })

	code, body := get("/api/v1/report")
	var rep drift.Report
	if err := json.Unmarshal([]byte(body), &rep); code != 200 || err != nil || rep.Status != drift.StatusDrifted {
		t.Errorf("/api/v1/report: %d %v %q", code, err, body)
	}
	code, body = get("/")
	if code != 200 {
		t.Errorf("status page: %d", code)
	}
	for _, want := range []string{`id="overall">drifted`, `data-target="net" data-status="drifted"`, `<span class="del">-a</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if code, body = get("/metrics"); code != 200 || !strings.Contains(body, `driftd_drift_objects{layer="infra",target="net"} 1`) {
		t.Errorf("/metrics: %d\n%s", code, body)
	}

	// Unsigned and wrongly signed webhooks are refused and trigger nothing.
	post := func(h map[string]string, payload string) int {
		req, _ := http.NewRequest("POST", base+"/hooks/git", strings.NewReader(payload))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	runs := c.runs.Load()
	payload := `{"ref":"refs/heads/main"}`
	if code := post(nil, payload); code != 401 {
		t.Errorf("unsigned webhook = %d, want 401", code)
	}
	if code := post(map[string]string{"X-Hub-Signature-256": githubSig("wrong", payload)}, payload); code != 401 {
		t.Errorf("wrongly signed webhook = %d, want 401", code)
	}
	time.Sleep(100 * time.Millisecond)
	if c.runs.Load() != runs {
		t.Fatal("a refused webhook triggered a check")
	}
	if code := post(map[string]string{"X-Hub-Signature-256": githubSig("s3cret", payload)}, payload); code != 202 {
		t.Errorf("signed webhook = %d, want 202", code)
	}
	waitUntil(t, func() bool { return c.runs.Load() == runs+1 })
}

func githubSig(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestVerifyWebhook(t *testing.T) {
	body := []byte(`{"object_kind":"push"}`)
	now := time.Unix(1_800_000_000, 0)
	key := []byte("0123456789abcdef0123456789abcdef")
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(key)
	stdSig := func(k []byte, id, ts string) string {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	old := strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)
	for _, tc := range []struct {
		name    string
		secret  string
		headers map[string]string
		ok      bool
	}{
		{"github", "s", map[string]string{"X-Hub-Signature-256": githubSig("s", string(body))}, true},
		{"github wrong secret", "s", map[string]string{"X-Hub-Signature-256": githubSig("t", string(body))}, false},
		{"github sha1 only", "s", map[string]string{"X-Hub-Signature-256": "sha1=abc"}, false},
		{"gitlab token", "tok", map[string]string{"X-Gitlab-Token": "tok"}, true},
		{"gitlab wrong token", "tok", map[string]string{"X-Gitlab-Token": "tik"}, false},
		{"gitlab signing token", whsec, map[string]string{"Webhook-Id": "m1", "Webhook-Timestamp": ts, "Webhook-Signature": "v1,bm90aGluZw== " + stdSig(key, "m1", ts)}, true},
		{"gitlab signing token, wrong key", whsec, map[string]string{"Webhook-Id": "m1", "Webhook-Timestamp": ts, "Webhook-Signature": stdSig([]byte("other"), "m1", ts)}, false},
		{"gitlab signing token, replayed", whsec, map[string]string{"Webhook-Id": "m1", "Webhook-Timestamp": old, "Webhook-Signature": stdSig(key, "m1", old)}, false},
		{"no signature", "s", map[string]string{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			err := verifyWebhook(h, body, []byte(tc.secret), now)
			if (err == nil) != tc.ok {
				t.Errorf("verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestStatusPageEscapes(t *testing.T) {
	d, _ := newTestDaemon(t, &blockingChecker{}, "")
	r := drift.Report{Layers: []drift.LayerResult{{Layer: drift.LayerApp, Targets: []drift.TargetResult{{Name: "<script>alert(1)</script>"}}}}}
	r.Normalize()
	d.latest.Store(&r)
	rec := httptest.NewRecorder()
	d.statusPage(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 {
		t.Fatalf("status page answered %d, want 200", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "<script>alert(1)") {
		t.Error("status page does not escape target names")
	}
	if !strings.Contains(rec.Body.String(), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("status page does not show the target name, escaped")
	}
}

func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 10s")
}

// TestPollTriggersOnNewRevision: a new remote revision starts a check; the
// revision already checked does not; a failing poll marks the repo unsynced.
func TestPollTriggersOnNewRevision(t *testing.T) {
	c := &blockingChecker{}
	d, reg := newTestDaemon(t, c, "")
	var head atomic.Value
	head.Store("abc") // what the checker reports having checked
	var fail atomic.Bool
	d.opts.Head = func(context.Context) (string, error) {
		if fail.Load() {
			return "", errors.New("remote unreachable")
		}
		return head.Load().(string), nil
	}
	d.opts.PollInterval = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitUntil(t, func() bool { return d.ready.Load() })
	time.Sleep(200 * time.Millisecond)
	if n := c.runs.Load(); n != 1 {
		t.Fatalf("%d runs while the remote head was the checked revision, want 1", n)
	}
	head.Store("def")
	waitUntil(t, func() bool { return c.runs.Load() >= 2 })

	fail.Store(true)
	want := "# HELP driftd_repo_sync_success Whether the last sync of the config repository succeeded.\n" +
		"# TYPE driftd_repo_sync_success gauge\ndriftd_repo_sync_success 0\n"
	waitUntil(t, func() bool {
		return testutil.GatherAndCompare(reg, strings.NewReader(want), "driftd_repo_sync_success") == nil
	})
}
