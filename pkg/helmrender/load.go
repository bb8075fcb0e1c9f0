package helmrender

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/ignore"

	"github.com/driftd/driftd/pkg/repofs"
)

// ErrNotVendored is returned, wrapped, for a chart dependency on a chart
// repository that is not in the chart's charts/ directory: driftd does not
// fetch dependencies (run helm dependency build and commit charts/).
var ErrNotVendored = errors.New("is not vendored in charts/ (run helm dependency build and commit the archive)")

// loadLocal loads the chart in directory dir of the repository, reading
// only through rfs: its files as helm's directory loader would (with its
// .helmignore and helm's default ignores), its subcharts in charts/
// (directories or archives), and the file:// dependencies of Chart.yaml
// that charts/ does not hold, each of which must lie in the repository.
func loadLocal(rfs *repofs.FS, dir string, b *budget) (*chart.Chart, error) {
	files, err := readChartDir(rfs, dir, b)
	if err != nil {
		return nil, err
	}
	c, err := loadFiles(files, b)
	if err != nil {
		return nil, err
	}
	if err := addLocalDependencies(rfs, dir, c, b); err != nil {
		return nil, err
	}
	return c, nil
}

// loadFiles expands the subchart archives among files and loads the chart.
func loadFiles(files []*archive.BufferedFile, b *budget) (*chart.Chart, error) {
	files, err := inlineArchives(files, b, 0)
	if err != nil {
		return nil, err
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return c, nil
}

// readChartDir reads the files of the chart directory dir.
func readChartDir(rfs *repofs.FS, dir string, b *budget) ([]*archive.BufferedFile, error) {
	if err := rfs.Dir(dir); err != nil {
		return nil, err
	}
	if ok, err := rfs.Exists(path.Join(dir, "Chart.yaml")); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%s: not a chart (no Chart.yaml)", display(dir))
	}
	rules := ignore.Empty()
	if data, err := rfs.ReadFile(path.Join(dir, ignore.HelmIgnore)); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("%s: %w", path.Join(dir, ignore.HelmIgnore), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	rules.AddDefaults()
	rel := func(name string) string {
		if dir == "." {
			return name
		}
		return strings.TrimPrefix(name, dir+"/")
	}
	var files []*archive.BufferedFile
	err := rfs.WalkDirs(dir, func(name string) error {
		fi, err := rfs.Stat(name)
		if err != nil {
			return err
		}
		if rules.Ignore(rel(name), fi) {
			return fs.SkipDir
		}
		return nil
	}, func(name string, err error) error {
		n := rel(name)
		if err != nil {
			// Refused entries (a link out of the repository, to a
			// directory, a FIFO) fail the chart unless ignored.
			if rules.Ignore(n, fileStub(path.Base(n))) {
				return nil
			}
			return err
		}
		fi, err := rfs.Stat(name)
		if err != nil {
			return err
		}
		if rules.Ignore(n, fi) {
			return nil
		}
		if err := b.take(fi.Size()); err != nil {
			return fmt.Errorf("%s: %w", display(dir), err)
		}
		data, err := rfs.ReadFile(name)
		if err != nil {
			return err
		}
		files = append(files, &archive.BufferedFile{Name: n, ModTime: fi.ModTime(), Data: bytes.TrimPrefix(data, utf8BOM)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// addLocalDependencies loads the file:// dependencies of c's Chart.yaml that
// its charts/ directory does not hold, as helm dependency build would copy
// them there, and refuses any other missing dependency. Dependencies of
// dependencies are left as they are, as helm does.
func addLocalDependencies(rfs *repofs.FS, dir string, c *chart.Chart, b *budget) error {
	have := map[string]bool{}
	for _, d := range c.Dependencies() {
		have[d.Name()] = true
	}
	var errs []error
	for _, dep := range c.Metadata.Dependencies {
		if dep == nil || have[dep.Name] {
			continue
		}
		loc, ok := strings.CutPrefix(dep.Repository, "file://")
		if !ok {
			errs = append(errs, fmt.Errorf("dependency %s (repository %s) %w", display(dep.Name), display(dep.Repository), ErrNotVendored))
			continue
		}
		sub, err := loadFileDependency(rfs, dir, loc, b)
		if err != nil {
			errs = append(errs, fmt.Errorf("dependency %s (repository %s): %w", display(dep.Name), display(dep.Repository), err))
			continue
		}
		if sub.Name() != dep.Name {
			errs = append(errs, fmt.Errorf("dependency %s (repository %s): the chart there is named %s", display(dep.Name), display(dep.Repository), display(sub.Name())))
			continue
		}
		if err := checkVersion(dep.Version, sub.Metadata.Version); err != nil {
			errs = append(errs, fmt.Errorf("dependency %s (repository %s): %w", display(dep.Name), display(dep.Repository), err))
			continue
		}
		have[dep.Name] = true
		c.AddDependency(sub)
	}
	return errors.Join(errs...)
}

// loadFileDependency loads the chart at loc, relative to the chart directory
// dir: a directory, or a chart archive, which must lie in the repository.
func loadFileDependency(rfs *repofs.FS, dir, loc string, b *budget) (*chart.Chart, error) {
	if path.IsAbs(loc) {
		return nil, fmt.Errorf("%s: %w", display(loc), repofs.ErrOutside)
	}
	p, err := repofs.Clean(path.Join(dir, loc))
	if err != nil {
		return nil, err
	}
	fi, err := rfs.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		data, err := rfs.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if err := b.take(int64(len(data))); err != nil {
			return nil, err
		}
		files, err := expandArchive(data, b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return loadFiles(files, b)
	}
	files, err := readChartDir(rfs, p, b)
	if err != nil {
		return nil, err
	}
	return loadFiles(files, b)
}

// checkVersion checks a chart version against a dependency's constraint,
// as helm dependency build does; an empty constraint accepts any version.
func checkVersion(constraint, version string) error {
	if constraint == "" {
		return nil
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return fmt.Errorf("version constraint %s: %w", display(constraint), err)
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return fmt.Errorf("chart version %s: %w", display(version), err)
	}
	if !c.Check(v) {
		return fmt.Errorf("chart version %s does not satisfy %s", display(version), display(constraint))
	}
	return nil
}

// fileStub is the FileInfo of an entry that could not be used, for
// .helmignore rules: a file of that name.
type fileStub string

func (f fileStub) Name() string       { return string(f) }
func (f fileStub) Size() int64        { return 0 }
func (f fileStub) Mode() fs.FileMode  { return 0 }
func (f fileStub) ModTime() time.Time { return time.Time{} }
func (f fileStub) IsDir() bool        { return false }
func (f fileStub) Sys() any           { return nil }

var _ os.FileInfo = fileStub("")
