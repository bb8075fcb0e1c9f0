//go:build integration

package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// ciStep is a command of a CI example with its environment.
type ciStep struct {
	name, script string
	env          map[string]string
}

// githubSteps reads the steps of examples/ci/github-actions.yml that run
// in the checkout (fetching the base, driftd check), with the expressions
// the test stands in for replaced.
func githubSteps(t *testing.T, vars map[string]string) []ciStep {
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string
				Run  string
				Env  map[string]string
			}
		}
	}
	decodeExample(t, "github-actions.yml", &wf)
	var out []ciStep
	for _, s := range wf.Jobs["drift"].Steps {
		if s.Name != "Fetch the base" && s.Name != "driftd check" {
			continue
		}
		env := map[string]string{}
		for k, v := range s.Env {
			for from, to := range vars {
				v = strings.ReplaceAll(v, from, to)
			}
			env[k] = v
		}
		out = append(out, ciStep{name: s.Name, script: s.Run, env: env})
	}
	if len(out) != 2 {
		t.Fatalf("github-actions.yml: found %d of the 2 steps the test runs", len(out))
	}
	return out
}

// gitlabSteps reads the script of examples/ci/gitlab-ci.yml's job.
func gitlabSteps(t *testing.T, vars map[string]string) []ciStep {
	var ci map[string]struct {
		Variables map[string]string
		Script    []string
	}
	decodeExample(t, "gitlab-ci.yml", &ci)
	job := ci["driftd"]
	env := map[string]string{}
	for k, v := range vars {
		env[k] = v
	}
	for k, v := range job.Variables {
		env[k] = os.Expand(v, func(n string) string { return vars[n] })
	}
	var out []ciStep
	for i, line := range job.Script {
		out = append(out, ciStep{name: "script " + string(rune('0'+i)), script: line, env: env})
	}
	if len(out) != 2 {
		t.Fatalf("gitlab-ci.yml: script has %d lines, the test expects fetch and check", len(out))
	}
	return out
}

func decodeExample(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "ci", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestCIExamples runs the commands of the README's CI examples, as they
// are written, in a pull request's fresh checkout against the real
// servers: the base is fetched from the remote, driftd writes the text log,
// the comment, SARIF and JUnit, and exits 2 on the collision. SARIF must
// validate against the SARIF 2.1.0 schema with every location a file of
// the repository; JUnit must parse with the right counts per class; the
// comment must fit in one pull-request comment.
func TestCIExamples(t *testing.T) {
	w := newPRWorld(t)
	w.handEdits()
	w.pullRequest(false)
	origin := filepath.Join(t.TempDir(), "origin.git")
	w.git("init", "-q", "--bare", origin)
	w.git("push", "-q", origin, "main", "pr")
	bin := filepath.Dir(driftdBinary(t))

	for name, steps := range map[string][]ciStep{
		"github": githubSteps(t, map[string]string{"${{ github.base_ref }}": "main"}),
		"gitlab": gitlabSteps(t, map[string]string{"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}),
	} {
		t.Run(name, func(t *testing.T) {
			// A fresh CI checkout of the pull request: no base yet.
			checkout := filepath.Join(t.TempDir(), "checkout")
			// Where the example writes its reports: $RUNNER_TEMP on
			// GitHub, the checkout on GitLab.
			outDir := checkout
			runnerTemp := t.TempDir()
			if name == "github" {
				outDir = runnerTemp
			}
			w.git("clone", "-q", "--depth=1", "--branch", "pr", "file://"+origin, checkout)
			var code int
			var log string
			for _, s := range steps {
				cmd := exec.Command("bash", "-euo", "pipefail", "-c", s.script)
				cmd.Dir = checkout
				cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "RUNNER_TEMP="+runnerTemp)
				for k, v := range s.env {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				switch {
				case err == nil:
				case errors.As(err, &ee) && strings.Contains(s.script, "driftd check"):
					code = ee.ExitCode()
				default:
					t.Fatalf("%s: %v\n%s", s.name, err, out)
				}
				log = string(out)
			}
			if code != 2 || !strings.Contains(log, "Collision (2)") {
				t.Errorf("driftd check: exit %d, want 2 (--fail-on collision) and the collisions in the log:\n%s", code, log)
			}
			checkSARIF(t, checkout, filepath.Join(outDir, "driftd.sarif"))
			checkJUnit(t, filepath.Join(outDir, "driftd-junit.xml"))
			md := readString(t, filepath.Join(outDir, "driftd.md"))
			if !strings.HasPrefix(md, "<!-- driftd-report -->") || len(md) >= 65000 || !strings.Contains(md, "| collision | app |") {
				t.Errorf("comment: %d bytes, want the marker first, under 65,000 and the collisions:\n%s", len(md), md)
			}
		})
	}
}

func checkSARIF(t *testing.T, repo, path string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "pkg", "report", "testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const loc = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	if err := c.AddResource(loc, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("SARIF does not validate against the 2.1.0 schema: %v", err)
	}
	var s struct {
		Runs []struct {
			Results []struct {
				Properties map[string]any
				Locations  []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	located := 0
	for _, r := range s.Runs[0].Results {
		for _, l := range r.Locations {
			located++
			uri := l.PhysicalLocation.ArtifactLocation.URI
			if _, err := os.Stat(filepath.Join(repo, filepath.FromSlash(uri))); err != nil {
				t.Errorf("SARIF location %q is not a file of the repository: %v", uri, err)
			}
		}
	}
	if located == 0 {
		t.Errorf("no SARIF result has a location:\n%s", b)
	}
}

func checkJUnit(t *testing.T, path string) {
	t.Helper()
	var j struct {
		Suites []struct {
			Cases []struct {
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Type string `xml:"type,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(readString(t, path)), &j); err != nil {
		t.Fatalf("JUnit: %v", err)
	}
	cases, failures := map[string]int{}, map[string]int{}
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			class := c.Classname[strings.LastIndex(c.Classname, ".")+1:]
			cases[class]++
			if c.Failure != nil {
				failures[class]++
			}
		}
	}
	// Node and app: one of each class; infra (untouched by the pull
	// request): b, d drifted and r pending, all already drifted.
	wantCases := map[string]int{"collision": 2, "introduced": 3, "already_drifted": 5, "resolved": 2}
	wantFailures := map[string]int{"collision": 2, "introduced": 3, "already_drifted": 5}
	for c, n := range wantCases {
		if cases[c] != n || failures[c] != wantFailures[c] {
			t.Errorf("JUnit %s: %d test cases, %d failures; want %d and %d (all: %v, %v)", c, cases[c], failures[c], n, wantFailures[c], cases, failures)
		}
	}
}
