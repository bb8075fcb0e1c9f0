package helmrender

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/driftd/driftd/pkg/repofs"
)

// The repository is anyone's on a pull request: these tests are what a
// hostile one tries.

const outsideSecret = "TOPSECRET-OUTSIDE"

// checkErr fails unless err is an error containing want, and checks that
// it leaks nothing from outside the repository and no control character.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if !strings.Contains(msg, want) {
		t.Errorf("error %q, want it to contain %q", msg, want)
	}
	if strings.Contains(msg, outsideSecret) {
		t.Errorf("error %q quotes a file outside the repository", msg)
	}
	if strings.ContainsAny(msg, "\x1b\n\r") {
		t.Errorf("error %q carries a control character", msg)
	}
}

func TestEscapesRefused(t *testing.T) {
	files := prefixed("charts/app", chartFiles("app"))
	files["charts/app/templates/leak.yaml"] = "# a link is made here by the test\n"
	repo, outside := newRepo(t, files)
	link := func(name, target string) {
		t.Helper()
		p := filepath.Join(repo, filepath.FromSlash(name))
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	link("charts/evil", filepath.Join(outside, "chart"))
	link("charts/app/templates/leak.yaml", filepath.Join(outside, "secret.yaml"))
	link("values-link.yaml", filepath.Join(outside, "secret.yaml"))
	writeTree(t, repo, prefixed("charts/ignoring", chartFiles("ignoring")))
	writeTree(t, repo, map[string]string{"charts/ignoring/.helmignore": "templates/leak.yaml\n"})
	link("charts/ignoring/templates/leak.yaml", filepath.Join(outside, "secret.yaml"))
	rfs := openRepo(t, repo)

	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"chart dir climbing out", Request{Chart: "../outside/chart", ReleaseName: "x"}, "leads outside the repository"},
		{"absolute chart dir", Request{Chart: filepath.Join(outside, "chart"), ReleaseName: "x"}, "must be relative to the repository root"},
		{"chart dir linked outside", Request{Chart: "charts/evil", ReleaseName: "x"}, "charts/evil: leads outside the repository"},
		{"template linked outside", Request{Chart: "charts/app", ReleaseName: "x"}, "charts/app/templates/leak.yaml: leads outside the repository"},
		{"values file climbing out", Request{Chart: "charts/ignoring", ReleaseName: "x", ValuesFiles: []string{"../outside/secret.yaml"}}, "leads outside the repository"},
		{"absolute values file", Request{Chart: "charts/ignoring", ReleaseName: "x", ValuesFiles: []string{"/etc/passwd"}}, "must be relative to the repository root"},
		{"values file linked outside", Request{Chart: "charts/ignoring", ReleaseName: "x", ValuesFiles: []string{"values-link.yaml"}}, "values-link.yaml: leads outside the repository"},
		{"file parameter linked outside", Request{Chart: "charts/ignoring", ReleaseName: "x", Parameters: []Parameter{{Name: "data.x", Value: "values-link.yaml", File: true}}}, "values-link.yaml: leads outside the repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(t.Context(), rfs, tt.req, testCaps, Options{})
			checkErr(t, err, tt.want)
		})
	}
	t.Run("a link .helmignore leaves out is not read", func(t *testing.T) {
		if _, err := Render(t.Context(), rfs, Request{Chart: "charts/ignoring", ReleaseName: "x"}, testCaps, Options{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFileDependencies(t *testing.T) {
	app := chartFiles("app")
	repo, _ := newRepo(t, prefixed("charts/app", app))
	dep := func(repository string) {
		t.Helper()
		writeTree(t, repo, map[string]string{"charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: outside\n    version: 0.1.0\n    repository: " + repository + "\n"})
	}
	rfs := openRepo(t, repo)
	req := Request{Chart: "charts/app", ReleaseName: "x"}
	for _, tt := range []struct{ repository, want string }{
		{"file://../../../outside/chart", "leads outside the repository"},
		{"file:///etc", "leads outside the repository"},
		{"https://charts.example.com", `dependency outside (repository https://charts.example.com) is not vendored in charts/`},
		{"oci://registry.example.com/charts", `dependency outside (repository oci://registry.example.com/charts) is not vendored`},
	} {
		t.Run(tt.repository, func(t *testing.T) {
			dep(tt.repository)
			_, err := Render(t.Context(), rfs, req, testCaps, Options{})
			checkErr(t, err, tt.want)
		})
	}
	t.Run("not vendored is ErrNotVendored", func(t *testing.T) {
		dep("https://charts.example.com")
		if _, err := Render(t.Context(), rfs, req, testCaps, Options{}); !errors.Is(err, ErrNotVendored) {
			t.Errorf("error %v, want ErrNotVendored", err)
		}
	})
}

func TestBounds(t *testing.T) {
	files := prefixed("charts/app", chartFiles("app"))
	files["big-values.yaml"] = "data:\n  x: " + strings.Repeat("a", 8<<10) + "\n"
	files["bomb-values.yaml"] = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	files["charts/app/templates/big.yaml"] = "{{ if .Values.big }}apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {x: {{ repeat 2000000 \"x\" }}}\n{{ end }}"
	repo, _ := newRepo(t, files)
	rfs, err := repofs.Open(repo, 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	req := Request{Chart: "charts/app", ReleaseName: "x"}

	t.Run("values file over the repository's file bound", func(t *testing.T) {
		r := req
		r.ValuesFiles = []string{"big-values.yaml"}
		_, err := Render(t.Context(), rfs, r, testCaps, Options{})
		checkErr(t, err, "big-values.yaml: is larger than the limit")
		if !errors.Is(err, repofs.ErrTooLarge) && !strings.Contains(err.Error(), "larger than the limit") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("alias bomb in a values file", func(t *testing.T) {
		r := req
		r.ValuesFiles = []string{"bomb-values.yaml"}
		_, err := Render(t.Context(), rfs, r, testCaps, Options{})
		checkErr(t, err, "YAML aliases expand to too many nodes")
		if !errors.Is(err, ErrAliasBomb) {
			t.Errorf("error %v, want ErrAliasBomb", err)
		}
	})
	t.Run("chart over MaxChartSize", func(t *testing.T) {
		_, err := Render(t.Context(), rfs, req, testCaps, Options{MaxChartSize: 200})
		checkErr(t, err, "larger than the limit of 200 bytes")
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("error %v, want ErrTooLarge", err)
		}
	})
	t.Run("rendering over MaxOutput", func(t *testing.T) {
		r := req
		r.Values = map[string]any{"big": true}
		_, err := Render(t.Context(), rfs, r, testCaps, Options{MaxOutput: 1 << 20})
		checkErr(t, err, "rendered manifests larger than the limit of 1048576 bytes")
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("error %v, want ErrTooLarge", err)
		}
	})
	t.Run("a FIFO in the chart", func(t *testing.T) {
		if err := syscall.Mkfifo(filepath.Join(repo, "charts/app/templates/fifo.yaml"), 0o644); err != nil {
			t.Skip("no FIFOs here:", err)
		}
		defer os.Remove(filepath.Join(repo, "charts/app/templates/fifo.yaml"))
		_, err := Render(t.Context(), rfs, req, testCaps, Options{})
		checkErr(t, err, "fifo.yaml: is not a regular file")
	})
}

func TestArchives(t *testing.T) {
	sub := chartFiles("sub")
	tests := []struct {
		name    string
		archive []byte
		opts    Options
		want    string
	}{
		{"a subchart archive renders", tgz(t, "sub", sub), Options{}, ""},
		{"an entry climbing out", tgz(t, "sub", map[string]string{"Chart.yaml": sub["Chart.yaml"], "../../escape.yaml": "x"}), Options{}, "leads outside the chart"},
		{"a decompression bomb", tgz(t, "sub", map[string]string{"Chart.yaml": sub["Chart.yaml"], "pad.txt": strings.Repeat("0", 4<<20)}), Options{MaxChartSize: 1 << 20}, "larger than the limit of 1048576 bytes"},
		{"archives in archives share one bound", tgz(t, "sub", map[string]string{
			"Chart.yaml":          sub["Chart.yaml"],
			"charts/inner1.tgz":   string(tgz(t, "inner1", map[string]string{"Chart.yaml": "apiVersion: v2\nname: inner1\nversion: 0.1.0\n", "pad": strings.Repeat("1", 600<<10)})),
			"charts/inner2.tgz":   string(tgz(t, "inner2", map[string]string{"Chart.yaml": "apiVersion: v2\nname: inner2\nversion: 0.1.0\n", "pad": strings.Repeat("2", 600<<10)})),
			"templates/none.yaml": "",
		}), Options{MaxChartSize: 1 << 20}, "larger than the limit of 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := prefixed("charts/app", chartFiles("app"))
			files["charts/app/charts/sub-0.1.0.tgz"] = string(tt.archive)
			files["charts/app/Chart.yaml"] = "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: sub\n    version: 0.1.0\n    repository: https://charts.example.com\n"
			repo, _ := newRepo(t, files)
			res, err := Render(t.Context(), openRepo(t, repo), Request{Chart: "charts/app", ReleaseName: "x"}, testCaps, tt.opts)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(summary(res), "; "); !strings.Contains(got, "app/charts/sub/templates/cm.yaml: ConfigMap x-sub") {
					t.Errorf("objects %s, want the subchart's", got)
				}
				return
			}
			checkErr(t, err, tt.want)
		})
	}
}

// TestFilesStayInTheChart: .Files holds the chart's own files, nothing
// else, whatever path a template asks for.
func TestFilesStayInTheChart(t *testing.T) {
	files := prefixed("charts/app", chartFiles("app"))
	files["charts/app/files/own.txt"] = "own file"
	files["charts/app/templates/files.yaml"] = `apiVersion: v1
kind: ConfigMap
metadata: {name: files}
data:
  own: {{ .Files.Get "files/own.txt" | quote }}
  up: {{ .Files.Get "../../../outside/secret.yaml" | quote }}
  abs: {{ .Files.Get "/etc/passwd" | quote }}
  linkless: {{ .Files.Get "../../values.yaml" | quote }}
  glob: "{{ range $p, $_ := .Files.Glob "../**" }}{{ $p }}{{ end }}|{{ range $p, $_ := .Files.Glob "**/secret.yaml" }}{{ $p }}{{ end }}"
  dns: {{ getHostByName "example.com" | quote }}
`
	files["values.yaml"] = "root: values\n"
	repo, _ := newRepo(t, files)
	res, err := Render(t.Context(), openRepo(t, repo), Request{Chart: "charts/app", ReleaseName: "x"}, testCaps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Objects {
		if m.Object.GetName() != "files" {
			continue
		}
		data := m.Object.Object["data"].(map[string]any)
		want := map[string]any{"own": "own file", "up": "", "abs": "", "linkless": "", "glob": "|", "dns": ""}
		for k, v := range want {
			if data[k] != v {
				t.Errorf("%s = %q, want %q", k, data[k], v)
			}
		}
		return
	}
	t.Fatal("no ConfigMap files")
}

func TestSecretsNotInErrors(t *testing.T) {
	const secret = "SuperSecret-Value-42"
	files := prefixed("charts/app", chartFiles("app"))
	files["charts/app/templates/fail.yaml"] = `{{ if .Values.failIt }}{{ fail (printf "bad password %s for %s" .Values.password .Release.Name) }}{{ end }}`
	files["charts/app/templates/tpl.yaml"] = `{{ if .Values.tplIt }}{{ tpl .Values.tmpl . }}{{ end }}`
	files["charts/app/templates/req.yaml"] = `{{ if .Values.reqIt }}{{ required (printf "need a token, not %q" .Values.password) nil }}{{ end }}`
	files["charts/app/values.schema.json"] = `{"type": "object", "properties": {"password": {"type": "string", "pattern": "^[a-z]+$"}}}`
	files["secret-values.yaml"] = "password: " + secret + "\n"
	repo, _ := newRepo(t, files)
	rfs := openRepo(t, repo)
	for _, tt := range []struct {
		name   string
		values map[string]any
		skip   bool
		want   string
	}{
		{"fail quoting a value", map[string]any{"failIt": true}, true, "execution error at (app/templates/fail.yaml:1:"},
		{"required quoting a value", map[string]any{"reqIt": true}, true, "app/templates/req.yaml:1:"},
		{"tpl quoting its template", map[string]any{"tplIt": true, "tmpl": "{{ .Values.password | nosuchfunc }} " + secret}, true, "(template text)"},
		{"schema quoting a value", nil, false, "values do not meet the charts' values.schema.json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := Request{Chart: "charts/app", ReleaseName: "x", ValuesFiles: []string{"secret-values.yaml"}, Values: tt.values, SkipSchemaValidation: tt.skip}
			_, err := Render(t.Context(), rfs, req, testCaps, Options{})
			checkErr(t, err, tt.want)
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "SuperSecret") {
				t.Errorf("error %q quotes the secret", err)
			}
		})
	}
}

func TestNamesEscapedInErrors(t *testing.T) {
	files := prefixed("charts/app", chartFiles("app"))
	files["charts/evil\x1b[2J\nname/Chart.yaml"] = "apiVersion: v2\nname: \"evil\\x1b[2J\\nchart\"\nversion: 0.1.0\n"
	files["charts/evil\x1b[2J\nname/templates/bad.yaml"] = "{{ .Values.nope.deeper }}"
	repo, _ := newRepo(t, files)
	rfs := openRepo(t, repo)
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"release name", Request{Chart: "charts/app", ReleaseName: "web\x1b[31m\nevil"}, `release name "web\x1b[31m\nevil"`},
		{"namespace", Request{Chart: "charts/app", ReleaseName: "x", Namespace: "ns\x1b[0m"}, `namespace "ns\x1b[0m"`},
		// Helm itself drops control characters from Chart.yaml's name.
		{"chart directory and name", Request{Chart: "charts/evil\x1b[2J\nname", ReleaseName: "x"}, `chart "charts/evil\x1b[2J\nname": evil[2J chart/templates/bad.yaml:1:10`},
		{"origin", Request{Origin: "HelmRelease a/b\x1b[1m in x.yaml", Chart: "charts/app", ReleaseName: "-"}, `"HelmRelease a/b\x1b[1m in x.yaml": chart charts/app`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(t.Context(), rfs, tt.req, testCaps, Options{})
			checkErr(t, err, tt.want)
		})
	}
}

func TestRemoteRefusedByDefault(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	rfs := openRepo(t, "testdata/repo")
	_, err := Render(t.Context(), rfs, Request{Chart: "web", RepoURL: srv.URL, ReleaseName: "x"}, testCaps, Options{})
	checkErr(t, err, "layers.app.helm.allow_remote_charts")
	if !errors.Is(err, ErrRemoteRefused) {
		t.Errorf("error %v, want ErrRemoteRefused", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

// TestSchemaLoadsNothing: a values.schema.json $ref reads no file of the
// host and fetches no URL (helm's own validation would do both).
func TestSchemaLoadsNothing(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"type": "object"}`))
	}))
	defer srv.Close()
	for name, ref := range map[string]string{
		"file": "file:///etc/passwd",
		"http": srv.URL + "/schema.json",
		"rel":  "../../outside/secret.yaml",
	} {
		t.Run(name, func(t *testing.T) {
			files := prefixed("charts/app", chartFiles("app"))
			files["charts/app/values.schema.json"] = `{"$ref": "` + ref + `"}`
			repo, _ := newRepo(t, files)
			_, err := Render(t.Context(), openRepo(t, repo), Request{Chart: "charts/app", ReleaseName: "x"}, testCaps, Options{})
			checkErr(t, err, "values.schema.json")
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

func TestVolatile(t *testing.T) {
	files := prefixed("charts/app", chartFiles("app"))
	files["charts/app/templates/secret.yaml"] = `apiVersion: v1
kind: Secret
metadata: {name: generated}
stringData:
  password: {{ randAlphaNum 16 | quote }}
  ca: {{ (genCA "x" 1).Cert | b64enc | quote }}
  existing: {{ (lookup "v1" "Secret" .Release.Namespace "generated").data | toJson | quote }}
`
	repo, _ := newRepo(t, files)
	res, err := Render(t.Context(), openRepo(t, repo), Request{Chart: "charts/app", ReleaseName: "x"}, testCaps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Volatile, ","); got != "genCA,lookup,randAlphaNum" {
		t.Errorf("volatile %q, want genCA,lookup,randAlphaNum", got)
	}
}
