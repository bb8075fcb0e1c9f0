package infra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockInit serializes `terraform init` on one plugin cache: terraform's
// plugin cache is not safe for concurrent installs ("mkdir ...: file
// exists", "still not detected in plugin-cache"), which every fresh cache
// hits when stacks init in parallel. The layer's mutex covers this process;
// an flock on a file in the cache covers other driftd processes sharing it.
// Only init holds the lock; plans still run in parallel.
func (l *Layer) lockInit(ctx context.Context) (unlock func(), err error) {
	unlock, err = lockFile(ctx, l.initSem, filepath.Join(l.cfg.PluginCacheDir, ".driftd-init.lock"), 50*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("plugin cache lock: %w", err)
	}
	return unlock, nil
}

// lockFile takes sem (this process), then an flock on the file at path
// (other processes), polling every poll until ctx ends.
func lockFile(ctx context.Context, sem chan struct{}, path string, poll time.Duration) (unlock func(), err error) {
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		<-sem
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			<-sem
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			<-sem
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		<-sem
	}, nil
}
