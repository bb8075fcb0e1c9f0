package helmrender

import "testing"

// benchRequest is a typical release: a chart with helpers, a subchart, a
// file:// dependency, a values file and inline values.
var benchRequest = Request{
	Chart: "charts/web", ReleaseName: "shop", Namespace: "store",
	ValuesFiles: []string{"charts/web/values-prod.yaml"},
	Values:      map[string]any{"replicaCount": 4},
}

// BenchmarkRender renders one typical chart in process.
func BenchmarkRender(b *testing.B) {
	rfs := openRepo(b, "testdata/repo")
	for b.Loop() {
		if _, err := Render(b.Context(), rfs, benchRequest, testCaps, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender50 renders 50 such charts in process, one after another:
// the cost RenderIsolated adds to is this.
func BenchmarkRender50(b *testing.B) {
	rfs := openRepo(b, "testdata/repo")
	for b.Loop() {
		for range 50 {
			if _, err := Render(b.Context(), rfs, benchRequest, testCaps, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRenderIsolated50 renders the same 50 charts in one child
// process: one process start, the batch, and the results back as JSON.
func BenchmarkRenderIsolated50(b *testing.B) {
	rfs := openRepo(b, "testdata/repo")
	reqs := make([]Request, 50)
	for i := range reqs {
		reqs[i] = benchRequest
	}
	argv := childArgv(b)
	for b.Loop() {
		for i, o := range RenderIsolated(b.Context(), argv, rfs.Path(), rfs.MaxFileSize(), reqs, testCaps, Options{}) {
			if o.Err != nil {
				b.Fatalf("request %d: %v", i, o.Err)
			}
		}
	}
}
