package node

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"

	"github.com/driftd/driftd/pkg/drift"
)

// syncedMemory remembers, per node and path, the content (sha256) a file
// had when the node last matched Git. It tells a hand edit from a Git
// change nobody deployed: when the node still holds exactly what was last
// in sync and Git moved on, the difference is pending, not drift. It is
// kept in a file (cache_dir), so that one-shot runs and serve share it.
type syncedMemory struct {
	mu   sync.Mutex
	path string
	seen map[string]string // node + "\x00" + path → sha256 when in sync
	// dirty is set when seen changed since the last save.
	dirty bool
}

// SetSyncedMemory keeps the in-sync memory at path; without it, no finding
// is ever pending (nothing is known of the past).
func (l *Layer) SetSyncedMemory(path string) {
	m := &syncedMemory{path: path, seen: map[string]string{}}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &m.seen)
		if m.seen == nil {
			m.seen = map[string]string{}
		}
	}
	l.synced = m
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// observe records the files of one node that match Git, and turns into
// pending each changed finding where the node still holds what was last in
// sync and Git's content is new.
func (m *syncedMemory) observe(node string, desired map[string]File, got Snapshot, findings []drift.Finding) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := map[string]int{}
	for i, f := range findings {
		if f.Change == drift.ChangeChanged {
			changed[f.Object] = i
		}
	}
	for p, want := range desired {
		have, ok := got.Files[p]
		if !ok {
			continue
		}
		k := node + "\x00" + p
		wantHash, haveHash := hashOf(want.Content), hashOf(have.Content)
		i, isChanged := changed[Escape(p)]
		switch {
		case !isChanged:
			if m.seen[k] != wantHash {
				m.seen[k], m.dirty = wantHash, true
			}
		case m.seen[k] != "" && m.seen[k] == haveHash && wantHash != haveHash:
			findings[i].Change = drift.ChangePending
			findings[i].Diff = "# pending: Git changed and was not deployed (the node still holds what last matched Git)\n" + findings[i].Diff
		}
	}
}

// save writes the memory through a temporary file.
func (m *syncedMemory) save() {
	if m == nil || m.path == "" {
		return
	}
	m.mu.Lock()
	if !m.dirty {
		m.mu.Unlock()
		return
	}
	b, err := json.Marshal(m.seen)
	m.dirty = false
	m.mu.Unlock()
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(m.path), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(m.path), ".node-synced-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return
	}
	if err := os.Rename(tmp.Name(), m.path); err != nil {
		os.Remove(tmp.Name())
	}
}
