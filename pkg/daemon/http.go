package daemon

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves driftd's HTTP endpoints:
//
//	GET  /metrics         Prometheus metrics
//	GET  /healthz         200 while the process runs
//	GET  /readyz          200 once the first check finished (or, with leader
//	                      election, while following); 503 before
//	GET  /api/v1/report   the latest report, as `driftd check -o json` prints it
//	GET  /api/v1/apply    the last apply run (apply mode in serve), as `driftd apply -o json` prints it
//	GET  /                the status page
//	POST /hooks/git       a signed push webhook: triggers a check
//
// With a web config file, Run puts TLS and basic auth in front of all of
// them, probes included.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.opts.Registry, promhttp.HandlerOpts{ErrorLog: nil}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.HandleFunc("GET /api/v1/report", d.apiReport)
	mux.HandleFunc("GET /api/v1/apply", d.apiApply)
	mux.HandleFunc("POST /hooks/git", d.webhook)
	mux.HandleFunc("GET /{$}", d.statusPage)
	return mux
}

// server returns the HTTP server with its bounds: a client that sends its
// headers or body too slowly, or reads the answer too slowly, is cut off,
// so that slow clients cannot hold connections and memory without end.
func (d *Daemon) server() *http.Server {
	h := d.opts.HTTP
	return &http.Server{
		Handler:           d.Handler(),
		ReadHeaderTimeout: h.ReadHeaderTimeout.Std(),
		ReadTimeout:       h.ReadTimeout.Std(),
		WriteTimeout:      h.WriteTimeout.Std(),
		IdleTimeout:       h.IdleTimeout.Std(),
		MaxHeaderBytes:    int(h.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
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
	b, err := d.pages.json(rep)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// apiApply serves the last apply run. Apply results hold only what
// findings hold (diffs never carry secret values).
func (d *Daemon) apiApply(w http.ResponseWriter, _ *http.Request) {
	r := d.lastApply()
	if r == nil {
		http.Error(w, `{"error": "apply mode does not run in serve, or has not run yet"}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r)
}
