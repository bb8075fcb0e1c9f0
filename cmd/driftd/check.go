package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"golang.org/x/term"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/report"
)

const checkUsage = `Usage: driftd check [flags]

Compare the config repository with reality once and print a report.

With --repo, the checkout at PATH is used as it is and driftd.yaml is read
from it unless --config is given; repo.url may then be empty. Without --repo,
the repository in driftd.yaml is cloned or fetched.

In pre-merge CI, add --base REF (the branch the pull request goes into, as
fetched: origin/main). The config then comes from the base revision, read
from Git, or from --config outside the checkout, never from the pull
request; the base tree and the pull request's tree are both compared with
reality, and every finding gets a class: collision (the pull request changes
something that also drifted live: applying it undoes a hand change),
introduced (what merging and applying will change), already_drifted (older
than the pull request), resolved (the pull request writes a live change into
Git). Live values are shown only for objects the base already manages.
Terraform runs on the pull request's tree only with --allow-pr-code=infra.

Exit codes:
  0  everything is in sync (or no finding fails --fail-on)
  2  drift was found (a finding that fails --fail-on)
  1  something could not be checked: a target failed, the repository could
     not be synced, or the config is invalid. 1 wins over 2, because a target
     that could not be checked may hide drift.

Flags:
`

type checkFlags struct {
	commonFlags
	repo    string
	outputs specFlag
	noColor bool
	// showIgnored lists the findings that ignore rules silenced.
	showIgnored bool
	layers      listFlag
	timeout     time.Duration
	base        string
	failOn      string
	allowCode   listFlag
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f checkFlags
	fs := newFlagSet("check", checkUsage, stderr)
	f.register(fs, "warn")
	fs.StringVar(&f.repo, "repo", "", "use the local checkout at `PATH` instead of cloning")
	fs.Var(&f.outputs, "output", "output `FORMAT` ("+report.FormatNames()+") on standard output, or FORMAT=FILE; repeatable, at most one on standard output (default text)")
	fs.Var(&f.outputs, "o", "shorthand for --output")
	fs.BoolVar(&f.noColor, "no-color", false, "never colour text output (it is coloured only on a terminal)")
	fs.BoolVar(&f.showIgnored, "show-ignored", false, "also list the findings that ignore rules silenced (JSON always has them, under \"ignored\")")
	fs.Var(&f.layers, "layer", "check only these layers (infra, node, app); repeatable or comma-separated")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up on the whole check after this long")
	fs.StringVar(&f.base, "base", "", "check the --repo checkout as a pull request against the base revision `REF` (origin/main)")
	fs.StringVar(&f.failOn, "fail-on", string(drift.FailOnAny), "which findings exit 2: "+drift.FailOnNames())
	fs.Var(&f.allowCode, "allow-pr-code", "with --base, also run these layers' code from the pull request (infra: terraform plans it, running providers and data sources; app: kustomize fetches its remote resources) and show their findings unredacted; only for trusted pull requests")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "driftd check: unexpected argument %q\n", fs.Arg(0))
		return 1
	}
	if len(f.outputs) == 0 {
		f.outputs = specFlag{"text"}
	}
	outs, err := report.ParseOutputs(f.outputs)
	if err != nil {
		fmt.Fprintf(stderr, "driftd check: %v\n", err)
		return 1
	}
	failOn, err := drift.ParseFailOn(f.failOn, f.base != "")
	if err != nil {
		fmt.Fprintf(stderr, "driftd check: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	var rep drift.Report
	switch {
	case f.base != "":
		if f.repo == "" {
			fmt.Fprintln(stderr, "driftd check: --base needs --repo: the pull request's checkout")
			return 1
		}
		cfgFlag := ""
		if flagWasSet(fs, "config", "c") {
			cfgFlag = f.config
		}
		rep, err = prRun{repo: f.repo, base: f.base, config: cfgFlag, only: f.layers, allowCode: f.allowCode, logLevel: f.logLevel}.run(ctx, stderr)
	case len(f.allowCode) > 0:
		err = fmt.Errorf("--allow-pr-code needs --base")
	default:
		rep, err = f.checkOnce(ctx, fs, stderr)
	}
	opts := report.Options{Text: report.TextOptions{Color: !f.noColor && isTerminal(stdout), ShowIgnored: f.showIgnored}}
	if err != nil {
		fmt.Fprintf(stderr, "driftd check: %v\n", err)
		// The requested files are still written, saying the check could
		// not run: a CI step that posts them after a failure must never
		// post an older file, or one the pull request put in their place.
		if werr := report.WriteOutputs(io.Discard, files(outs), failedReport(err), opts); werr != nil {
			fmt.Fprintf(stderr, "driftd check: %v\n", werr)
		}
		return 1
	}

	err = report.WriteOutputs(stdout, outs, rep, opts)
	if err != nil {
		fmt.Fprintf(stderr, "driftd check: %v\n", err)
		return 1
	}
	return rep.ExitCode(failOn)
}

// files keeps the outputs that go to files.
func files(outs []report.Output) []report.Output {
	var keep []report.Output
	for _, o := range outs {
		if o.Path != "" {
			keep = append(keep, o)
		}
	}
	return keep
}

// failedReport is the report of a check that could not run at all.
func failedReport(err error) drift.Report {
	rep := drift.Report{StartedAt: time.Now().UTC(), Source: drift.SourceStatus{Error: err.Error()},
		Notices: []string{"driftd check could not run: " + err.Error()}}
	rep.Normalize()
	return rep
}

// checkOnce is a check of one revision: the --repo checkout, or the
// repository the config names.
func (f *checkFlags) checkOnce(ctx context.Context, fs *flag.FlagSet, stderr io.Writer) (drift.Report, error) {
	_, _, _, eng, err := f.loadEngine(fs, f.repo, stderr, f.layers)
	if err != nil {
		return drift.Report{}, err
	}
	return eng.Run(ctx), nil
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
