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
	select {
	case l.initSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f, err := os.OpenFile(filepath.Join(l.cfg.PluginCacheDir, ".driftd-init.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		<-l.initSem
		return nil, fmt.Errorf("plugin cache lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			<-l.initSem
			return nil, fmt.Errorf("plugin cache lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			<-l.initSem
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		<-l.initSem
	}, nil
}
