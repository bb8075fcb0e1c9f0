//go:build integration

package infra

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

// countStack is a stack of n local_file resources.
func countStack(n int) string {
	return fmt.Sprintf(`
resource "local_file" "f" {
  count    = %d
  filename = "${var.reality}/${path.module}-${count.index}"
  content  = "file ${count.index}\n"
}
`, n)
}

// plainPlan is what a user would otherwise run: terraform plan -out, then
// terraform show -json, in an initialized stack.
func (w *world) plainPlan(stack string) {
	w.terraform(stack, "plan", "-input=false", "-no-color", "-lock=false", "-out="+filepath.Join(w.stateDir, stack+".tfplan"))
	w.terraform(stack, "show", "-json", filepath.Join(w.stateDir, stack+".tfplan"))
}

// benchInfra times driftd and the plain terraform commands on the same
// stacks, alternating in each iteration, and reports both and their ratio.
func benchInfra(b *testing.B, stacks, resources int, plain func(w *world, names []string)) {
	w := newWorld(b)
	var cfgs []Stack
	var names []string
	for i := range stacks {
		name := fmt.Sprintf("s%02d", i)
		w.stack(name, map[string]string{"main.tf": countStack(resources)})
		w.apply(name)
		names = append(names, name)
		cfgs = append(cfgs, Stack{Dir: name, Timeout: yamlconf.Duration(10 * time.Minute)})
	}
	l := w.layer(cfgs...)
	l.cfg.Parallelism = 8
	snap := drift.Snapshot{Dir: w.repo, Revision: "bench"}
	// Warm both paths once: plugin cache, page cache, init.
	check(b, l, snap, stacks)
	plain(w, names)

	var driftd, terraform time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		check(b, l, snap, stacks)
		driftd += time.Since(start)
		start = time.Now()
		plain(w, names)
		terraform += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(driftd.Seconds()/float64(b.N), "driftd-s/op")
	b.ReportMetric(terraform.Seconds()/float64(b.N), "terraform-s/op")
	b.ReportMetric(driftd.Seconds()/terraform.Seconds(), "ratio")
}

func check(b *testing.B, l *Layer, snap drift.Snapshot, stacks int) {
	res, err := l.Check(context.Background(), snap)
	if err != nil {
		b.Fatal(err)
	}
	if len(res) != stacks {
		b.Fatalf("%d results for %d stacks", len(res), stacks)
	}
	for _, r := range res {
		r.Normalize()
		if r.Status != drift.StatusInSync {
			b.Fatalf("stack %s: %s %s", r.Name, r.Status, r.Error)
		}
	}
}

// BenchmarkInfraOneStack200 compares driftd's check of one 200-resource stack
// with plain plan -out + show -json of it. Target ratio: at most 1.10.
func BenchmarkInfraOneStack200(b *testing.B) {
	benchInfra(b, 1, 200, func(w *world, names []string) { w.plainPlan(names[0]) })
}

// BenchmarkInfraEightStacks50 compares driftd on 8 stacks of 50 resources
// with the 8 plain plans run one after another, as a script would.
func BenchmarkInfraEightStacks50(b *testing.B) {
	benchInfra(b, 8, 50, func(w *world, names []string) {
		for _, n := range names {
			w.plainPlan(n)
		}
	})
}

// BenchmarkInfraEightStacks50ParallelShell is the same against the 8 plain
// plans run in parallel, the best a shell script could do.
func BenchmarkInfraEightStacks50ParallelShell(b *testing.B) {
	benchInfra(b, 8, 50, parallelShell)
}

// BenchmarkInfraFortyStacks50ParallelShell is the scaling: 40 stacks of 50
// resources against the 40 plain plans run in parallel from a shell.
func BenchmarkInfraFortyStacks50ParallelShell(b *testing.B) {
	benchInfra(b, 40, 50, parallelShell)
}

// parallelShell runs every stack's plain plan at once, as `&` and `wait`
// in a shell would.
func parallelShell(w *world, names []string) {
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() { w.plainPlan(n) })
	}
	wg.Wait()
}
