package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// supervisedEnv marks the child of a supervised `driftd check`; its value
// is the number of the file descriptor on which the child reports its exit
// code once the report is written.
const supervisedEnv = "DRIFTD_SUPERVISED_FD"

// supervisedFD is the child's report descriptor: the first of ExtraFiles.
const supervisedFD = 3

// supervise runs `driftd check` as a child process and returns its exit
// code, but only a code the child reported after finishing its report. The
// Go runtime exits with status 2 on a fatal error (out of memory, a fatal
// signal, an unrecovered panic in a goroutine), which is also `driftd
// check`'s "drift found": a crash must never read as drift, so a child that
// exits without reporting makes driftd exit 1. SIGINT and SIGTERM are
// passed on to the child, which stops its check and reports as usual.
func supervise(args []string, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "driftd check: %v\n", err)
		return 1
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "driftd check: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", supervisedEnv, supervisedFD))
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "driftd check: start: %v\n", err)
		return 1
	}
	w.Close()
	reported := make(chan int, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, 8))
		if len(b) == 1 {
			reported <- int(b[0])
		}
		close(reported)
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-waited:
			code, ok := <-reported
			if ok {
				return code
			}
			var ee *exec.ExitError
			if errors.As(err, &ee) || err == nil {
				fmt.Fprintf(stderr, "driftd check: the check crashed (%v) before it finished its report; exit 1, not drift\n", cmd.ProcessState)
			} else {
				fmt.Fprintf(stderr, "driftd check: %v\n", err)
			}
			return 1
		}
	}
}

// reportExit tells a supervising parent, if there is one, that the check
// finished with code.
func reportExit(code int) {
	if os.Getenv(supervisedEnv) == "" {
		return
	}
	f := os.NewFile(supervisedFD, "driftd-supervisor")
	if f == nil {
		return
	}
	_, _ = f.Write([]byte{byte(code)})
	_ = f.Close()
}

// runSafe is run with a panic on the main goroutine turned into exit code
// 1 and a message, never the runtime's exit code 2.
func runSafe(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "driftd: internal error: %v\n%s", p, debug.Stack())
			code = 1
		}
	}()
	return run(ctx, args, stdout, stderr)
}
