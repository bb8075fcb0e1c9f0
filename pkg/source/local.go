package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	git "github.com/go-git/go-git/v5"

	"github.com/driftd/driftd/pkg/drift"
)

// Local is a checkout on disk used as it is, such as the pull request in a
// pre-merge CI job. It never fetches or resets.
type Local struct {
	dir string
}

// NewLocal returns a source for the checkout at dir.
func NewLocal(dir string) *Local { return &Local{dir: dir} }

// Sync returns the checkout. Its revision is the HEAD commit when dir is in
// a Git repository, and "local" otherwise.
func (l *Local) Sync(ctx context.Context) (drift.Snapshot, drift.SourceStatus, error) {
	abs, err := filepath.Abs(l.dir)
	status := drift.SourceStatus{URL: abs}
	if err != nil {
		return drift.Snapshot{}, status, fmt.Errorf("local repo %s: %w", l.dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		status.Error = err.Error()
		return drift.Snapshot{}, status, fmt.Errorf("local repo: %w", err)
	}
	if !fi.IsDir() {
		return drift.Snapshot{}, status, fmt.Errorf("local repo %s: not a directory", abs)
	}
	status.Synced = true
	rev := "local"
	if repo, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true}); err == nil {
		if head, err := repo.Head(); err == nil {
			rev = head.Hash().String()
		}
	}
	return drift.Snapshot{Dir: abs, Revision: rev}, status, nil
}
