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
	"time"

	"github.com/driftd/driftd/pkg/config"
)

// Breaker is the flap breaker's memory: when each object was restored and
// who had changed it. It is kept in a file, so that one-shot `driftd apply`
// runs remember each other. A nil Breaker remembers nothing and never
// trips.
type Breaker struct {
	mu   sync.Mutex
	path string
	hist map[string][]restore
}

type restore struct {
	At time.Time `json:"at"`
	By string    `json:"by,omitempty"`
}

// maxHistory bounds what is kept per object.
const maxHistory = 64

// NewBreaker loads the history kept at path ("" keeps it in memory only).
// A missing file is an empty history; an unreadable one is an error, so
// that a broken file never silently disables the breaker.
func NewBreaker(path string) (*Breaker, error) {
	b := &Breaker{path: path, hist: map[string][]restore{}}
	if path == "" {
		return b, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("flap breaker history: %w", err)
	}
	if err := json.Unmarshal(data, &b.hist); err != nil {
		return nil, fmt.Errorf("flap breaker history %s: %w", path, err)
	}
	return b, nil
}

// Record notes that the object was restored at at, after by changed it.
func (b *Breaker) Record(key string, at time.Time, by string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	h := append(b.hist[key], restore{At: at.UTC(), By: by})
	if len(h) > maxHistory {
		h = h[len(h)-maxHistory:]
	}
	b.hist[key] = h
	b.save()
}

// Tripped returns why the object must not be applied now, or "": it was
// restored cfg.Count times within cfg.Within and has drifted again, so
// something keeps changing it, and applying again would only fight it.
func (b *Breaker) Tripped(key string, now time.Time, cfg config.FlapBreaker) string {
	if b == nil || cfg.Count <= 0 {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var recent []restore
	for _, r := range b.hist[key] {
		if now.Sub(r.At) <= cfg.Within.Std() {
			recent = append(recent, r)
		}
	}
	if len(recent) < cfg.Count {
		return ""
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
	return fmt.Sprintf("restored %d times within %s and drifted again; it keeps being changed by %s (a controller or a person is fighting Git): fix that, then apply", len(recent), cfg.Within.Std(), who)
}

// save writes the history through a temporary file; a failure leaves the
// previous file, and the breaker keeps working from memory.
func (b *Breaker) save() {
	if b.path == "" {
		return
	}
	data, err := json.Marshal(b.hist)
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(b.path), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(b.path), ".flap-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return
	}
	if err := os.Rename(tmp.Name(), b.path); err != nil {
		os.Remove(tmp.Name())
	}
}
