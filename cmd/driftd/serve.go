package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/driftd/driftd/pkg/apply"
	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/daemon"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/engine"
	"github.com/driftd/driftd/pkg/report"
	"github.com/driftd/driftd/pkg/source"
)

const serveUsage = `Usage: driftd serve [flags]

Run as a daemon: check on the config's cron schedule, when the repository
gets a new revision (polled every repo.poll_interval), and on a signed push
webhook. Runs never overlap: a check due while one runs is skipped and
counted in driftd_checks_skipped_total.

HTTP (serve.listen, default :8080): /metrics, /healthz, /readyz,
/api/v1/report, the status page at /, and POST /hooks/git. With
--web.config.file, every endpoint takes TLS and basic auth as the
Prometheus exporters do, probes and the webhook included. Requests are
bounded by serve.http (timeouts, header size) and serve.webhook
(max_body_size, max_in_flight).

SIGTERM or SIGINT cancels the running check (terraform is interrupted and
its processes reaped) and exits within serve.shutdown_timeout.

Flags:
`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f commonFlags
	var listen string
	fs := newFlagSet("serve", serveUsage, stderr)
	f.register(fs, "info")
	fs.StringVar(&listen, "listen", "", "override serve.listen")
	var webConfig string
	fs.StringVar(&webConfig, "web.config.file", "", "path to a Prometheus web config file that enables TLS and basic auth (as for node_exporter)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	cfg, logger, layers, err := f.load(stderr, nil, func(c *config.Config) {
		if listen != "" {
			c.Serve.Listen = listen
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "driftd serve: %v\n", err)
		return 1
	}
	if webConfig != "" {
		if err := web.Validate(webConfig); err != nil {
			fmt.Fprintf(stderr, "driftd serve: --web.config.file %s: %v\n", webConfig, err)
			return 1
		}
	}
	var secret []byte
	if p := cfg.Serve.Webhook.SecretFile; p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintf(stderr, "driftd serve: webhook secret_file: %v\n", err)
			return 1
		}
		secret = []byte(strings.TrimSpace(string(b)))
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := report.NewMetrics(reg, cfg.Serve.PerObjectMetrics)
	git := source.NewGit(cfg.Repo, cfg.CacheDir, logger)
	eng := engine.New(git, layers, logger, engine.Options{MaxFileSize: int64(cfg.Repo.MaxFileSize), Ignore: cfg.Ignore})
	var checker daemon.Checker = eng
	var lastApply func() (apply.Result, bool)
	if cfg.Apply.Enabled && cfg.Apply.InServe {
		breaker, err := apply.NewBreaker(filepath.Join(cfg.CacheDir, "apply-flap-breaker.json"))
		if err != nil {
			fmt.Fprintf(stderr, "driftd serve: %v\n", err)
			return 1
		}
		appliers := map[drift.LayerName]drift.Applier{}
		for _, l := range layers {
			if a, ok := l.(drift.Applier); ok {
				appliers[l.Name()] = a
			}
		}
		ac := &applyingChecker{eng: eng, metrics: apply.NewMetrics(reg), logger: logger.With("mode", "apply"),
			opts: apply.Options{Config: cfg.Apply, Layers: appliers, Breaker: breaker, Logger: logger.With("mode", "apply")}}
		checker, lastApply = ac, ac.last
		logger.Warn("apply mode is on: drift in apply.targets is brought back to Git after each check", "targets", fmt.Sprint(cfg.Apply.Targets))
	}
	opts := daemon.Options{
		Checker:         checker,
		Head:            git.Head,
		PollInterval:    cfg.Repo.PollInterval.Std(),
		Schedule:        cfg.Schedule.Cron,
		StartJitter:     cfg.Serve.StartJitter.Std(),
		Listen:          cfg.Serve.Listen,
		ShutdownTimeout: cfg.Serve.ShutdownTimeout.Std(),
		WebhookSecret:   secret,
		WebhookLimits:   cfg.Serve.Webhook,
		HTTP:            cfg.Serve.HTTP,
		WebConfigFile:   webConfig,
		Registry:        reg,
		Metrics:         metrics,
		Version:         version,
		Logger:          logger,
		LastApply:       lastApply,
	}
	if cfg.Serve.LeaderElection.Enabled {
		el, err := daemon.NewLeaseElector(cfg.Serve.LeaderElection, logger)
		if err != nil {
			fmt.Fprintf(stderr, "driftd serve: %v\n", err)
			return 1
		}
		logger.Info("leader election enabled", "identity", el.Identity(),
			"lease", cfg.Serve.LeaderElection.Namespace+"/"+cfg.Serve.LeaderElection.LeaseName)
		opts.Elector = el
	}
	if err := daemon.New(opts).Run(ctx); err != nil {
		fmt.Fprintf(stderr, "driftd serve: %v\n", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

// applyingChecker is serve's checker when apply.in_serve is on: after each
// check it applies within the rails (by the leader only, since only the
// leader checks), and when anything changed, checks again, so that the
// metrics and the status page show reality after the apply.
type applyingChecker struct {
	eng     *engine.Engine
	opts    apply.Options
	metrics *apply.Metrics
	logger  *slog.Logger
}

// last returns the last apply run, once there is one.
func (c *applyingChecker) last() (apply.Result, bool) {
	r := c.metrics.Last()
	return r, r.Revision != ""
}

func (c *applyingChecker) Run(ctx context.Context) drift.Report {
	rep, snap := c.eng.RunSnapshot(ctx)
	if !rep.Source.Synced || ctx.Err() != nil {
		return rep
	}
	res := apply.Run(ctx, rep, snap, c.opts)
	c.metrics.Observe(res)
	n := res.Count(drift.ResultApplied)
	c.logger.Info("apply finished", "revision", res.Revision, "applied", n, "failed", res.Count(drift.ResultFailed),
		"blocked", res.Count(drift.ResultBlocked), "skipped", res.Count(drift.ResultSkipped), "blocked_run", res.Blocked)
	if n == 0 || ctx.Err() != nil {
		return rep
	}
	return c.eng.Run(ctx)
}
