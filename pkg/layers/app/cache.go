package app

import (
	"crypto/sha256"
	"encoding/json"

	"k8s.io/apimachinery/pkg/runtime"
)

// cacheKey identifies a dry-run result: the same Git object over the same
// live version always normalizes the same way.
type cacheKey struct {
	id      string
	gitHash [32]byte
	liveRV  string
	// variant tells results apart that differ by more than the two
	// objects: the mode, and for read-only the paths and managers set
	// aside before comparing.
	variant string
}

func (l *Layer) cached(k cacheKey) (map[string]any, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.cache[k]
	return v, ok
}

// inSync reports whether k was found in sync, and the comparison mode
// that found it ("" when it was equal as written).
func (l *Layer) inSync(k cacheKey) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	mode, ok := l.synced[k]
	return mode, ok
}

func (l *Layer) storeInSync(k cacheKey, mode string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.synced == nil {
		l.synced = map[cacheKey]string{}
	}
	l.synced[k] = mode
}

func (l *Layer) store(k cacheKey, v map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cache == nil {
		l.cache = map[cacheKey]map[string]any{}
	}
	l.cache[k] = v
}

// pruneCache keeps only the entries the last check used, so memory is
// bounded by the objects in Git, not by history.
func (l *Layer) pruneCache(used []map[cacheKey]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	usedAnywhere := func(k cacheKey) bool {
		for _, u := range used {
			if u[k] {
				return true
			}
		}
		return false
	}
	for k := range l.cache {
		if !usedAnywhere(k) {
			delete(l.cache, k)
		}
	}
	for k := range l.synced {
		if !usedAnywhere(k) {
			delete(l.synced, k)
		}
	}
}

func hashObj(m map[string]any) [32]byte {
	b, _ := json.Marshal(m)
	return sha256.Sum256(b)
}

func copyMap(m map[string]any) map[string]any { return runtime.DeepCopyJSON(m) }
