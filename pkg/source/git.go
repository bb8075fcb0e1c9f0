package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
)

// Git keeps a clone of the config repository in a cache directory and moves
// it to the head of the tracked branch at each Sync.
type Git struct {
	cfg    config.Repo
	dir    string
	logger *slog.Logger
}

// NewGit returns a Git source for cfg that keeps its clone under cacheDir.
// Nothing is fetched until Sync.
func NewGit(cfg config.Repo, cacheDir string, logger *slog.Logger) *Git {
	return &Git{cfg: cfg, dir: filepath.Join(cacheDir, "repo"), logger: logger}
}

// Sync fetches the branch, force-pushes included, and checks out its head. If
// the fetch fails and an earlier checkout exists, Sync returns that last good
// checkout with a status that says the fetch failed; only when there is no
// checkout at all does it return an error.
func (g *Git) Sync(ctx context.Context) (drift.Snapshot, drift.SourceStatus, error) {
	status := drift.SourceStatus{URL: RedactURL(g.cfg.URL), Branch: g.cfg.Branch}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout.Std())
	defer cancel()
	g.removeStaleClones()

	start := time.Now()
	rev, err := g.update(ctx)
	if err == nil {
		status.Synced = true
		g.logger.Debug("repo synced", "revision", rev, "duration_seconds", time.Since(start).Seconds())
		return drift.Snapshot{Dir: g.dir, Revision: rev}, status, nil
	}
	err = fmt.Errorf("sync repo %s branch %s: %w", RedactURL(g.cfg.URL), g.cfg.Branch, err)
	status.Error = err.Error()
	last, lerr := g.lastGood()
	if lerr != nil {
		return drift.Snapshot{}, status, err
	}
	g.logger.Warn("repo sync failed, checking last good revision", "revision", last, "err", err)
	return drift.Snapshot{Dir: g.dir, Revision: last}, status, nil
}

// update brings the checkout to the branch head and returns its hash.
func (g *Git) update(ctx context.Context) (string, error) {
	auth, err := authFor(g.cfg.URL, g.cfg.Auth)
	if err != nil {
		return "", err
	}
	repo, err := git.PlainOpen(g.dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = g.clone(ctx, auth)
	}
	if err != nil {
		return "", err
	}
	if err := g.ensureRemote(repo); err != nil {
		return "", err
	}
	remoteRef := plumbing.NewRemoteReferenceName("origin", g.cfg.Branch)
	err = repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []gitconfig.RefSpec{gitconfig.RefSpec(fmt.Sprintf("+refs/heads/%s:%s", g.cfg.Branch, remoteRef))},
		Auth:       auth,
		Force:      true,
		Tags:       git.NoTags,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", fmt.Errorf("fetch: %w", err)
	}
	ref, err := repo.Reference(remoteRef, true)
	if err != nil {
		return "", fmt.Errorf("branch %s not found on remote: %w", g.cfg.Branch, err)
	}
	if err := checkout(repo, ref.Hash()); err != nil {
		return "", err
	}
	if err := os.WriteFile(g.goodFile(), []byte(ref.Hash().String()+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("record the checked-out revision: %w", err)
	}
	return ref.Hash().String(), nil
}

// goodFile records the last revision that was checked out completely. It
// lies outside the worktree, so that a checkout that fails half-way (HEAD
// already moved, files half written) can be undone: HEAD alone would name
// the bad revision.
func (g *Git) goodFile() string { return g.dir + ".good" }

// staleCloneAge is how old a temporary clone directory must be before a
// Sync removes it as left behind by an interrupted run.
const staleCloneAge = time.Hour

// removeStaleClones removes temporary clone directories that a killed
// process left behind, so that they do not pile up in the cache.
func (g *Git) removeStaleClones() {
	parent := filepath.Dir(g.dir)
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), ".clone-") {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleCloneAge {
			if err := os.RemoveAll(filepath.Join(parent, e.Name())); err == nil {
				g.logger.Info("removed an interrupted clone", "dir", e.Name())
			}
		}
	}
}

// clone makes the first clone in a temporary directory and renames it into
// place, so that an interrupted clone is never taken for a good checkout.
func (g *Git) clone(ctx context.Context, auth transport.AuthMethod) (*git.Repository, error) {
	if err := os.MkdirAll(filepath.Dir(g.dir), 0o755); err != nil {
		return nil, fmt.Errorf("create cache dir: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(g.dir), ".clone-")
	if err != nil {
		return nil, fmt.Errorf("create cache dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	_, err = git.PlainCloneContext(ctx, tmp, false, &git.CloneOptions{
		URL:           g.cfg.URL,
		Auth:          auth,
		ReferenceName: plumbing.NewBranchReferenceName(g.cfg.Branch),
		SingleBranch:  true,
		Tags:          git.NoTags,
	})
	if err != nil {
		return nil, fmt.Errorf("clone: %w", err)
	}
	if err := os.Rename(tmp, g.dir); err != nil {
		return nil, fmt.Errorf("move clone into place: %w", err)
	}
	return git.PlainOpen(g.dir)
}

// ensureRemote points origin at the configured URL, so a changed repo.url
// is followed rather than silently ignored.
func (g *Git) ensureRemote(repo *git.Repository) error {
	rc, err := repo.Config()
	if err != nil {
		return fmt.Errorf("read clone config: %w", err)
	}
	if r, ok := rc.Remotes["origin"]; ok && len(r.URLs) == 1 && r.URLs[0] == g.cfg.URL {
		return nil
	}
	rc.Remotes["origin"] = &gitconfig.RemoteConfig{Name: "origin", URLs: []string{g.cfg.URL}}
	if err := repo.SetConfig(rc); err != nil {
		return fmt.Errorf("set remote url: %w", err)
	}
	return nil
}

// lastGood returns the revision of the existing checkout, after restoring its
// files in case an earlier checkout was interrupted.
func (g *Git) lastGood() (string, error) {
	repo, err := git.PlainOpen(g.dir)
	if err != nil {
		return "", err
	}
	var hash plumbing.Hash
	if b, err := os.ReadFile(g.goodFile()); err == nil {
		hash = plumbing.NewHash(strings.TrimSpace(string(b)))
	} else {
		// A clone made before driftd recorded good revisions.
		head, err := repo.Head()
		if err != nil {
			return "", err
		}
		hash = head.Hash()
	}
	if err := checkout(repo, hash); err != nil {
		return "", err
	}
	return hash.String(), nil
}

// checkout hard-resets the worktree to hash and removes untracked files.
func checkout(repo *git.Repository, hash plumbing.Hash) error {
	wt, err := repo.Worktree()
	if err != nil {
		return fmt.Errorf("open worktree: %w", err)
	}
	if err := wt.Reset(&git.ResetOptions{Commit: hash, Mode: git.HardReset}); err != nil {
		return fmt.Errorf("check out %s: %w", hash, err)
	}
	if err := wt.Clean(&git.CleanOptions{Dir: true}); err != nil {
		return fmt.Errorf("clean worktree: %w", err)
	}
	return nil
}

// Head asks the remote for the branch's current commit without fetching or
// touching the checkout, so that the daemon can poll cheaply and check only
// when something changed.
func (g *Git) Head(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout.Std())
	defer cancel()
	auth, err := authFor(g.cfg.URL, g.cfg.Auth)
	if err != nil {
		return "", err
	}
	rem := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: "origin", URLs: []string{g.cfg.URL}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return "", fmt.Errorf("list remote %s: %w", RedactURL(g.cfg.URL), err)
	}
	want := plumbing.NewBranchReferenceName(g.cfg.Branch)
	for _, r := range refs {
		if r.Name() == want {
			return r.Hash().String(), nil
		}
	}
	return "", fmt.Errorf("list remote %s: branch %s not found", RedactURL(g.cfg.URL), g.cfg.Branch)
}
