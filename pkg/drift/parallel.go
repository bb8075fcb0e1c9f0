package drift

import (
	"context"
	"fmt"
	"sync"
)

// CheckEach runs check for targets 0..n-1, at most parallelism at once,
// starting them in index order (a caller that wants the slowest first puts
// them first), and returns the results in index order. A target still
// waiting for a slot when ctx ends is reported as unknown ("not started")
// rather than left out. name gives a target's name and noun for that
// message ("stack", "node").
func CheckEach(ctx context.Context, n, parallelism int, noun string, name func(i int) string, check func(ctx context.Context, i int) TargetResult) []TargetResult {
	results := make([]TargetResult, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(max(1, parallelism), n) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					results[i] = Fail(name(i), fmt.Errorf("%s %s: not started: %w", noun, name(i), ctx.Err()))
					continue
				}
				results[i] = checkSafe(ctx, i, name(i), noun, check)
			}
		})
	}
	wg.Wait()
	return results
}

// checkSafe runs check for target i, turning a panic into that target's
// error: one target's bug never takes the others down.
func checkSafe(ctx context.Context, i int, name, noun string, check func(ctx context.Context, i int) TargetResult) (res TargetResult) {
	defer func() {
		if p := recover(); p != nil {
			res = Fail(name, fmt.Errorf("%s %s: internal error: %v", noun, name, p))
		}
	}()
	return check(ctx, i)
}
