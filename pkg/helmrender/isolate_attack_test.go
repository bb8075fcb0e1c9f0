package helmrender

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Attacks on the process that calls RenderIsolated (the daemon), which
// decodes and holds what every chart of a repository renders.

// TestAttackManyReleasesOfOneChart: one small chart renders close to
// MaxOutput, and the repository declares it many times (HelmReleases cost a
// few lines each). Each rendering is within its bound, but the daemon
// decoded and held all of them: N times MaxOutput, and more in objects.
// The charts of a call together must stay within a bound.
func TestAttackManyReleasesOfOneChart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	files := prefixed("charts/big", chartFiles("big"))
	// About 200 KB of YAML in one ConfigMap.
	files["charts/big/templates/big.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}-big}\ndata:\n  blob: {{ repeat 200000 \"x\" | quote }}\n"
	repo, _ := newRepo(t, files)
	var reqs []Request
	for i := range 20 {
		reqs = append(reqs, Request{Origin: fmt.Sprintf("HelmRelease %d", i), Chart: "charts/big", ReleaseName: fmt.Sprintf("r%d", i)})
	}
	opts := Options{Timeout: 30 * 1e9, MaxOutput: 1 << 20, MaxTotalOutput: 1 << 20}
	out := RenderIsolated(t.Context(), childArgv(t), repo, 0, reqs, testCaps, opts)
	var held, refused int
	for i, o := range out {
		switch {
		case o.Err == nil:
			for _, m := range o.Result.Objects {
				b, _ := m.Object.MarshalJSON()
				held += len(b)
			}
		case errors.Is(o.Err, ErrTooLarge):
			refused++
			if !strings.HasPrefix(o.Err.Error(), reqs[i].String()+": ") {
				t.Errorf("error %q does not name its release first", o.Err)
			}
		default:
			t.Errorf("%s: %v", reqs[i].Origin, o.Err)
		}
	}
	if held > 1<<20 || refused == 0 {
		t.Errorf("the daemon holds %d bytes of rendered objects (%d releases refused), beyond MaxTotalOutput %d", held, refused, opts.MaxTotalOutput)
	}
}

// TestAttackManySmallValues: a chart renders a list of a million small
// numbers, 2 MB of YAML, within MaxOutput. Decoded in the daemon, each
// number is an interface holding a float64 or int64: tens of bytes per
// byte of output, so that a chart at MaxOutput (64 MiB) made the daemon
// allocate gigabytes. A chart's objects must be refused before they are
// decoded when they hold too many values.
func TestAttackManySmallValues(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	files := prefixed("charts/many", chartFiles("many"))
	files["charts/many/templates/many.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: many}\nlist: [{{ range until 300000 }}1,{{ end }}1]\n"
	repo, _ := newRepo(t, files)
	writeTree(t, repo, prefixed("charts/ok", chartFiles("ok")))
	reqs := []Request{req("many"), req("ok")}
	out := RenderIsolated(t.Context(), childArgv(t), repo, 0, reqs, testCaps, Options{Timeout: 30 * 1e9, MaxOutput: 2 << 20})
	if out[0].Err == nil || !errors.Is(out[0].Err, ErrTooLarge) {
		t.Errorf("a chart of 300000 values (MaxOutput/16 is %d) was decoded in the daemon: %v", (2<<20)/16, out[0].Err)
	}
	if out[1].Err != nil {
		t.Errorf("the chart after it: %v", out[1].Err)
	}
}

// TestAttackEncodedValueInFail: a template fails with a message that holds
// a supplied value, base64-encoded as a Secret's data is. The redactor
// removed the value as supplied, not its encoding, which decodes to it.
func TestAttackEncodedValueInFail(t *testing.T) {
	const password = "hunter2-from-a-secret"
	files := prefixed("charts/app", chartFiles("app"))
	files["charts/app/templates/fail.yaml"] = `{{ fail (printf "bad password %s" (.Values.password | b64enc)) }}`
	repo, _ := newRepo(t, files)
	_, err := Render(t.Context(), openRepo(t, repo), Request{Chart: "charts/app", ReleaseName: "x", Values: map[string]any{"password": password}}, testCaps, Options{})
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte(password))) {
		t.Errorf("the error holds the password, base64-encoded: %v", err)
	}
}
