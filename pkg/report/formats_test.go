package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseOutputs(t *testing.T) {
	got, err := ParseOutputs([]string{"markdown=comment.md", "sarif=out/drift.sarif", "text", "json=a=b.json", "junit=./junit.xml"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Output{{"markdown", "comment.md"}, {"sarif", "out/drift.sarif"}, {"text", ""}, {"json", "a=b.json"}, {"junit", "./junit.xml"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got, err := ParseOutputs([]string{"json=-"}); err != nil || len(got) != 1 || got[0] != (Output{"json", ""}) {
		t.Errorf("json=-: %v %v, want standard output", got, err)
	}
	if got, err := ParseOutputs(nil); err != nil || len(got) != 0 {
		t.Errorf("no specs: %v %v", got, err)
	}
	for _, tc := range []struct {
		specs []string
		want  string
	}{
		{[]string{"yaml"}, `unknown format "yaml": use json, junit, markdown, sarif, text`},
		{[]string{"text", "yaml=x"}, `unknown format "yaml": use json, junit, markdown, sarif, text`},
		{[]string{"=x.json"}, `unknown format "": use json`},
		{[]string{"Text"}, `unknown format "Text"`},
		{[]string{"json="}, `no file after "json="`},
		{[]string{"text", "json"}, `"text" already goes to standard output`},
		{[]string{"text", "json=-"}, `"text" already goes to standard output`},
		{[]string{"json=r.json", "sarif=./r.json"}, `"json=r.json" already writes that file`},
	} {
		_, err := ParseOutputs(tc.specs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %q", tc.specs, err, tc.want)
		}
	}
}

func TestWriteOutputs(t *testing.T) {
	dir := t.TempDir()
	rep := baseSample()
	outs := []Output{
		{"json", filepath.Join(dir, "report.json")},
		{"text", ""},
		{"text", filepath.Join(dir, "report.txt")},
		{"sarif", filepath.Join(dir, "report.sarif")},
		{"markdown", filepath.Join(dir, "comment.md")},
	}
	// An existing file is replaced, with the mode of a new one.
	if err := os.WriteFile(outs[0].Path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	opts := Options{Text: TextOptions{Color: true}}
	if err := WriteOutputs(&stdout, outs, rep, opts); err != nil {
		t.Fatal(err)
	}
	render := func(format string, o Options) string {
		var b bytes.Buffer
		if err := Formats()[format](&b, rep, o); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if want := render("text", opts); stdout.String() != want {
		t.Errorf("standard output differs from text with colour:\n%s", cmp.Diff(want, stdout.String()))
	}
	for _, out := range outs {
		if out.Path == "" {
			continue
		}
		got, err := os.ReadFile(out.Path)
		if err != nil {
			t.Fatal(err)
		}
		if want := render(out.Format, Options{}); string(got) != want {
			t.Errorf("%s differs from the %s rendering (colour must be off in a file):\n%s", out.Path, out.Format, cmp.Diff(want, string(got)))
		}
		fi, err := os.Stat(out.Path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", out.Path, fi.Mode().Perm())
		}
	}
	assertNoTemp(t, dir)
}

// TestWriteOutputsFailureKeepsFiles: an output that fails leaves its file
// as it was and no temporary file, and the others are still written.
func TestWriteOutputsFailureKeepsFiles(t *testing.T) {
	dir := t.TempDir()
	rep := baseSample()
	// A detail JSON cannot encode makes the JSON renderer fail.
	rep.Config.Details = map[string]any{"bad": make(chan int)}
	jsonPath := filepath.Join(dir, "report.json")
	if err := os.WriteFile(jsonPath, []byte("old report\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outs := []Output{
		{"json", jsonPath},
		{"text", filepath.Join(dir, "report.txt")},
		{"sarif", filepath.Join(dir, "missing", "report.sarif")},
		{"json", ""},
	}
	var stdout bytes.Buffer
	err := WriteOutputs(&stdout, outs, rep, Options{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"write json report to " + jsonPath, "write sarif report to " + outs[2].Path, "render json report"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if got, _ := os.ReadFile(jsonPath); string(got) != "old report\n" {
		t.Errorf("a failed write changed the file: %q", got)
	}
	if stdout.Len() != 0 {
		t.Errorf("a failed rendering wrote to standard output: %q", stdout.String())
	}
	if b, err := os.ReadFile(outs[1].Path); err != nil || !bytes.HasPrefix(b, []byte("Revision ")) {
		t.Errorf("the text output was not written after a failed one: %v", err)
	}
	assertNoTemp(t, dir)
}

func TestWriteOutputsStdoutError(t *testing.T) {
	err := WriteOutputs(failingWriter{}, []Output{{"text", ""}}, sample(), Options{})
	if err == nil || !strings.Contains(err.Error(), "write text report to standard output: disk full") {
		t.Errorf("error %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
