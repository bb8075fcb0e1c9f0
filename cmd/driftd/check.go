package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/term"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/engine"
	"github.com/driftd/driftd/pkg/report"
	"github.com/driftd/driftd/pkg/source"
)

const checkUsage = `Usage: driftd check [flags]

Compare the config repository with reality once and print a report.

With --repo, the checkout at PATH is used as it is (in pre-merge CI, the
checkout is the pull request) and driftd.yaml is read from it unless --config
is given. Without --repo, the repository in driftd.yaml is cloned or fetched.

Exit codes:
  0  everything is in sync
  2  drift was found
  1  something could not be checked: a target failed, the repository could
     not be synced, or the config is invalid. 1 wins over 2, because a target
     that could not be checked may hide drift.

Flags:
`

type checkFlags struct {
	commonFlags
	repo    string
	output  string
	noColor bool
	// showIgnored lists the findings that ignore rules silenced.
	showIgnored bool
	layers      listFlag
	timeout     time.Duration
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f checkFlags
	fs := newFlagSet("check", checkUsage, stderr)
	f.register(fs, "warn")
	fs.StringVar(&f.repo, "repo", "", "use the local checkout at `PATH` instead of cloning")
	fs.StringVar(&f.output, "output", "text", "output format: "+report.FormatNames())
	fs.StringVar(&f.output, "o", "text", "shorthand for --output")
	fs.BoolVar(&f.noColor, "no-color", false, "never colour text output (it is coloured only on a terminal)")
	fs.BoolVar(&f.showIgnored, "show-ignored", false, "also list the findings that ignore rules silenced (JSON always has them, under \"ignored\")")
	fs.Var(&f.layers, "layer", "check only these layers (infra, node, app); repeatable or comma-separated")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up on the whole check after this long")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "driftd check: unexpected argument %q\n", fs.Arg(0))
		return 1
	}
	write, ok := report.Formats()[f.output]
	if !ok {
		fmt.Fprintf(stderr, "driftd check: unknown output format %q: use %s\n", f.output, report.FormatNames())
		return 1
	}
	if f.repo != "" && !flagWasSet(fs, "config", "c") {
		f.config = filepath.Join(f.repo, "driftd.yaml")
	}
	cfg, logger, layers, err := f.load(stderr, f.layers, nil)
	if err != nil {
		fmt.Fprintf(stderr, "driftd check: %v\n", err)
		return 1
	}

	var src engine.Source = source.NewGit(cfg.Repo, cfg.CacheDir, logger)
	if f.repo != "" {
		src = source.NewLocal(f.repo)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	rep := engine.New(src, layers, logger, engine.Options{MaxFileSize: int64(cfg.Repo.MaxFileSize), Ignore: cfg.Ignore}).Run(ctx)

	err = write(stdout, rep, report.Options{Text: report.TextOptions{Color: !f.noColor && isTerminal(stdout), ShowIgnored: f.showIgnored}})
	if err != nil {
		fmt.Fprintf(stderr, "driftd check: %v\n", err)
		return 1
	}
	return rep.Status.ExitCode()
}

// isTerminal reports whether w is a terminal, where colour is welcome.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

// selectLayers filters the enabled layers by --layer.
func selectLayers(enabled []drift.LayerName, only []string) ([]drift.LayerName, error) {
	for _, o := range only {
		if !drift.LayerName(o).Known() {
			return nil, fmt.Errorf("--layer: unknown layer %q: use %s", o, drift.LayerNames())
		}
		if !slices.Contains(enabled, drift.LayerName(o)) {
			return nil, fmt.Errorf("--layer %s: that layer is not enabled in the config", o)
		}
	}
	if len(only) == 0 {
		return enabled, nil
	}
	return slices.DeleteFunc(slices.Clone(enabled), func(l drift.LayerName) bool {
		return !slices.Contains(only, string(l))
	}), nil
}
