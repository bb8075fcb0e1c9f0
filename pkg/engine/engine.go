// Package engine runs one check: it syncs the config repository, runs every
// enabled layer against the snapshot, and assembles the report.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/ignore"
)

// Source provides the config repository at a revision.
type Source interface {
	// Sync returns a checkout and how it was obtained. A non-nil error means
	// there is no checkout to check against at all.
	Sync(ctx context.Context) (drift.Snapshot, drift.SourceStatus, error)
}

// Engine runs checks. It holds no state between runs, so one Engine may be
// used for any number of sequential runs.
type Engine struct {
	source Source
	layers []drift.Layer
	logger *slog.Logger
	now    func() time.Time
	opts   Options
}

// Options are the settings of an Engine that apply to every layer.
type Options struct {
	// MaxFileSize bounds any one file a layer reads from the checkout
	// (zero: the repofs default); it is handed to the layers in each
	// snapshot.
	MaxFileSize int64
	// Ignore are the ignore rules. Rules without paths are applied here,
	// to every layer's findings alike; layers apply the paths of the
	// others within objects.
	Ignore []config.IgnoreRule
}

// New returns an Engine that checks layers against source.
func New(source Source, layers []drift.Layer, logger *slog.Logger, opts Options) *Engine {
	return &Engine{source: source, layers: layers, logger: logger, now: time.Now, opts: opts}
}

// Run syncs the source and runs every layer in parallel. The report is always
// complete: a layer that fails or panics is reported as unknown with its
// error, and a source that cannot be synced at all gives a report with no
// layers and an unknown status.
func (e *Engine) Run(ctx context.Context) drift.Report {
	rep, _ := e.RunSnapshot(ctx)
	return rep
}

// RunSnapshot is Run, and also returns the snapshot it checked, which apply
// mode acts on.
func (e *Engine) RunSnapshot(ctx context.Context) (drift.Report, drift.Snapshot) {
	start := e.now()
	rep := drift.Report{StartedAt: start.UTC()}
	snap, status, err := e.source.Sync(ctx)
	snap.MaxFileSize = e.opts.MaxFileSize
	rep.Source = status
	rep.Revision = snap.Revision
	if err != nil {
		rep.Source.Synced = false
		rep.Source.Error = err.Error()
		rep.Normalize()
		rep.DurationSeconds = e.now().Sub(start).Seconds()
		return rep, snap
	}

	results := make([]drift.LayerResult, len(e.layers))
	var wg sync.WaitGroup
	for i, l := range e.layers {
		wg.Go(func() { results[i] = e.runLayer(ctx, l, snap) })
	}
	wg.Wait()
	rep.Layers = results
	ignore.New(e.opts.Ignore, start).Apply(&rep)
	rep.Normalize()
	rep.DurationSeconds = e.now().Sub(start).Seconds()
	return rep, snap
}

func (e *Engine) runLayer(ctx context.Context, l drift.Layer, snap drift.Snapshot) (res drift.LayerResult) {
	start := e.now()
	logger := e.logger.With("layer", l.Name())
	res.Layer = l.Name()
	defer func() {
		if p := recover(); p != nil {
			logger.Error("layer panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res.Error = fmt.Sprintf("layer %s: internal error: %v", l.Name(), p)
		}
		res.Duration = e.now().Sub(start)
	}()
	targets, err := l.Check(ctx, snap)
	res.Targets = targets
	if err != nil {
		res.Error = err.Error()
		logger.Warn("layer check failed", "err", err)
	}
	return res
}
