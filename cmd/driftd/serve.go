package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/engine"
	"github.com/driftd/driftd/pkg/source"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f commonFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs, "info")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	logger, err := f.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "driftd serve: %v\n", err)
		return 1
	}
	cfg, err := config.LoadFile(f.config)
	if err != nil {
		fmt.Fprintf(stderr, "driftd serve: %v\n", err)
		return 1
	}
	layers, err := buildLayers(cfg, nil, logger)
	if err != nil {
		fmt.Fprintf(stderr, "driftd serve: %v\n", err)
		return 1
	}
	rep := engine.New(source.NewGit(cfg.Repo, cfg.CacheDir, logger), layers, logger).Run(ctx)
	s := rep.Summarize()
	logger.Info("check finished", "revision", rep.Revision, "status", rep.Status,
		"findings", s.Findings, "targets_drifted", s.Drifted, "targets_unknown", s.Unknown)
	return 0
}
