package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/engine"
	"github.com/driftd/driftd/pkg/source"
)

// commonFlags are the flags every command that loads a config takes.
type commonFlags struct {
	config   string
	logLevel string
}

func (c *commonFlags) register(fs *flag.FlagSet, defLevel string) {
	fs.StringVar(&c.config, "config", "driftd.yaml", "path to driftd.yaml")
	fs.StringVar(&c.config, "c", "driftd.yaml", "shorthand for --config")
	fs.StringVar(&c.logLevel, "log-level", defLevel, "log level: debug, info, warn or error")
}

// newFlagSet returns a flag set for a command whose --help prints usage,
// then the flags.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args. When done is true the command must return code:
// 0 after --help (printed to stdout), 1 after a bad flag.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return 0, true
	default:
		return 1, true
	}
}

// load builds the logger, loads the config, lets adjust change it, and
// wires the enabled layers (only those in only, when set).
func (c *commonFlags) load(stderr io.Writer, only []string, adjust func(*config.Config)) (*config.Config, *slog.Logger, []drift.Layer, error) {
	return c.loadWith(config.LoadFile, stderr, only, adjust)
}

// loadEngine loads the config for a command that takes --repo and builds
// its engine: with a checkout (repo), driftd.yaml is read from it unless
// --config was given, repo.url may be empty, and the checkout is used as
// it is; without one, the configured remote is cloned or fetched.
func (c *commonFlags) loadEngine(fs *flag.FlagSet, repo string, stderr io.Writer, only []string) (*config.Config, *slog.Logger, []drift.Layer, *engine.Engine, error) {
	loader := config.LoadFile
	if repo != "" {
		loader = config.LoadFileForCheckout
		if !flagWasSet(fs, "config", "c") {
			c.config = filepath.Join(repo, "driftd.yaml")
		}
	}
	cfg, logger, layers, err := c.loadWith(loader, stderr, only, nil)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var src engine.Source = source.NewGit(cfg.Repo, cfg.CacheDir, logger)
	if repo != "" {
		src = source.NewLocal(repo)
	}
	eng := engine.New(src, layers, logger, engine.Options{MaxFileSize: int64(cfg.Repo.MaxFileSize), Ignore: cfg.Ignore})
	return cfg, logger, layers, eng, nil
}

// loadWith is load with another config loader.
func (c *commonFlags) loadWith(loader func(string) (*config.Config, error), stderr io.Writer, only []string, adjust func(*config.Config)) (*config.Config, *slog.Logger, []drift.Layer, error) {
	logger, err := c.logger(stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := loader(c.config)
	if err != nil {
		return nil, nil, nil, err
	}
	if adjust != nil {
		adjust(cfg)
	}
	layers, err := buildLayers(cfg, only, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, logger, layers, nil
}

func (c *commonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
}

// listFlag is a flag that may be repeated or given as a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// flagWasSet reports whether any of names was given on the command line.
func flagWasSet(fs *flag.FlagSet, names ...string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		for _, n := range names {
			if f.Name == n {
				set = true
			}
		}
	})
	return set
}

// specFlag is a flag that may be repeated; each value is kept whole.
type specFlag []string

func (s *specFlag) String() string { return strings.Join(*s, " ") }

func (s *specFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}
