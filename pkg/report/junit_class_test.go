package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/driftd/driftd/pkg/drift"
)

// The JUnit XML schema as CI systems read it (Ant's junit task, the
// format Jenkins, GitLab and GitHub's test reporters parse), written out
// independently of junit.go's own types.
type junitXMLSuites struct {
	XMLName  xml.Name        `xml:"testsuites"`
	Name     string          `xml:"name,attr"`
	Tests    int             `xml:"tests,attr"`
	Failures int             `xml:"failures,attr"`
	Errors   int             `xml:"errors,attr"`
	Skipped  int             `xml:"skipped,attr"`
	Time     string          `xml:"time,attr"`
	Suites   []junitXMLSuite `xml:"testsuite"`
}

type junitXMLSuite struct {
	Name       string             `xml:"name,attr"`
	Tests      int                `xml:"tests,attr"`
	Failures   int                `xml:"failures,attr"`
	Errors     int                `xml:"errors,attr"`
	Skipped    int                `xml:"skipped,attr"`
	Time       string             `xml:"time,attr"`
	Timestamp  string             `xml:"timestamp,attr"`
	Properties []junitXMLProperty `xml:"properties>property"`
	Cases      []junitXMLCase     `xml:"testcase"`
	SystemOut  string             `xml:"system-out"`
	SystemErr  string             `xml:"system-err"`
}

type junitXMLProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitXMLCase struct {
	Name      string           `xml:"name,attr"`
	Classname string           `xml:"classname,attr"`
	Time      string           `xml:"time,attr"`
	Failure   *junitXMLProblem `xml:"failure"`
	Error     *junitXMLProblem `xml:"error"`
	Skipped   *junitXMLProblem `xml:"skipped"`
	SystemOut string           `xml:"system-out"`
	SystemErr string           `xml:"system-err"`
}

type junitXMLProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// junitElements lists the elements the schema allows, with their
// attributes.
var junitElements = map[string][]string{
	"testsuites": {"name", "tests", "failures", "errors", "skipped", "disabled", "time"},
	"testsuite":  {"name", "tests", "failures", "errors", "skipped", "disabled", "time", "timestamp", "hostname", "id", "package"},
	"properties": nil,
	"property":   {"name", "value"},
	"testcase":   {"name", "classname", "time", "assertions", "status"},
	"failure":    {"message", "type"},
	"error":      {"message", "type"},
	"skipped":    {"message"},
	"system-out": nil,
	"system-err": nil,
}

// checkJUnitSchema fails on any element or attribute the JUnit schema does
// not know, which encoding/xml would silently skip.
func checkJUnitSchema(t *testing.T, doc []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("not XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			attrs, known := junitElements[se.Name.Local]
			if !known {
				t.Errorf("element <%s> is not in the JUnit schema", se.Name.Local)
			}
			for _, a := range se.Attr {
				if !slices.Contains(attrs, a.Name.Local) {
					t.Errorf("attribute %s of <%s> is not in the JUnit schema", a.Name.Local, se.Name.Local)
				}
			}
		}
	}
}

func TestJUnitByClass(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, baseSample()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report-base.junit.xml", b.Bytes())
	checkJUnitSchema(t, b.Bytes())
	var doc junitXMLSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not JUnit XML: %v", err)
	}

	type count struct{ tests, failures int }
	perClass := map[string]count{}
	var tests, failures, errors int
	for _, s := range doc.Suites {
		var st, sf, se int
		for _, c := range s.Cases {
			st++
			if c.Error != nil {
				se++
				continue
			}
			if c.Failure != nil {
				sf++
			}
			_, class, ok := strings.Cut(c.Classname, ".")
			if !ok {
				continue // a target in sync
			}
			n := perClass[class]
			n.tests++
			if c.Failure != nil {
				n.failures++
				if c.Failure.Type != class || !strings.HasPrefix(c.Failure.Message, class+": ") {
					t.Errorf("%s: failure type %q message %q, want the class %s", c.Name, c.Failure.Type, c.Failure.Message, class)
				}
			}
			perClass[class] = n
		}
		if s.Tests != st || s.Failures != sf || s.Errors != se {
			t.Errorf("suite %s says tests %d failures %d errors %d; its cases: %d %d %d", s.Name, s.Tests, s.Failures, s.Errors, st, sf, se)
		}
		tests, failures, errors = tests+st, failures+sf, errors+se
	}
	if doc.Tests != tests || doc.Failures != failures || doc.Errors != errors {
		t.Errorf("testsuites says tests %d failures %d errors %d; its suites: %d %d %d", doc.Tests, doc.Failures, doc.Errors, tests, failures, errors)
	}
	want := map[string]count{"collision": {1, 1}, "introduced": {2, 2}, "already_drifted": {1, 1}, "resolved": {1, 0}}
	for class, w := range want {
		if perClass[class] != w {
			t.Errorf("%s: tests/failures %v, want %v", class, perClass[class], w)
		}
	}
	// In sync dns, two errors, and five findings (the config change's among them).
	if tests != 8 || failures != 4 || errors != 2 {
		t.Errorf("tests %d failures %d errors %d, want 8 4 2", tests, failures, errors)
	}
	if doc.Suites[0].Name != "config" || doc.Suites[0].Cases[0].Name != "driftd.yaml" || doc.Suites[0].Cases[0].Classname != "config.introduced" {
		t.Errorf("the config change is not first: %+v", doc.Suites[0])
	}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			switch c.Classname {
			case "app.resolved":
				if c.Failure != nil || !strings.Contains(c.SystemOut, "+level: debug") || !strings.Contains(c.SystemOut, "kubectl-patch") {
					t.Errorf("resolved case: %+v", c)
				}
			case "app.collision":
				if c.Failure == nil || !strings.Contains(c.Failure.Message, "undo the change made live by kubectl-edit at 2026-11-22T09:58:00Z") {
					t.Errorf("collision case: %+v", c.Failure)
				}
			}
		}
	}
}

// TestJSONCarriesClasses: the JSON of a check against a base holds the
// base, the config change and each finding's class; without a base it
// holds none of them.
func TestJSONCarriesClasses(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, baseSample()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Base   *drift.Base `json:"base"`
		Config *struct {
			Object string `json:"object"`
			Class  string `json:"class"`
			Diff   string `json:"diff"`
		} `json:"config_change"`
		Layers []struct {
			Targets []struct {
				Findings []struct {
					Object string `json:"object"`
					Class  string `json:"class"`
				} `json:"findings"`
			} `json:"targets"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Base == nil || doc.Base.Ref != "origin/main" || doc.Base.Revision != "9b8a7c6d5e4f30211f0e0d0c0b0a090807060504" {
		t.Errorf("base: %+v", doc.Base)
	}
	if doc.Config == nil || doc.Config.Object != "driftd.yaml" || doc.Config.Class != "introduced" || doc.Config.Diff == "" {
		t.Errorf("config_change: %+v", doc.Config)
	}
	got := map[string]string{}
	for _, l := range doc.Layers {
		for _, tr := range l.Targets {
			for _, f := range tr.Findings {
				got[f.Object] = f.Class
			}
		}
	}
	want := map[string]string{
		"apps/v1/Deployment/web/frontend": "collision",
		"local_file.motd":                 "introduced",
		"local_file.hosts":                "already_drifted",
		"v1/ConfigMap/web/settings":       "resolved",
	}
	for obj, c := range want {
		if got[obj] != c {
			t.Errorf("%s: class %q, want %q", obj, got[obj], c)
		}
	}
	b.Reset()
	if err := WriteJSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"class"`, `"base"`, `"config_change"`} {
		if bytes.Contains(b.Bytes(), []byte(key)) {
			t.Errorf("JSON without a base holds %s", key)
		}
	}
}

func TestJUnitByClassHoldsControlCharacters(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, hostileBaseReport()); err != nil {
		t.Fatal(err)
	}
	checkJUnitSchema(t, b.Bytes())
	var doc junitXMLSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, b.Bytes())
	}
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "\xff", "&#xD;"} {
		if bytes.Contains(b.Bytes(), []byte(bad)) {
			t.Errorf("JUnit output holds %q", bad)
		}
	}
	if !bytes.Contains(b.Bytes(), []byte(`classname="node.unclassified"`)) || !bytes.Contains(b.Bytes(), []byte(`classname="node.collision"`)) {
		t.Errorf("classes missing:\n%s", b.Bytes())
	}
}
