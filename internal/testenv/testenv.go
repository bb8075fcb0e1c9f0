// Package testenv starts the real servers that integration tests need, through
// the scripts in the repository's testenv/ directory, and stops them again.
package testenv

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Dir returns the repository's testenv/ directory.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testenv")
}

// Required reports whether missing servers must fail the tests instead of
// skipping them. `make test` sets DRIFTD_REQUIRE_TESTENV=1, so CI never skips.
func Required() bool { return os.Getenv("DRIFTD_REQUIRE_TESTENV") == "1" }

// Unavailable skips t, or fails it when the environment is required.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("test environment unavailable: %s", msg)
	}
	t.Skipf("test environment unavailable (run `make testenv`): %s", msg)
}

// readEnv parses the KEY=VALUE lines that the start scripts write.
func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		env[k] = v
	}
	return env, sc.Err()
}

// run runs a testenv script and returns its combined output in any error.
func run(ctx context.Context, script string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(Dir(), script), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", script, err, out)
	}
	return nil
}

// startForTest runs script with args (the state directory first, the owner
// PID appended), stops it with stopScript at the end of the test, and
// returns the environment the script wrote to STATE/env.
func startForTest(t testing.TB, script, stopScript, state string, args ...string) map[string]string {
	t.Helper()
	args = append(append([]string{state}, args...), strconv.Itoa(os.Getpid()))
	if err := run(context.Background(), script, args...); err != nil {
		t.Fatalf("start %s: %v", script, err)
	}
	t.Cleanup(func() {
		if err := run(context.Background(), stopScript, state); err != nil {
			t.Errorf("stop %s: %v", script, err)
		}
	})
	env, err := readEnv(filepath.Join(state, "env"))
	if err != nil {
		t.Fatal(err)
	}
	return env
}
