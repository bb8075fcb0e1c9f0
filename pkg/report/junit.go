package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/driftd/driftd/pkg/drift"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML, which CI systems show as test
// results: one suite per layer, one test case per target. A drifted target
// is a failure whose text holds its diffs; a target that could not be
// checked is an error. Control characters are shown escaped, as in text
// output (XML cannot hold most of them, and CI systems show this text in
// logs and terminals).
//
// In a check against a base revision (r.Base set) each finding of a
// drifted target is a test case of its own, its classname the layer and
// class ("app.collision") and its failure's type the class: a failure,
// except a resolved finding, which passes with its diff in system-out. The
// config change (r.Config) comes first, in a suite of its own ("config").
func WriteJUnit(w io.Writer, r drift.Report) error {
	out := junitSuites{Name: "driftd " + shortRev(r.Revision)}
	if r.Base != nil && r.Config != nil {
		s := junitSuite{Name: "config", Time: seconds(0)}
		c := junitFindingCase("config", "", *r.Config, 0)
		if c.Failure != nil {
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Suites = append(out.Suites, s)
	}
	for _, l := range r.Layers {
		s := junitSuite{Name: string(l.Layer), Time: seconds(l.DurationSeconds)}
		if l.Error != "" {
			s.Cases = append(s.Cases, junitCase{Name: "(layer)", Classname: string(l.Layer),
				Error: &junitProblem{Message: line(firstLine(l.Error)), Type: "unknown", Body: block(l.Error)}})
			s.Errors++
		}
		for _, t := range l.Targets {
			c := junitCase{Name: line(t.Name), Classname: string(l.Layer), Time: seconds(t.DurationSeconds)}
			switch t.Status {
			case drift.StatusUnknown:
				c.Error = &junitProblem{Message: line(firstLine(t.Error)), Type: "unknown", Body: block(t.Error)}
				s.Errors++
			case drift.StatusDrifted:
				if r.Base != nil {
					for i, f := range t.Findings {
						secs := 0.0
						if i == 0 {
							secs = t.DurationSeconds // the target's time, counted once
						}
						fc := junitFindingCase(string(l.Layer), t.Name, f, secs)
						if fc.Failure != nil {
							s.Failures++
						}
						s.Cases = append(s.Cases, fc)
					}
					continue
				}
				var b strings.Builder
				for _, f := range t.Findings {
					fmt.Fprintf(&b, "%s (%s)\n%s\n", line(f.Object), line(string(f.Change)), block(f.Diff))
				}
				c.Failure = &junitProblem{Message: fmt.Sprintf("%d object(s) drifted", len(t.Findings)), Type: "drift", Body: b.String()}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitFindingCase is the test case of one finding in a check against a
// base revision: named "target: object" (the object alone for the config
// change), classed "layer.class", a failure of the class's type unless the
// finding is resolved.
func junitFindingCase(layer, target string, f drift.Finding, secs float64) junitCase {
	name := line(f.Object)
	if target != "" {
		name = line(target) + ": " + name
	}
	label := strings.ReplaceAll(classLabel(f.Class), " ", "_")
	c := junitCase{Name: name, Classname: line(layer) + "." + label, Time: seconds(secs)}
	msg := findingMeaning(f, line)
	if layer == "config" {
		msg = configMeaning
	}
	body := fmt.Sprintf("%s (%s)\n%s\n", line(f.Object), line(string(f.Change)), block(f.Diff))
	if f.Class == drift.ClassResolved {
		c.SystemOut = label + ": " + msg + "\n" + body
		return c
	}
	c.Failure = &junitProblem{Message: label + ": " + msg, Type: label, Body: body}
	return c
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }
