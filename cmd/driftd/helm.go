package main

import (
	"context"
	"fmt"
	"io"

	"github.com/driftd/driftd/pkg/helmrender"
)

// helmTemplateCommand is the internal command that renders a batch of Helm
// charts for the app layer in a process of its own
// (helmrender.RenderIsolated), so that a chart that loops or grows without
// end is bounded in time (its process group is killed) and memory (an
// address-space limit) and costs only its own rendering. The app layer runs
// it as os.Executable() followed by this name.
const helmTemplateCommand = helmrender.ChildCommand

// runHelmTemplate is `driftd helm-template`: a JSON batch on stdin, one
// JSON line per chart on stdout (see helmrender.ServeChild).
func runHelmTemplate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintf(stderr, "usage: driftd %s < batch.json (internal: used by the app layer)\n", helmTemplateCommand)
		return 1
	}
	if err := helmrender.ServeChild(ctx, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "driftd %s: %v\n", helmTemplateCommand, err)
		return 1
	}
	return 0
}
