package drift

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckEachBoundsAndOrders(t *testing.T) {
	var running, peak atomic.Int32
	res := CheckEach(t.Context(), 10, 3, "node", func(i int) string { return fmt.Sprint("n", i) },
		func(_ context.Context, i int) TargetResult {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			return TargetResult{Name: fmt.Sprint("n", i)}
		})
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrency %d, want at most 3 (and some)", p)
	}
	for i, r := range res {
		if r.Name != fmt.Sprint("n", i) {
			t.Errorf("result %d is %s", i, r.Name)
		}
	}
}

func TestCheckEachCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	block := make(chan struct{})
	defer close(block)
	var ran atomic.Int32
	res := CheckEach(ctx, 3, 1, "stack", func(i int) string { return fmt.Sprint("s", i) },
		func(ctx context.Context, i int) TargetResult {
			ran.Add(1)
			return TargetResult{Name: fmt.Sprint("s", i)} // would read as in sync
		})
	if n := ran.Load(); n != 0 {
		t.Errorf("%d checks started after the context ended", n)
	}
	for _, r := range res {
		if r.Status != StatusUnknown || r.Error == "" {
			t.Errorf("%s: %s %q, want unknown", r.Name, r.Status, r.Error)
		}
	}
}

func TestCheckEachRecoversPanic(t *testing.T) {
	res := CheckEach(t.Context(), 3, 2, "node", func(i int) string { return fmt.Sprint("n", i) },
		func(_ context.Context, i int) TargetResult {
			if i == 1 {
				var m map[string]int
				m["boom"] = 1 //nolint:staticcheck // a nil map write: the runtime panic under test
			}
			return TargetResult{Name: fmt.Sprint("n", i)}
		})
	if res[1].Status != StatusUnknown || !strings.Contains(res[1].Error, "node n1: internal error") {
		t.Errorf("panicking target: %+v, want unknown with an internal error", res[1])
	}
	if res[0].Error != "" || res[2].Error != "" {
		t.Errorf("the other targets were hurt: %+v %+v", res[0], res[2])
	}
}
