package helmrender

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestMain lets the test binary stand in for driftd in RenderIsolated's
// tests: run as `<test binary> helm-template`, it is the child, exactly as
// `driftd helm-template` is (cmd/driftd calls the same ServeChild).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ChildCommand {
		if err := ServeChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "helm-template: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childArgv runs this test binary as the child.
func childArgv(t testing.TB) []string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{exe, ChildCommand}
}
