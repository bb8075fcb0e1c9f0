package helmrender

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/driftd/driftd/pkg/repofs"
)

// maxBatch bounds the batch a child reads: requests are small (values
// files are read from the repository, not sent).
const maxBatch = 64 << 20

// ServeChild is the child side of RenderIsolated (`driftd helm-template`):
// it reads a batch from in, bounds its own address space, and renders each
// request in order with Render, writing one JSON line per request to out.
//
// It must run in a process of its own: it sets the process's address-space
// limit (RLIMIT_AS) and silences the process's standard loggers, whose
// output would mix with a crash report.
func ServeChild(ctx context.Context, in io.Reader, out io.Writer) error {
	var b batch
	dec := json.NewDecoder(io.LimitReader(in, maxBatch))
	if err := dec.Decode(&b); err != nil {
		return fmt.Errorf("read batch: %w", err)
	}
	opts := b.Options.withDefaults()
	if err := limitMemory(opts.MemoryLimit); err != nil {
		return err
	}
	// Collect garbage harder well before the hard limit, so that only a
	// chart that really needs that much memory hits it.
	debug.SetMemoryLimit(opts.MemoryLimit / 2)
	log.SetOutput(io.Discard)
	slog.SetDefault(slog.New(slog.DiscardHandler))
	rfs, err := repofs.Open(b.Root, b.MaxFile)
	if err != nil {
		return err
	}
	defer rfs.Close()
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	send := func(r reply) error {
		if err := enc.Encode(r); err != nil {
			return err
		}
		return w.Flush()
	}
	if err := send(reply{Ready: true}); err != nil {
		return err
	}
	for i, req := range b.Requests {
		res, err := Render(ctx, rfs, req, b.Capabilities, opts)
		r := reply{Index: i, Result: &res}
		if err != nil {
			r = reply{Index: i, Error: err.Error()}
			for code, s := range sentinelCodes {
				if errors.Is(err, s) {
					r.Is = append(r.Is, code)
				}
			}
		}
		if err := send(r); err != nil {
			return err
		}
	}
	return nil
}

// limitMemory limits the process's address space to what it maps now plus
// extra: a Go process reserves address space of its own at start (much
// more under the race detector), so an absolute limit would mean
// different things in different builds.
func limitMemory(extra int64) error {
	lim := uint64(extra)
	if now, err := mappedBytes(); err == nil {
		lim += now
	} else {
		lim += 2 << 30
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
		return fmt.Errorf("limit memory: %w", err)
	}
	return nil
}

// mappedBytes returns the process's current address-space size.
func mappedBytes() (uint64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("empty /proc/self/statm")
	}
	pages, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * uint64(os.Getpagesize()), nil
}
