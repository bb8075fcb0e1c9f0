package engine

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/driftd/driftd/pkg/drift"
)

type fakeSource struct {
	snap   drift.Snapshot
	status drift.SourceStatus
	err    error
}

func (f fakeSource) Sync(context.Context) (drift.Snapshot, drift.SourceStatus, error) {
	return f.snap, f.status, f.err
}

type fakeLayer struct {
	name    drift.LayerName
	targets []drift.TargetResult
	err     error
	panic   bool
	gotRev  string
}

func (f *fakeLayer) Name() drift.LayerName { return f.name }

func (f *fakeLayer) Check(_ context.Context, s drift.Snapshot) ([]drift.TargetResult, error) {
	f.gotRev = s.Revision
	if f.panic {
		panic("boom")
	}
	return f.targets, f.err
}

func logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestRun(t *testing.T) {
	synced := fakeSource{snap: drift.Snapshot{Dir: "/x", Revision: "abc"}, status: drift.SourceStatus{Synced: true}}
	stale := fakeSource{snap: drift.Snapshot{Dir: "/x", Revision: "old"}, status: drift.SourceStatus{Synced: false, Error: "fetch failed"}}
	inSync := func() *fakeLayer {
		return &fakeLayer{name: drift.LayerNode, targets: []drift.TargetResult{{Name: "n1"}}}
	}
	drifted := func() *fakeLayer {
		return &fakeLayer{name: drift.LayerInfra, targets: []drift.TargetResult{
			{Name: "b", Findings: []drift.Finding{{Object: "z", Change: drift.ChangeDrifted}, {Object: "a", Change: drift.ChangePending}}},
			{Name: "a"},
		}}
	}
	for _, tc := range []struct {
		name   string
		src    Source
		layers []drift.Layer
		want   drift.Status
	}{
		{"in sync", synced, []drift.Layer{inSync()}, drift.StatusInSync},
		{"drift", synced, []drift.Layer{inSync(), drifted()}, drift.StatusDrifted},
		{"target error beats drift", synced, []drift.Layer{drifted(), &fakeLayer{name: drift.LayerApp, targets: []drift.TargetResult{drift.Fail("ns", errors.New("gone"))}}}, drift.StatusUnknown},
		{"layer error", synced, []drift.Layer{&fakeLayer{name: drift.LayerNode, err: errors.New("bad inventory")}}, drift.StatusUnknown},
		{"layer panic", synced, []drift.Layer{&fakeLayer{name: drift.LayerNode, panic: true}, inSync()}, drift.StatusUnknown},
		{"stale source", stale, []drift.Layer{inSync()}, drift.StatusUnknown},
		{"no checkout", fakeSource{err: errors.New("clone failed")}, []drift.Layer{inSync()}, drift.StatusUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := New(tc.src, tc.layers, logger(), Options{}).Run(t.Context())
			if rep.Status != tc.want {
				t.Errorf("status = %s, want %s", rep.Status, tc.want)
			}
		})
	}
}

func TestRunSortsAndPassesSnapshot(t *testing.T) {
	src := fakeSource{snap: drift.Snapshot{Dir: "/x", Revision: "abc"}, status: drift.SourceStatus{Synced: true}}
	infra := &fakeLayer{name: drift.LayerInfra, targets: []drift.TargetResult{
		{Name: "b", Findings: []drift.Finding{{Object: "z"}, {Object: "a"}}},
		{Name: "a"},
	}}
	node := &fakeLayer{name: drift.LayerNode}
	rep := New(src, []drift.Layer{node, infra}, logger(), Options{}).Run(t.Context())
	if infra.gotRev != "abc" || rep.Revision != "abc" {
		t.Errorf("revision passed %q, reported %q", infra.gotRev, rep.Revision)
	}
	if rep.Layers[0].Layer != drift.LayerInfra || rep.Layers[1].Layer != drift.LayerNode {
		t.Errorf("layers not in infra, node, app order: %v, %v", rep.Layers[0].Layer, rep.Layers[1].Layer)
	}
	tg := rep.Layers[0].Targets
	if tg[0].Name != "a" || tg[1].Findings[0].Object != "a" {
		t.Errorf("targets or findings not sorted: %+v", tg)
	}
	if tg[0].Status != drift.StatusInSync || tg[1].Status != drift.StatusDrifted {
		t.Errorf("target statuses %s %s", tg[0].Status, tg[1].Status)
	}
}

func TestRunPanicNamesLayer(t *testing.T) {
	src := fakeSource{snap: drift.Snapshot{Revision: "abc"}, status: drift.SourceStatus{Synced: true}}
	rep := New(src, []drift.Layer{&fakeLayer{name: drift.LayerApp, panic: true}}, logger(), Options{}).Run(t.Context())
	if got := rep.Layers[0].Error; got != "layer app: internal error: boom" {
		t.Errorf("error = %q", got)
	}
}
