package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/driftd/driftd/pkg/layers/app"
)

// kustomizeBuildCommand is the internal command that renders one
// kustomization with remote resources allowed, in a process of its own, so
// that the app layer can bound it in time (killing its process group) and
// memory (an address-space limit) whatever the remote serves.
const kustomizeBuildCommand = "kustomize-build"

// renderMemoryLimit is the address-space limit of a kustomize-build
// process: a remote alias bomb kills that process, not driftd.
const renderMemoryLimit = 4 << 30

// runKustomizeBuild is `driftd kustomize-build [--max-file-size N] ROOT DIR`.
func runKustomizeBuild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(kustomizeBuildCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	maxFile := fs.Int64("max-file-size", 0, "bound on one file read from the repository")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
		fmt.Fprintf(stderr, "usage: driftd %s [--max-file-size N] ROOT DIR (internal: used by the app layer)\n", kustomizeBuildCommand)
		return 1
	}
	lim := syscall.Rlimit{Cur: renderMemoryLimit, Max: renderMemoryLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
		fmt.Fprintf(stderr, "driftd %s: limit memory: %v\n", kustomizeBuildCommand, err)
		return 1
	}
	w := bufio.NewWriter(stdout)
	if err := app.RenderKustomization(fs.Arg(0), fs.Arg(1), *maxFile, w); err != nil {
		fmt.Fprintf(stderr, "driftd %s: %v\n", kustomizeBuildCommand, err)
		return 1
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "driftd %s: %v\n", kustomizeBuildCommand, err)
		return 1
	}
	return 0
}

// remoteRenderer is the argv that runs kustomize-build from this binary.
func remoteRenderer() ([]string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("app layer: allow_remote_resources: %w", err)
	}
	return []string{self, kustomizeBuildCommand}, nil
}
