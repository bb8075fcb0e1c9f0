package helmrender

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// hostileRepo holds two well-behaved charts and three hostile ones: one
// that loops for ever, one that grows until memory runs out, one that
// prints more than the output bound.
func hostileRepo(t *testing.T) string {
	files := prefixed("charts/good", chartFiles("good"))
	for k, v := range prefixed("charts/also-good", chartFiles("also-good")) {
		files[k] = v
	}
	for k, v := range prefixed("charts/loop", chartFiles("loop")) {
		files[k] = v
	}
	// Ten billion rounds that allocate nothing: only time stops them.
	files["charts/loop/templates/loop.yaml"] = "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}"
	for k, v := range prefixed("charts/print", chartFiles("print")) {
		files[k] = v
	}
	// The loop of the issue: it prints, so time or memory stops it.
	files["charts/print/templates/print.yaml"] = "{{ range until 100000000 }}x{{ end }}"
	for k, v := range prefixed("charts/grow", chartFiles("grow")) {
		files[k] = v
	}
	// Doubling a string 40 times asks for a terabyte.
	files["charts/grow/templates/grow.yaml"] = `{{ $s := "xxxxxxxx" }}{{ range until 40 }}{{ $s = print $s $s }}{{ end }}{{ len $s }}`
	for k, v := range prefixed("charts/loud", chartFiles("loud")) {
		files[k] = v
	}
	files["charts/loud/templates/loud.yaml"] = `{{ repeat 3000000 "x" }}`
	repo, _ := newRepo(t, files)
	return repo
}

func req(chart string) Request {
	return Request{Origin: "test " + chart, Chart: "charts/" + chart, ReleaseName: "r"}
}

// isolatedOpts bound the hostile charts tightly, so that the tests are
// quick and gentle with the machine.
var isolatedOpts = Options{Timeout: 3 * time.Second, MemoryLimit: 1 << 30, MaxOutput: 1 << 20}

func TestRenderIsolated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	repo := hostileRepo(t)
	argv := childArgv(t)

	tests := []struct {
		name    string
		culprit string
		is      error
		want    string
	}{
		{"endless loop", "loop", ErrTimeout, "rendering took longer than the limit of 3s"},
		{"printing loop", "print", nil, ""},
		// Out of memory at the address-space limit, or, when the
		// runtime's collector thrashes under the soft limit first, out
		// of time: bounded either way (it flaked on "out of memory" in
		// 2 runs of 5 on 2 busy cores).
		{"memory", "grow", nil, ""},
		{"output", "loud", ErrTooLarge, "rendered manifests larger than the limit of 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs := []Request{req("good"), req(tt.culprit), req("also-good")}
			start := time.Now()
			out := RenderIsolated(t.Context(), argv, repo, 0, reqs, testCaps, isolatedOpts)
			took := time.Since(start)
			if took > isolatedOpts.Timeout+5*time.Second {
				t.Errorf("the batch took %s, want about the timeout (%s) at most", took, isolatedOpts.Timeout)
			}
			if len(out) != 3 {
				t.Fatalf("%d outcomes", len(out))
			}
			for i, want := range []string{"r-good", "", "r-also-good"} {
				if want == "" {
					continue
				}
				if out[i].Err != nil {
					t.Errorf("%s: %v", reqs[i].Chart, out[i].Err)
					continue
				}
				if got := summary(out[i].Result); len(got) != 1 || !strings.HasSuffix(got[0], "ConfigMap "+want) {
					t.Errorf("%s rendered %v", reqs[i].Chart, got)
				}
			}
			err := out[1].Err
			want := tt.want
			if raceEnabled && errors.Is(tt.is, ErrCrashed) {
				// ThreadSanitizer reports running out of memory in
				// its own words.
				want = ErrCrashed.Error()
			}
			checkErr(t, err, want)
			if !strings.HasPrefix(err.Error(), "test "+tt.culprit+": chart charts/"+tt.culprit+": ") {
				t.Errorf("error %q does not name the chart first", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v, want errors.Is %v", err, tt.is)
			}
			if tt.is == nil && !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrCrashed) {
				t.Errorf("error %v, want ErrTimeout or ErrCrashed", err)
			}
			t.Logf("batch of 3 with %s: %s", tt.culprit, took)
		})
	}
}

// TestRenderIsolatedSameAsRender: what comes back from the child is what
// Render returns in process.
func TestRenderIsolatedSameAsRender(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	rfs := openRepo(t, "testdata/repo")
	reqs := []Request{
		{Chart: "charts/web", ReleaseName: "shop", Namespace: "store", ValuesFiles: []string{"charts/web/values-prod.yaml"}, Values: map[string]any{"replicaCount": 4}},
		{Chart: "charts/web", ReleaseName: "shop", ValuesFiles: []string{"nope.yaml"}},
		{Chart: "web", RepoURL: "https://charts.example.com", ReleaseName: "x"},
	}
	out := RenderIsolated(t.Context(), childArgv(t), rfs.Path(), rfs.MaxFileSize(), reqs, testCaps, Options{})
	for i, r := range reqs {
		want, wantErr := Render(t.Context(), rfs, r, testCaps, Options{})
		got := out[i]
		if (wantErr == nil) != (got.Err == nil) || wantErr != nil && wantErr.Error() != got.Err.Error() {
			t.Errorf("request %d: error %v, want %v", i, got.Err, wantErr)
		}
		if diff := cmp.Diff(manifestYAML(t, want), manifestYAML(t, got.Result)); diff != "" {
			t.Errorf("request %d (-in process +isolated):\n%s", i, diff)
		}
		if want.Hooks != got.Result.Hooks || want.Tests != got.Result.Tests || want.CRDs != got.Result.CRDs || want.Chart != got.Result.Chart {
			t.Errorf("request %d: %+v, want %+v", i, got.Result, want)
		}
	}
	if !errors.Is(out[2].Err, ErrRemoteRefused) {
		t.Errorf("sentinel lost across the process boundary: %v", out[2].Err)
	}
}

func TestRenderIsolatedContext(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	repo := hostileRepo(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	out := RenderIsolated(ctx, childArgv(t), repo, 0, []Request{req("good"), req("loop"), req("also-good")}, testCaps, Options{Timeout: time.Minute})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s after the context ended", d)
	}
	if out[0].Err != nil {
		t.Errorf("good: %v", out[0].Err)
	}
	for _, i := range []int{1, 2} {
		if !errors.Is(out[i].Err, context.DeadlineExceeded) {
			t.Errorf("request %d: error %v, want the context's", i, out[i].Err)
		}
	}
}

func TestRenderIsolatedBadCommand(t *testing.T) {
	out := RenderIsolated(t.Context(), []string{"/nonexistent/driftd", ChildCommand}, t.TempDir(), 0, []Request{req("a"), req("b")}, testCaps, Options{})
	for i, o := range out {
		if !errors.Is(o.Err, ErrCrashed) {
			t.Errorf("request %d: error %v, want ErrCrashed", i, o.Err)
		}
	}
}

// TestRenderIsolatedBadValues: a request whose values cannot cross the
// process boundary fails alone.
func TestRenderIsolatedBadValues(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	repo := hostileRepo(t)
	bad := req("good")
	bad.Values = map[string]any{"f": func() {}}
	out := RenderIsolated(t.Context(), childArgv(t), repo, 0, []Request{bad, req("also-good")}, testCaps, Options{})
	checkErr(t, out[0].Err, "test good: chart charts/good: values: json: unsupported type: func()")
	if out[1].Err != nil {
		t.Errorf("also-good: %v", out[1].Err)
	}
}
