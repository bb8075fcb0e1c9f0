// Package daemon is `driftd serve`: it runs checks on a cron schedule, when
// the repository gets a new revision, and on a signed push webhook; it never
// runs two at once; it serves metrics, probes, the latest report and a
// status page; and with leader election only one replica checks.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"github.com/driftd/driftd/pkg/apply"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/robfig/cron/v3"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/report"
)

// Checker runs one whole check.
type Checker interface {
	Run(ctx context.Context) drift.Report
}

// Options configures a Daemon.
type Options struct {
	// Checker runs a check.
	Checker Checker
	// Head returns the remote's current revision, for polling. Nil
	// disables polling.
	Head func(ctx context.Context) (string, error)
	// PollInterval is how often Head is called.
	PollInterval time.Duration
	// Schedule says when to check.
	Schedule cron.Schedule
	// StartJitter delays the first check by up to this long.
	StartJitter time.Duration
	// Listen is the HTTP address.
	Listen string
	// ShutdownTimeout bounds the HTTP server's shutdown.
	ShutdownTimeout time.Duration
	// WebhookSecret enables POST /hooks/git when not empty.
	WebhookSecret []byte
	// WebhookLimits bounds a webhook's body and the webhooks read at once;
	// unset bounds take config.Webhook's defaults. Its SecretFile is not
	// read here: the secret is WebhookSecret.
	WebhookLimits config.Webhook
	// HTTP bounds every request: header, body and answer timeouts, idle
	// connections and header size. Unset bounds take config.HTTP's
	// defaults.
	HTTP config.HTTP
	// WebConfigFile, when set, is a Prometheus exporter-toolkit web
	// config file: TLS and basic auth for every endpoint, as node_exporter
	// takes it with --web.config.file.
	WebConfigFile string
	// Registry holds driftd's metrics; Metrics must be registered in it.
	Registry *prometheus.Registry
	// Metrics records each report.
	Metrics *report.Metrics
	// Elector, when set, runs leader election; only the leader checks.
	Elector Elector
	// LastApply, when set, returns the last apply run (apply mode in
	// serve), for the status page and GET /api/v1/apply.
	LastApply func() (apply.Result, bool)
	// Version is shown on the status page.
	Version string
	// Logger receives the daemon's logs.
	Logger *slog.Logger
}

// Elector runs leader election. Run blocks until ctx ends, calling lead
// with a context that ends when leadership is lost.
type Elector interface {
	Run(ctx context.Context, lead func(ctx context.Context)) error
}

// Daemon is a running `driftd serve`.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	trigger chan string
	running atomic.Bool
	leading atomic.Bool
	ready   atomic.Bool
	latest  atomic.Pointer[drift.Report]
	checked atomic.Pointer[string] // revision of the last check
	addr    atomic.Pointer[string]
	// hooks holds a slot per webhook request being read.
	hooks chan struct{}
	// pages holds the latest report as the HTTP endpoints serve it.
	pages pages

	leaderGauge prometheus.Gauge
	interval    prometheus.Gauge
}

// New returns a daemon; Run starts it.
func New(o Options) *Daemon {
	o.HTTP.Defaults()
	o.WebhookLimits.Defaults()
	d := &Daemon{opts: o, log: o.Logger, trigger: make(chan string, 1), hooks: make(chan struct{}, o.WebhookLimits.MaxInFlight)}
	d.leaderGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "driftd_leader", Help: "Whether this replica runs checks: 1 when leading or when leader election is off.",
	})
	d.interval = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "driftd_check_interval_seconds", Help: "The time between two scheduled checks, for staleness alerts.",
	})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "driftd_build_info", Help: "driftd's version.", ConstLabels: prometheus.Labels{"version": o.Version},
	})
	build.Set(1)
	o.Registry.MustRegister(d.leaderGauge, d.interval, build)
	now := time.Now()
	next := o.Schedule.Next(now)
	d.interval.Set(o.Schedule.Next(next).Sub(next).Seconds())
	return d
}

// lastApply returns the last apply run, or nil.
func (d *Daemon) lastApply() *apply.Result {
	if d.opts.LastApply == nil {
		return nil
	}
	r, ok := d.opts.LastApply()
	if !ok {
		return nil
	}
	return &r
}

// Addr returns the address the HTTP server listens on, once it does.
func (d *Daemon) Addr() string {
	if a := d.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// Run serves HTTP and runs checks until ctx ends, then shuts down: the
// running check is cancelled (terraform is interrupted and its processes
// reaped) and the HTTP server is given ShutdownTimeout to finish.
func (d *Daemon) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", d.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", d.opts.Listen, err)
	}
	addr := ln.Addr().String()
	d.addr.Store(&addr)
	srv := d.server()
	serveErr := make(chan error, 1)
	webCfg := d.opts.WebConfigFile
	go func() {
		serveErr <- web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &webCfg}, d.log.With("component", "web"))
	}()
	d.log.Info("serving", "address", addr)

	var workErr error
	if d.opts.Elector == nil {
		d.leading.Store(true)
		d.leaderGauge.Set(1)
		d.work(ctx)
	} else {
		workErr = d.opts.Elector.Run(ctx, func(lctx context.Context) {
			d.log.Info("leading: running checks")
			d.leading.Store(true)
			d.leaderGauge.Set(1)
			d.work(lctx)
			d.leading.Store(false)
			d.leaderGauge.Set(0)
			d.log.Info("no longer leading: checks stopped")
		})
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), d.opts.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if se := <-serveErr; se != nil && !errors.Is(se, http.ErrServerClosed) {
		err = errors.Join(err, se)
	}
	return errors.Join(workErr, err)
}

// work runs the check loop, the schedule and the poll until ctx ends, and
// returns after the running check, if any, has stopped.
func (d *Daemon) work(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { d.runChecks(ctx) })
	wg.Go(func() { d.schedule(ctx) })
	if d.opts.Head != nil && d.opts.PollInterval > 0 {
		wg.Go(func() { d.poll(ctx) })
	}
	wg.Wait()
}

// Trigger asks for a check now. It returns false, and counts a skipped
// check, when one is running or already queued: runs never stack.
func (d *Daemon) Trigger(reason string) bool {
	if d.running.Load() {
		d.opts.Metrics.Skipped()
		d.log.Info("check skipped: the previous one is still running", "reason", reason)
		return false
	}
	select {
	case d.trigger <- reason:
		return true
	default:
		d.opts.Metrics.Skipped()
		d.log.Info("check skipped: one is already queued", "reason", reason)
		return false
	}
}

func (d *Daemon) runChecks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case reason := <-d.trigger:
			d.running.Store(true)
			start := time.Now()
			d.log.Info("check started", "reason", reason)
			rep := d.opts.Checker.Run(ctx)
			if ctx.Err() != nil {
				// Cancelled by shutdown or lost leadership: the partial
				// report must not replace the last good state.
				d.running.Store(false)
				d.log.Info("check cancelled", "reason", reason)
				return
			}
			d.latest.Store(&rep)
			rev := rep.Revision
			d.checked.Store(&rev)
			d.opts.Metrics.Observe(rep, time.Now())
			s := rep.Summarize()
			d.log.Info("check finished", "reason", reason, "revision", rep.Revision, "status", rep.Status,
				"findings", s.Findings, "targets_drifted", s.Drifted, "targets_unknown", s.Unknown,
				"duration_seconds", time.Since(start).Seconds())
			d.ready.Store(true)
			d.running.Store(false)
		}
	}
}

// schedule triggers the first check (after the jitter), then one at every
// cron time.
func (d *Daemon) schedule(ctx context.Context) {
	delay := time.Duration(0)
	if d.opts.StartJitter > 0 {
		delay = rand.N(d.opts.StartJitter)
	}
	if !sleep(ctx, delay) {
		return
	}
	d.Trigger("start")
	for {
		next := d.opts.Schedule.Next(time.Now())
		if !sleep(ctx, time.Until(next)) {
			return
		}
		d.Trigger("schedule")
	}
}

// poll asks the remote for its head and triggers a check when it differs
// from the revision last checked.
func (d *Daemon) poll(ctx context.Context) {
	t := time.NewTicker(d.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		head, err := d.opts.Head(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.opts.Metrics.SetRepoSynced(false)
				d.log.Warn("repo poll failed", "err", err)
			}
			continue
		}
		if last := d.checked.Load(); last != nil && *last != head && !d.running.Load() {
			d.log.Info("new revision", "revision", head, "previous", *last)
			d.Trigger("new revision " + head)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
