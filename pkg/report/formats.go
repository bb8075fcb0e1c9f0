package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/driftd/driftd/pkg/drift"
)

// Options are the settings a renderer may use.
type Options struct {
	// Text holds the text renderer's settings.
	Text TextOptions
}

// Writer renders a report.
type Writer func(w io.Writer, r drift.Report, o Options) error

// Formats returns the output formats of `driftd check -o`, by name: adding
// one is adding a line here.
func Formats() map[string]Writer {
	return map[string]Writer{
		"text":     func(w io.Writer, r drift.Report, o Options) error { return WriteText(w, r, o.Text) },
		"json":     func(w io.Writer, r drift.Report, _ Options) error { return WriteJSON(w, r) },
		"junit":    func(w io.Writer, r drift.Report, _ Options) error { return WriteJUnit(w, r) },
		"markdown": func(w io.Writer, r drift.Report, _ Options) error { return WriteMarkdown(w, r) },
		"sarif":    func(w io.Writer, r drift.Report, _ Options) error { return WriteSARIF(w, r) },
	}
}

// FormatNames lists the formats, sorted, for usage and error messages.
func FormatNames() string {
	names := make([]string, 0, len(Formats()))
	for n := range Formats() {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Output is one rendering of a report: a format, and where it goes.
type Output struct {
	// Format names one of Formats.
	Format string
	// Path is the file to write; empty means standard output.
	Path string
}

// ParseOutputs parses output specs as `driftd check` takes them, each
// FORMAT (written to standard output) or FORMAT=FILE, where a FILE of "-"
// is standard output too: several outputs from one run, such as
// markdown=comment.md sarif=drift.sarif text. At most one output may go
// to standard output, and no two to the same file. An unknown format is
// an error that names the known ones. No specs give no outputs: the
// caller picks its default.
func ParseOutputs(specs []string) ([]Output, error) {
	formats := Formats()
	var outs []Output
	stdout := ""
	files := map[string]string{}
	for _, spec := range specs {
		format, file, hasFile := strings.Cut(spec, "=")
		if _, ok := formats[format]; !ok {
			return nil, fmt.Errorf("output %q: unknown format %q: use %s", spec, format, FormatNames())
		}
		if hasFile && file == "" {
			return nil, fmt.Errorf("output %q: no file after %q (write %s for standard output)", spec, format+"=", format)
		}
		if file == "-" {
			file = ""
		}
		if file == "" {
			if stdout != "" {
				return nil, fmt.Errorf("output %q: %q already goes to standard output: give one of them a file (FORMAT=FILE)", spec, stdout)
			}
			stdout = spec
		} else {
			key := filepath.Clean(file)
			if abs, err := filepath.Abs(key); err == nil {
				key = abs
			}
			if prev, ok := files[key]; ok {
				return nil, fmt.Errorf("output %q: %q already writes that file", spec, prev)
			}
			files[key] = spec
		}
		outs = append(outs, Output{Format: format, Path: file})
	}
	return outs, nil
}

// WriteOutputs renders r once per output, in order. Standard output gets
// the whole rendering in one write, after it is complete. A file is
// written through a temporary file in its directory, renamed over it once
// complete and synced, so that a failed write never leaves half a file
// and a reader never sees one; it has mode 0644. Text is never coloured
// in a file: o.Text.Color applies to standard output alone. Every output
// is attempted, and the errors of those that failed are returned joined.
//
// It takes no context: a check that was cancelled still reports what it
// found and what it could not check, and writing local files is quick.
func WriteOutputs(stdout io.Writer, outs []Output, r drift.Report, o Options) error {
	formats := Formats()
	var errs []error
	for _, out := range outs {
		write, ok := formats[out.Format]
		if !ok {
			errs = append(errs, fmt.Errorf("output %s: unknown format: use %s", out.Format, FormatNames()))
			continue
		}
		if out.Path == "" {
			var b bytes.Buffer
			if err := write(&b, r, o); err != nil {
				errs = append(errs, fmt.Errorf("render %s report: %w", out.Format, err))
				continue
			}
			if _, err := stdout.Write(b.Bytes()); err != nil {
				errs = append(errs, fmt.Errorf("write %s report to standard output: %w", out.Format, err))
			}
			continue
		}
		fo := o
		fo.Text.Color = false
		if err := writeFileAtomic(out.Path, func(w io.Writer) error { return write(w, r, fo) }); err != nil {
			errs = append(errs, fmt.Errorf("write %s report to %s: %w", out.Format, out.Path, err))
		}
	}
	return errors.Join(errs...)
}

// writeFileAtomic writes a file through a temporary file in the same
// directory, renamed over it once render has succeeded and the data is on
// disk. On any error the temporary file is removed and the file is as it
// was.
func writeFileAtomic(path string, render func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriter(f)
	if err := render(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
