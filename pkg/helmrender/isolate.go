package helmrender

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// ChildCommand is the hidden subcommand of driftd that serves
// RenderIsolated (see ServeChild): argv for RenderIsolated is the driftd
// binary followed by it.
const ChildCommand = "helm-template"

// The errors of RenderIsolated.
var (
	// ErrTimeout means a chart's rendering took longer than
	// Options.Timeout and its process was killed.
	ErrTimeout = errors.New("rendering took longer than the limit")
	// ErrCrashed means the rendering process died while rendering a chart
	// (out of memory, most likely).
	ErrCrashed = errors.New("the rendering process failed")
)

// Outcome is the rendering of one request of a batch: its result, or why
// it could not be rendered.
type Outcome struct {
	Result Result
	Err    error
}

// batch is what RenderIsolated writes to the child's standard input.
type batch struct {
	Root         string       `json:"root"`
	MaxFile      int64        `json:"maxFile"`
	Requests     []Request    `json:"requests"`
	Capabilities Capabilities `json:"capabilities"`
	Options      Options      `json:"options"`
}

// reply is one line of the child's standard output: first a ready line,
// then one line per request, in order.
type reply struct {
	Ready  bool     `json:"ready,omitempty"`
	Index  int      `json:"index"`
	Result *Result  `json:"result,omitempty"`
	Error  string   `json:"error,omitempty"`
	Is     []string `json:"is,omitempty"`
}

// sentinelCodes name the sentinel errors across the process boundary.
var sentinelCodes = map[string]error{
	"remote-refused": ErrRemoteRefused, "oci": ErrOCI, "too-large": ErrTooLarge,
	"not-vendored": ErrNotVendored, "digest": ErrDigest, "alias-bomb": ErrAliasBomb,
	"timeout": ErrTimeout, "crashed": ErrCrashed,
}

// RenderIsolated renders reqs in a child process (argv: driftd's own
// `helm-template`, see ChildCommand and ServeChild), one process for the
// whole batch, with rfsRoot and maxFile opening the repository as
// repofs.Open does. The child renders the requests in order, each with
// Render, and reports each as it is done; it runs in a process group of its
// own, with its address space bounded by opts.MemoryLimit, and is killed
// when one chart takes longer than opts.Timeout, prints more than
// opts.MaxOutput, or when ctx ends.
//
// When the child dies on a chart (time, memory, crash), that chart gets
// the error, those already rendered keep their results, and a new child
// renders the rest: only the hostile chart fails, and a batch costs one
// process start plus one per such chart. A chart whose objects hold more
// than opts.MaxOutput/16 values fails alone, and once the charts together
// rendered more than opts.MaxTotalOutput, the rest fail: the calling
// process decodes and holds every result. Outcomes are in the order of
// reqs.
func RenderIsolated(ctx context.Context, argv []string, rfsRoot string, maxFile int64, reqs []Request, caps Capabilities, opts Options) []Outcome {
	opts = opts.withDefaults()
	out := make([]Outcome, len(reqs))
	fail := func(i int, err error) {
		out[i].Err = &renderError{msg: reqs[i].String() + ": " + err.Error(), err: err}
	}
	// todo are the indexes of the requests still to render, in order.
	var todo []int
	for i, r := range reqs {
		if _, err := json.Marshal(r); err != nil {
			fail(i, fmt.Errorf("values: %w", err))
			continue
		}
		todo = append(todo, i)
	}
	left := opts.MaxTotalOutput
	for len(todo) > 0 {
		b := batch{Root: rfsRoot, MaxFile: maxFile, Capabilities: caps, Options: opts}
		for _, i := range todo {
			b.Requests = append(b.Requests, reqs[i])
		}
		done, failure, started := runChild(ctx, argv, b, &left, func(k int, o Outcome) { out[todo[k]] = o })
		todo = todo[done:]
		if len(todo) == 0 {
			break
		}
		if failure == nil {
			failure = fmt.Errorf("%w: it stopped after %d of %d charts", ErrCrashed, done, len(b.Requests))
		}
		if ctx.Err() != nil || !started || errors.Is(failure, errTotal) {
			// Nothing more can render: every remaining request fails.
			for _, i := range todo {
				fail(i, failure)
			}
			break
		}
		fail(todo[0], failure)
		todo = todo[1:]
	}
	return out
}

// errTotal marks the failure of the requests left once the batch's
// results took Options.MaxTotalOutput.
var errTotal = errors.New("the charts together")

// runChild runs one child for b and delivers each outcome it reports. It
// returns how many requests got an outcome, and, if the child did not
// complete the batch, why the next one failed; started says whether the
// child got as far as reading its batch. left is what the results may
// still take, in bytes of replies.
func runChild(ctx context.Context, argv []string, b batch, left *int64, deliver func(int, Outcome)) (done int, failure error, started bool) {
	if len(argv) == 0 {
		return 0, fmt.Errorf("%w: no renderer command", ErrCrashed), false
	}
	if err := ctx.Err(); err != nil {
		return 0, context.Cause(ctx), false
	}
	input, err := json.Marshal(b)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCrashed, err), false
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCrashed, err), false
	}
	defer pr.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = childEnv()
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stdout = pw
	stderr := &boundedBuffer{max: 16 << 10}
	cmd.Stderr = stderr
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCrashed, err), false
	}
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// The process group is killed on every way out: a child that
	// reported everything has exited already.
	defer func() {
		kill()
		_ = cmd.Wait()
	}()

	stop := make(chan struct{})
	defer close(stop)
	lines := make(chan lineOrErr)
	// A line is never read past what the results may still take.
	go readLines(pr, min(maxLine(b.Options), max(*left, 0)+64<<10), lines, stop)

	timer := time.NewTimer(b.Options.Timeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return done, context.Cause(ctx), started
		case <-timer.C:
			return done, fmt.Errorf("%w of %s", ErrTimeout, b.Options.Timeout), started
		case l := <-lines:
			switch {
			case errors.Is(l.err, io.EOF):
				kill()
				werr := cmd.Wait()
				if done == len(b.Requests) {
					return done, nil, started
				}
				return done, crashError(werr, stderr.String(), b.Options), started
			case l.err != nil:
				return done, l.err, started
			}
			if started {
				// A result: bounded before it is decoded.
				if *left -= int64(len(l.line)); *left < 0 {
					return done, fmt.Errorf("%w rendered output %w of %d bytes", errTotal, ErrTooLarge, b.Options.MaxTotalOutput), started
				}
				if max := b.Options.MaxOutput / 16; jsonValues(l.line, max) > max {
					deliver(done, Outcome{Err: &renderError{msg: fmt.Sprintf("%s: rendered objects %s of %d values", b.Requests[done], ErrTooLarge, max), err: ErrTooLarge}})
					done++
					timer.Reset(b.Options.Timeout)
					continue
				}
			}
			var r reply
			if err := json.Unmarshal(l.line, &r); err != nil {
				return done, fmt.Errorf("%w: unreadable reply: %w", ErrCrashed, err), started
			}
			if r.Ready {
				started = true
			} else {
				if !started || r.Index != done {
					return done, fmt.Errorf("%w: reply out of order", ErrCrashed), started
				}
				deliver(done, r.outcome())
				done++
			}
			timer.Reset(b.Options.Timeout)
		}
	}
}

// outcome turns a reply back into an Outcome, its error matching the same
// sentinels with errors.Is.
func (r reply) outcome() Outcome {
	if r.Error == "" && r.Result != nil {
		return Outcome{Result: *r.Result}
	}
	e := &childError{msg: r.Error}
	for _, c := range r.Is {
		if s, ok := sentinelCodes[c]; ok {
			e.is = append(e.is, s)
		}
	}
	if r.Error == "" {
		e.msg = "no result"
	}
	return Outcome{Err: e}
}

// childError is an error reported by the child.
type childError struct {
	msg string
	is  []error
}

func (e *childError) Error() string { return e.msg }

func (e *childError) Is(target error) bool {
	for _, s := range e.is {
		if s == target {
			return true
		}
	}
	return false
}

// crashError describes a child that died before it reported every request.
func crashError(werr error, stderr string, opts Options) error {
	// The Go runtime says "out of memory"; under the race detector, the
	// limit shows as ThreadSanitizer failing to allocate (ENOMEM) or as
	// address space collisions.
	if strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "failed to allocate") ||
		strings.Contains(stderr, "cannot allocate memory") || strings.Contains(stderr, "address space") {
		return fmt.Errorf("%w: out of memory (limit %d bytes)", ErrCrashed, opts.MemoryLimit)
	}
	detail := "exited"
	if werr != nil {
		detail = werr.Error()
	}
	if first, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n"); first != "" {
		if len(first) > 200 {
			first = first[:200] + "..."
		}
		detail += ": " + escapeControl(first)
	}
	return fmt.Errorf("%w (%s)", ErrCrashed, detail)
}

// maxLine bounds one reply: a rendering of MaxOutput bytes of YAML, as
// JSON, with room to spare.
func maxLine(o Options) int64 { return 2*o.MaxOutput + 1<<20 }

type lineOrErr struct {
	line []byte
	err  error
}

// readLines sends each line of r to lines, until an error (io.EOF at the
// end) or until stop is closed. A line longer than max is an error.
func readLines(r io.Reader, max int64, lines chan<- lineOrErr, stop <-chan struct{}) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		var buf []byte
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			buf = append(buf, chunk...)
			if int64(len(buf)) > max {
				err = fmt.Errorf("rendered output %w of %d bytes", ErrTooLarge, max)
				break
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		l := lineOrErr{line: buf, err: err}
		if err != nil && len(bytes.TrimSpace(buf)) > 0 && errors.Is(err, io.EOF) {
			// A last line without its newline: the child died
			// mid-write.
			l.line = nil
		}
		select {
		case lines <- l:
		case <-stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// childEnv is the child's environment: no more than it needs (a proxy and
// CA bundle for remote charts).
func childEnv() []string {
	env := []string{"HOME=" + os.TempDir()}
	for _, k := range []string{"PATH", "TMPDIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// boundedBuffer keeps at most max bytes.
type boundedBuffer struct {
	bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// jsonValues counts, up to a little more than max, the values of a JSON
// text (each map, list and scalar; a map's key counts too), without
// decoding it.
func jsonValues(b []byte, max int64) int64 {
	var n int64
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[' || c == ',' || c == ':':
			if n++; n > max {
				return n
			}
		}
	}
	return n
}
