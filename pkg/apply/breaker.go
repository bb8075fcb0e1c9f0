package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/driftd/driftd/pkg/config"
)

// Breaker is the flap breaker's memory: when each object was restored and
// who had changed it. It is kept in a file, so that one-shot `driftd apply`
// runs and `driftd serve` sharing a cache_dir remember each other: every
// read and write goes to the file, under an flock. A nil Breaker remembers
// nothing and never trips.
type Breaker struct {
	mu   sync.Mutex
	path string
	// hist is the history when it is kept in memory only (path == "").
	hist history
}

type history map[string][]restore

type restore struct {
	At time.Time `json:"at"`
	By string    `json:"by,omitempty"`
}

// maxHistory bounds what is kept per object.
const maxHistory = 64

// NewBreaker opens the history kept at path ("" keeps it in memory only).
// A missing file is an empty history. A file that cannot be read is not an
// error here, so that it never stops detection: every object it is asked
// about is held back instead (see Tripped), until the file is fixed.
func NewBreaker(path string) (*Breaker, error) {
	b := &Breaker{path: path, hist: history{}}
	if path == "" {
		return b, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("flap breaker history: %w", err)
	}
	return b, nil
}

// locked runs fn on the current history under the file's lock; a non-nil
// history from fn is written back.
func (b *Breaker) locked(fn func(history) (history, error)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.path == "" {
		h, err := fn(b.hist)
		if h != nil {
			b.hist = h
		}
		return err
	}
	lock, err := os.OpenFile(b.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("flap breaker history: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("flap breaker history: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing the file releases it anyway
	h := history{}
	data, err := os.ReadFile(b.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("flap breaker history: %w", err)
	default:
		if err := json.Unmarshal(data, &h); err != nil {
			return fmt.Errorf("flap breaker history %s: %w (remove the file to start afresh)", b.path, err)
		}
		if h == nil {
			h = history{}
		}
	}
	out, err := fn(h)
	if err != nil || out == nil {
		return err
	}
	return writeFile(b.path, out)
}

// Record notes that the object was restored at at, after by changed it.
// Restores older than keep are forgotten.
func (b *Breaker) Record(key string, at time.Time, by string, keep time.Duration) {
	if b == nil {
		return
	}
	_ = b.locked(func(h history) (history, error) {
		h[key] = append(h[key], restore{At: at.UTC(), By: by})
		for k, rs := range h {
			rs = slices.DeleteFunc(rs, func(r restore) bool { return keep > 0 && at.Sub(r.At) > keep })
			if len(rs) > maxHistory {
				rs = rs[len(rs)-maxHistory:]
			}
			if len(rs) == 0 {
				delete(h, k)
				continue
			}
			h[k] = rs
		}
		return h, nil
	})
}

// Tripped returns why the object must not be applied now, or "": it was
// restored cfg.Count times within cfg.Within and has drifted again, so
// something keeps changing it, and applying again would only fight it. A
// history that cannot be read trips it: apply must not run blind.
func (b *Breaker) Tripped(key string, now time.Time, cfg config.FlapBreaker) string {
	if b == nil || cfg.Count <= 0 {
		return ""
	}
	var why string
	err := b.locked(func(h history) (history, error) {
		var recent []restore
		for _, r := range h[key] {
			if now.Sub(r.At) <= cfg.Within.Std() {
				recent = append(recent, r)
			}
		}
		if len(recent) < cfg.Count {
			return nil, nil
		}
		var by []string
		for _, r := range recent {
			if r.By != "" && !slices.Contains(by, r.By) {
				by = append(by, r.By)
			}
		}
		who := "something outside Git"
		if len(by) > 0 {
			who = strings.Join(by, ", ")
		}
		why = fmt.Sprintf("restored %d times within %s and drifted again; it keeps being changed by %s (a controller or a person is fighting Git): fix that, then apply", len(recent), cfg.Within.Std(), who)
		return nil, nil
	})
	if err != nil {
		return err.Error()
	}
	return why
}

// writeFile writes data through a temporary file renamed over path.
func writeFile(path string, h history) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".flap-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return errors.Join(werr, cerr)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
