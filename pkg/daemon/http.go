package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/driftd/driftd/pkg/report"
)

// Handler serves driftd's HTTP endpoints:
//
//	GET  /metrics         Prometheus metrics
//	GET  /healthz         200 while the process runs
//	GET  /readyz          200 once the first check finished (or, with leader
//	                      election, while following); 503 before
//	GET  /api/v1/report   the latest report, as `driftd check -o json` prints it
//	GET  /                the status page
//	POST /hooks/git       a signed push webhook: triggers a check
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.opts.Registry, promhttp.HandlerOpts{ErrorLog: nil}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.HandleFunc("GET /api/v1/report", d.apiReport)
	mux.HandleFunc("POST /hooks/git", d.webhook)
	mux.HandleFunc("GET /{$}", d.statusPage)
	return mux
}

func (d *Daemon) readyz(w http.ResponseWriter, _ *http.Request) {
	switch {
	case d.ready.Load():
		io.WriteString(w, "ok\n")
	case d.opts.Elector != nil && !d.leading.Load():
		// A follower serves its purpose by waiting; holding it unready would
		// stall rolling updates.
		io.WriteString(w, "ok: following\n")
	default:
		http.Error(w, "not ready: the first check has not finished", http.StatusServiceUnavailable)
	}
}

func (d *Daemon) apiReport(w http.ResponseWriter, _ *http.Request) {
	rep := d.latest.Load()
	if rep == nil {
		http.Error(w, `{"error": "no check has finished yet"}`, http.StatusServiceUnavailable)
		return
	}
	var b bytes.Buffer
	if err := report.WriteJSON(&b, *rep); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b.Bytes())
}

func (d *Daemon) webhook(w http.ResponseWriter, r *http.Request) {
	if len(d.opts.WebhookSecret) == 0 {
		http.Error(w, "webhook disabled: set serve.webhook.secret_file", http.StatusNotFound)
		return
	}
	if r.ContentLength > maxWebhookBody {
		refuseBody(w)
		http.Error(w, fmt.Sprintf("request body of %d bytes is larger than %d", r.ContentLength, maxWebhookBody), http.StatusRequestEntityTooLarge)
		return
	}
	// The signature headers are checked first: a request without one is
	// refused before any of its body is read.
	v, err := newVerifier(r.Header, d.opts.WebhookSecret, time.Now())
	if err != nil {
		refuseBody(w)
		d.log.Warn("webhook refused", "remote", r.RemoteAddr, "err", err)
		http.Error(w, "unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	select {
	case d.hooks <- struct{}{}:
		defer func() { <-d.hooks }()
	default:
		refuseBody(w)
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many webhook requests in flight", http.StatusTooManyRequests)
		return
	}
	if err := v.check(http.MaxBytesReader(w, r.Body, maxWebhookBody)); err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			http.Error(w, fmt.Sprintf("request body larger than %d bytes", maxWebhookBody), http.StatusRequestEntityTooLarge)
		case errors.Is(err, errBadSignature):
			d.log.Warn("webhook refused", "remote", r.RemoteAddr, "err", err)
			http.Error(w, "unauthorized: "+err.Error(), http.StatusUnauthorized)
		default:
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		}
		return
	}
	if r.Header.Get("X-GitHub-Event") == "ping" {
		io.WriteString(w, "pong\n")
		return
	}
	if !d.leading.Load() {
		http.Error(w, "not the leader: the leader checks on its own schedule", http.StatusServiceUnavailable)
		return
	}
	if !d.Trigger("webhook") {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "skipped: a check is already running or queued\n")
		return
	}
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, "check triggered\n")
}

// refuseBody makes the server answer at once and close the connection,
// rather than wait to read a request body that will not be used (a slow
// client could otherwise hold the answer until the read timeout).
func refuseBody(w http.ResponseWriter) { w.Header().Set("Connection", "close") }
