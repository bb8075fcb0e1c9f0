package helmrender

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"helm.sh/helm/v4/pkg/chart/loader/archive"
)

// ErrTooLarge is returned, wrapped, for a chart, an index or a rendering
// larger than its bound in Options.
var ErrTooLarge = errors.New("larger than the limit")

// budget counts the bytes a chart may still take, across all its files
// and nested archives: helm bounds each archive on its own, so an archive
// of archives could otherwise multiply the bound.
type budget struct {
	max, left int64
}

func newBudget(max int64) *budget { return &budget{max: max, left: max} }

func (b *budget) take(n int64) error {
	if n > b.left {
		b.left = 0
		return fmt.Errorf("chart files %w of %d bytes", ErrTooLarge, b.max)
	}
	b.left -= n
	return nil
}

// maxArchiveDepth bounds subchart archives inside subchart archives.
const maxArchiveDepth = 8

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// drivePath matches what helm's archive loader refuses as a Windows path.
var drivePath = regexp.MustCompile(`^[a-zA-Z]:/`)

// expandArchive reads a gzipped chart archive in memory with helm's path
// checks (everything under one top directory, no absolute path, no "..")
// and returns its regular files relative to the chart's root, each counted
// against b.
func expandArchive(data []byte, b *budget) ([]*archive.BufferedFile, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a gzipped chart archive: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var files []*archive.BufferedFile
	for {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("chart archive: %w", err)
		}
		if hd.Typeflag != tar.TypeReg {
			// Directories, links and extended headers carry no file.
			continue
		}
		name := strings.ReplaceAll(hd.Name, `\`, "/")
		top, rest, ok := strings.Cut(name, "/")
		if !ok {
			if top == "Chart.yaml" {
				return nil, errors.New("chart archive: Chart.yaml is not in a top directory")
			}
			continue
		}
		if path.IsAbs(rest) || drivePath.MatchString(rest) {
			return nil, fmt.Errorf("chart archive: entry %s: absolute path", display(hd.Name))
		}
		n := path.Clean(rest)
		if n == "." || n == ".." || strings.HasPrefix(n, "../") {
			return nil, fmt.Errorf("chart archive: entry %s: leads outside the chart", display(hd.Name))
		}
		if hd.Size > b.left {
			return nil, b.take(hd.Size)
		}
		var buf bytes.Buffer
		got, err := io.Copy(&buf, io.LimitReader(tr, b.left+1))
		if err != nil {
			return nil, fmt.Errorf("chart archive: entry %s: %w", display(hd.Name), err)
		}
		if err := b.take(got); err != nil {
			return nil, err
		}
		files = append(files, &archive.BufferedFile{Name: n, ModTime: hd.ModTime, Data: bytes.TrimPrefix(buf.Bytes(), utf8BOM)})
	}
	if len(files) == 0 {
		return nil, errors.New("chart archive: no files")
	}
	return files, nil
}

// subchartArchive matches a subchart archive at a chart boundary: directly
// under a charts/ directory of the chart or of one of its directory
// subcharts.
var subchartArchive = regexp.MustCompile(`^(charts/[^/]+/)*charts/([^/]+)\.tgz$`)

// inlineArchives replaces each subchart archive among files with its files,
// under a directory of the same name (suffixed .d, which helm's loader
// takes for a directory subchart: names of subcharts come from their
// Chart.yaml, not from files), so that their expansion is bounded by b as
// a whole. Archives whose names start with "_" or ".", which helm skips,
// are dropped.
func inlineArchives(files []*archive.BufferedFile, b *budget, depth int) ([]*archive.BufferedFile, error) {
	out := make([]*archive.BufferedFile, 0, len(files))
	for _, f := range files {
		m := subchartArchive.FindStringSubmatch(f.Name)
		if m == nil {
			out = append(out, f)
			continue
		}
		if strings.IndexAny(m[2], "_.") == 0 {
			continue
		}
		if depth >= maxArchiveDepth {
			return nil, fmt.Errorf("%s: subchart archives nested more than %d deep", display(f.Name), maxArchiveDepth)
		}
		sub, err := expandArchive(f.Data, b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", display(f.Name), err)
		}
		if sub, err = inlineArchives(sub, b, depth+1); err != nil {
			return nil, fmt.Errorf("%s: %w", display(f.Name), err)
		}
		dir := strings.TrimSuffix(f.Name, ".tgz") + ".d/"
		for _, s := range sub {
			s.Name = dir + s.Name
			out = append(out, s)
		}
	}
	return out, nil
}
