package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/driftd/driftd/pkg/apply"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/report"
)

const applyUsage = `Usage: driftd apply [flags]

Bring reality back to Git where it drifted: check, show what would be done,
ask, then restore exactly what the check found and nothing else. Apply mode
must be enabled in driftd.yaml (apply.enabled) with the targets it may
change (apply.targets); it never ships changes merged in Git and never
applied (pending), never touches a target that could not be checked, and
stops at the first failure. Each object is changed only if it is still as
the check saw it.

Exit codes:
  0  everything asked was applied (or would be, with --dry-run), or there
     was nothing to do
  1  something failed, was blocked by a rail, or could not be checked

Flags:
`

type applyFlags struct {
	commonFlags
	repo    string
	output  string
	dryRun  bool
	yes     bool
	layers  listFlag
	timeout time.Duration
}

func runApply(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f applyFlags
	fs := newFlagSet("apply", applyUsage, stderr)
	f.register(fs, "info")
	fs.StringVar(&f.repo, "repo", "", "use the local checkout at `PATH` instead of cloning")
	fs.StringVar(&f.output, "output", "text", "output format: text or json")
	fs.StringVar(&f.output, "o", "text", "shorthand for --output")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print what would be done and change nothing")
	fs.BoolVar(&f.yes, "yes", false, "apply without asking")
	fs.Var(&f.layers, "layer", "apply only these layers (infra, node, app)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if f.output != "text" && f.output != "json" {
		fmt.Fprintf(stderr, "driftd apply: unknown output format %q: use text or json\n", f.output)
		return 1
	}
	cfg, logger, layers, eng, err := f.loadEngine(fs, f.repo, stderr, f.layers)
	if err != nil {
		fmt.Fprintf(stderr, "driftd apply: %v\n", err)
		return 1
	}
	if !cfg.Apply.Enabled {
		fmt.Fprintln(stderr, "driftd apply: apply mode is off: set apply.enabled: true in driftd.yaml and list what it may change under apply.targets")
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	rep, snap := eng.RunSnapshot(ctx)
	if !rep.Source.Synced {
		fmt.Fprintf(stderr, "driftd apply: the repository could not be synced, nothing is applied: %s\n", rep.Source.Error)
		return 1
	}
	appliers := map[drift.LayerName]drift.Applier{}
	for _, l := range layers {
		if a, ok := l.(drift.Applier); ok {
			appliers[l.Name()] = a
		}
	}
	breaker, err := apply.NewBreaker(filepath.Join(cfg.CacheDir, "apply-flap-breaker.json"))
	if err != nil {
		fmt.Fprintf(stderr, "driftd apply: %v\n", err)
		return 1
	}
	opts := apply.Options{Config: cfg.Apply, DryRun: true, Layers: appliers, Breaker: breaker, Logger: logger}

	// What would be done, always first: a dry run on the servers.
	plan := apply.Run(ctx, rep, snap, opts)
	if f.dryRun || plan.Count(drift.ResultWouldApply) == 0 {
		writeApply(stdout, f.output, plan)
		return applyExit(plan)
	}
	if !f.yes {
		writeApply(stdout, "text", plan)
		if !confirm(stdin, stdout, plan.Count(drift.ResultWouldApply)) {
			fmt.Fprintln(stderr, "driftd apply: not confirmed; nothing was applied")
			return 1
		}
	}
	opts.DryRun = false
	opts.Reviewed = &plan
	res := apply.Run(ctx, rep, snap, opts)
	writeApply(stdout, f.output, res)
	return applyExit(res)
}

// confirm asks as terraform apply does: only "yes" is yes. Without a
// terminal to ask on, it is no: use --yes.
func confirm(stdin io.Reader, stdout io.Writer, n int) bool {
	if f, ok := stdin.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		fmt.Fprintln(stdout, "\nNot a terminal: pass --yes to apply.")
		return false
	}
	fmt.Fprintf(stdout, "\nApply these %d change(s)? Only 'yes' will be accepted: ", n)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}

func applyExit(r apply.Result) int {
	if r.Blocked != "" || r.Count(drift.ResultFailed) > 0 || r.Count(drift.ResultBlocked) > 0 {
		return 1
	}
	return 0
}

// writeApply prints an apply result: a table of every object, then the
// diffs of what was (or would be) changed.
func writeApply(w io.Writer, format string, r apply.Result) {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
		return
	}
	verb := "Applied"
	if r.DryRun {
		verb = "Dry run (nothing changed)"
	}
	fmt.Fprintf(w, "%s at revision %s\n\n", verb, r.Revision)
	if len(r.Actions) == 0 {
		fmt.Fprintln(w, "Nothing to apply: no drift.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tACTION\tLAYER\tTARGET\tOBJECT\tREASON")
	for _, a := range r.Actions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Result, a.Action, a.Layer, report.Printable(a.Target), report.Printable(a.Object), report.Printable(a.Reason))
	}
	tw.Flush()
	if r.Blocked != "" {
		fmt.Fprintf(w, "\nBlocked: %s\n", r.Blocked)
	}
	for _, a := range r.Actions {
		if a.Result != drift.ResultApplied && a.Result != drift.ResultWouldApply {
			continue
		}
		fmt.Fprintf(w, "\n%s/%s: %s (%s)\n", a.Layer, report.Printable(a.Target), report.Printable(a.Object), a.Action)
		for _, line := range strings.Split(strings.TrimRight(report.PrintableBlock(a.Diff), "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}
