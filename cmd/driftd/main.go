// Command driftd finds drift between a platform's Git repository and reality,
// on three layers: Terraform stacks, node files, and Kubernetes objects.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" && os.Getenv(supervisedEnv) == "" {
		// A crash of the check must not exit 2, "drift found".
		os.Exit(supervise(os.Args[1:], os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runSafe(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	reportExit(code)
	os.Exit(code)
}

const usage = `driftd finds drift between a platform's Git repository and reality.

Usage:
  driftd <command> [flags]

Commands:
  check     compare the repository with reality once, print a report, and exit
            0 (in sync), 2 (drift found) or 1 (something could not be checked)
  serve     run as a daemon: check on a schedule and export Prometheus metrics
  apply     bring reality back to Git where it drifted (off unless enabled;
            asks first; --dry-run changes nothing)
  version   print the version

Run 'driftd <command> --help' for a command's flags.
`

// run is the whole CLI, with its I/O passed in so that tests can drive it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	switch args[0] {
	case "check":
		return runCheck(ctx, args[1:], stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "apply":
		return runApply(ctx, args[1:], os.Stdin, stdout, stderr)
	case kustomizeBuildCommand:
		return runKustomizeBuild(args[1:], stdout, stderr)
	case helmTemplateCommand:
		return runHelmTemplate(ctx, args[1:], os.Stdin, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "driftd %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "driftd: unknown command %q\n\n%s", args[0], usage)
		return 1
	}
}
