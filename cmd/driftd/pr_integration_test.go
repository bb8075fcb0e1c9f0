//go:build integration

package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/driftd/driftd/internal/testenv"
)

// prWorld is a config repository on all three layers, applied to real
// servers (terraform with hashicorp/local, sshd nodes, a kube-apiserver),
// with a base commit on main and a pull request on a branch.
type prWorld struct {
	t                     *testing.T
	repo, reality, state  string
	terraform, cli, cache string
	kube                  *testenv.Kube
	sshd                  *testenv.SSHD
	baseConfig            string
}

const dropIns = "etc/systemd/system/kubelet.service.d/"

func (w *prWorld) git(args ...string) string {
	w.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = w.repo
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e")
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (w *prWorld) kubectl(stdin string, args ...string) {
	w.t.Helper()
	cmd := exec.Command(w.kube.Kubectl, append([]string{"--kubeconfig", w.kube.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		w.t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
}

func (w *prWorld) terraformApply() {
	w.t.Helper()
	dir := filepath.Join(w.repo, "stacks/files")
	for _, args := range [][]string{{"init", "-input=false", "-no-color"}, {"apply", "-auto-approve", "-input=false", "-no-color"}} {
		cmd := exec.Command(w.terraform, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+w.cli, "TF_DATA_DIR="+filepath.Join(w.state, "data"))
		if out, err := cmd.CombinedOutput(); err != nil {
			w.t.Fatalf("terraform %v: %v\n%s", args, err, out)
		}
	}
}

// stack is the Terraform stack with one file per name, each in reality/.
func (w *prWorld) stack(contents map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "terraform {\n  backend \"local\" { path = %q }\n  required_providers {\n    local = { source = \"hashicorp/local\" }\n  }\n}\n", filepath.Join(w.state, "files.tfstate"))
	for _, n := range []string{"a", "b", "d", "r"} {
		fmt.Fprintf(&b, "resource \"local_file\" %q {\n  filename = %q\n  content  = %q\n}\n", n, filepath.Join(w.reality, n), contents[n])
	}
	return b.String()
}

func configMaps(data map[string]string) string {
	var b strings.Builder
	for _, n := range []string{"a", "b", "c", "d"} {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: prs}\ndata: {v: %q}\n", n, data[n])
	}
	return b.String()
}

func newPRWorld(t *testing.T) *prWorld {
	t.Helper()
	tf, cli := os.Getenv("DRIFTD_TERRAFORM"), os.Getenv("TF_CLI_CONFIG_FILE")
	if tf == "" || cli == "" {
		testenv.Unavailable(t, "DRIFTD_TERRAFORM and TF_CLI_CONFIG_FILE are not set")
	}
	dir := t.TempDir()
	w := &prWorld{t: t, repo: filepath.Join(dir, "repo"), reality: filepath.Join(dir, "reality"), state: filepath.Join(dir, "state"),
		terraform: tf, cli: cli, cache: filepath.Join(dir, "cache")}
	w.kube = testenv.KubeForTest(t)
	w.sshd = testenv.SSHDForTest(t, 1)
	for _, d := range []string{w.repo, w.reality, w.state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	node := w.sshd.Nodes[0]
	w.baseConfig = fmt.Sprintf(`cache_dir: %s
layers:
  infra:
    binary: %s
    env: {TF_CLI_CONFIG_FILE: %s}
    stacks: [{dir: stacks/files}]
  node:
    scopes: ["/etc/systemd/system/*.d/*.conf"]
    ssh: {key_file: %s, known_hosts_file: %s, user: %s}
  app:
    paths: [apps]
    kubeconfig: %s
`, w.cache, tf, cli, w.sshd.KeyFile, w.sshd.KnownHosts, w.sshd.User, w.kube.DeployedKubeconfig(t))

	// What is live: the stack applied with r=r0; nodes, and objects as the
	// base declares them.
	write(t, filepath.Join(w.repo, "stacks/files/main.tf"), w.stack(map[string]string{"a": "a1", "b": "b1", "d": "d1", "r": "r0"}))
	w.terraformApply()
	w.git("init", "-q", "-b", "main")
	write(t, filepath.Join(w.repo, "driftd.yaml"), w.baseConfig)
	write(t, filepath.Join(w.repo, "nodes/inventory.yaml"), fmt.Sprintf("nodes: [{name: %s, address: %s, port: %d, roles: [base]}]\n", node.Name, node.Addr, w.sshd.Port))
	for _, n := range []string{"a", "b", "c", "d"} {
		write(t, filepath.Join(w.repo, "nodes/roles/base", dropIns, n+".conf"), n+"1\n")
		write(t, filepath.Join(node.EtcDir, strings.TrimPrefix(dropIns, "etc/"), n+".conf"), n+"1\n")
	}
	write(t, filepath.Join(w.repo, "apps/cms.yaml"), configMaps(map[string]string{"a": "a1", "b": "b1", "c": "c1", "d": "d1"}))
	w.kubectl("", "create", "namespace", "prs")
	w.kubectl(configMaps(map[string]string{"a": "a1", "b": "b1", "c": "c1", "d": "d1"}), "apply", "--server-side", "-f", "-")
	// The base itself has a change that was merged and never applied: r1.
	write(t, filepath.Join(w.repo, "stacks/files/main.tf"), w.stack(map[string]string{"a": "a1", "b": "b1", "d": "d1", "r": "r1"}))
	w.git("add", "-A")
	w.git("commit", "-q", "-m", "base")
	return w
}

// handEdits changes reality by hand: b, c and d on the node and in the
// cluster, b and d in the infra stack.
func (w *prWorld) handEdits() {
	node := w.sshd.Nodes[0]
	for _, n := range []string{"b", "c", "d"} {
		write(w.t, filepath.Join(node.EtcDir, strings.TrimPrefix(dropIns, "etc/"), n+".conf"), n+"-hand\n")
		w.kubectl("", "patch", "-n", "prs", "configmap", n, "--type=merge", "-p", fmt.Sprintf(`{"data":{"v":"%s-hand"}}`, n))
	}
	for _, n := range []string{"b", "d"} {
		write(w.t, filepath.Join(w.reality, n), n+"-hand")
	}
}

// pullRequest commits the pull request on a branch: a changed
// (introduced), c written as it is live (resolved), d changed (collision),
// b untouched (already drifted); in the stack, when infra is set, a and d
// changed and r put back to what is live. It also changes driftd.yaml.
func (w *prWorld) pullRequest(infra bool) {
	t := w.t
	w.git("checkout", "-q", "-b", "pr")
	if infra {
		write(t, filepath.Join(w.repo, "stacks/files/main.tf"), w.stack(map[string]string{"a": "a2", "b": "b1", "d": "d2", "r": "r0"}))
	}
	for n, v := range map[string]string{"a": "a2", "c": "c-hand", "d": "d2"} {
		write(t, filepath.Join(w.repo, "nodes/roles/base", dropIns, n+".conf"), v+"\n")
	}
	write(t, filepath.Join(w.repo, "apps/cms.yaml"), configMaps(map[string]string{"a": "a2", "b": "b1", "c": "c-hand", "d": "d2"}))
	write(t, filepath.Join(w.repo, "driftd.yaml"), strings.Replace(w.baseConfig, "binary: "+w.terraform, "binary: sh", 1))
	w.git("commit", "-q", "-am", "pull request")
}

type jsonFinding struct {
	Object, Change, Class, Diff string
	Details                     map[string]any
}

type jsonReport struct {
	Base   *struct{ Ref, Revision string } `json:"base"`
	Config *jsonFinding                    `json:"config_change"`
	Layers []struct {
		Layer   string
		Targets []struct {
			Name, Status, Error string
			Findings            []jsonFinding
		}
	}
}

// classesOf lists "layer object change class" for every finding.
func classesOf(r jsonReport) []string {
	var out []string
	for _, l := range r.Layers {
		for _, tr := range l.Targets {
			for _, f := range tr.Findings {
				out = append(out, fmt.Sprintf("%s %s %s %s", l.Layer, f.Object, f.Change, f.Class))
			}
		}
	}
	return out
}

var (
	textClassHead = regexp.MustCompile(`^(Collision|Introduced|Already drifted|Resolved) \(\d+\):`)
	textFinding   = regexp.MustCompile(`^(infra|node|app)/\S+: (\S+) \((\w+)\)$`)
	mdRow         = regexp.MustCompile("^\\| ([a-z ]+) \\| (infra|node|app) \\| ` [^`]+ ` \\| ` ([^`]+) ` \\| (\\w+) \\|$")
)

// textClasses reads "layer object change class" from the text report's
// class sections, in the order classesOf gives for JSON.
func textClasses(text string) []string {
	var out []string
	class := ""
	for _, line := range strings.Split(text, "\n") {
		if m := textClassHead.FindStringSubmatch(line); m != nil {
			class = strings.ReplaceAll(strings.ToLower(m[1]), " ", "_")
		} else if m := textFinding.FindStringSubmatch(line); m != nil && class != "" {
			out = append(out, fmt.Sprintf("%s %s %s %s", m[1], m[2], m[3], class))
		}
	}
	return sortByLayer(out)
}

// markdownClasses reads the same from the Markdown report's table.
func markdownClasses(md string) []string {
	var out []string
	for _, line := range strings.Split(md, "\n") {
		if m := mdRow.FindStringSubmatch(line); m != nil {
			out = append(out, fmt.Sprintf("%s %s %s %s", m[2], m[3], m[4], strings.ReplaceAll(m[1], " ", "_")))
		}
	}
	return sortByLayer(out)
}

// sortByLayer orders lines as reports order findings: by layer (infra,
// node, app), then by object and change.
func sortByLayer(lines []string) []string {
	rank := map[string]int{"infra": 0, "node": 1, "app": 2}
	slices.SortStableFunc(lines, func(a, b string) int {
		fa, fb := strings.Fields(a), strings.Fields(b)
		return cmp.Or(rank[fa[0]]-rank[fb[0]], strings.Compare(fa[1], fb[1]), strings.Compare(fa[2], fb[2]))
	})
	return lines
}

func parseReport(t *testing.T, out string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out)
	}
	return r
}

// TestCheckPullRequestClasses: on every layer, a pull request against
// live systems gives one introduced change, one already-drifted finding,
// one resolved (the pull request writes a hand change into Git) and one
// collision (it changes what was edited by hand), and the pull request's
// own change of driftd.yaml is shown but not used.
func TestCheckPullRequestClasses(t *testing.T) {
	w := newPRWorld(t)
	w.handEdits()
	w.pullRequest(true)

	outDir := t.TempDir()
	textFile, mdFile := filepath.Join(outDir, "report.txt"), filepath.Join(outDir, "comment.md")
	code, out := checkRun(t, "--repo", w.repo, "--base", "main", "--allow-pr-code", "infra", "-o", "json", "-o", "text="+textFile, "-o", "markdown="+mdFile)
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, out)
	}
	r := parseReport(t, out)
	node := w.sshd.Nodes[0].Name
	_ = node
	conf := func(n string) string { return "/" + dropIns + n + ".conf" }
	want := []string{
		"infra local_file.a pending introduced",
		"infra local_file.b drifted already_drifted",
		"infra local_file.d drifted already_drifted",
		"infra local_file.d pending collision",
		"infra local_file.r pending resolved",
		"node " + conf("a") + " changed introduced",
		"node " + conf("b") + " changed already_drifted",
		"node " + conf("c") + " changed resolved",
		"node " + conf("d") + " changed collision",
		"app core/ConfigMap/prs/a changed introduced",
		"app core/ConfigMap/prs/b changed already_drifted",
		"app core/ConfigMap/prs/c changed resolved",
		"app core/ConfigMap/prs/d changed collision",
	}
	if diff := gocmp.Diff(want, classesOf(r)); diff != "" {
		t.Errorf("classes (-want +got):\n%s\n%s", diff, out)
	}
	// Text and Markdown put each finding under the same class.
	text, md := readString(t, textFile), readString(t, mdFile)
	if diff := gocmp.Diff(want, textClasses(text)); diff != "" {
		t.Errorf("text classes (-want +got):\n%s\n%s", diff, text)
	}
	if diff := gocmp.Diff(want, markdownClasses(md)); diff != "" {
		t.Errorf("markdown classes (-want +got):\n%s\n%s", diff, md)
	}
	if r.Base == nil || r.Base.Ref != "main" || len(r.Base.Revision) != 40 {
		t.Errorf("base = %+v", r.Base)
	}
	if r.Config == nil || !strings.Contains(r.Config.Diff, "+    binary: sh") {
		t.Errorf("the pull request's change of driftd.yaml is not shown: %+v", r.Config)
	}
	for _, l := range r.Layers {
		for _, tr := range l.Targets {
			for _, f := range tr.Findings {
				if l.Layer == "app" && f.Class == "collision" && !strings.Contains(fmt.Sprint(f.Details["changed_by"]), "kubectl-patch") {
					t.Errorf("collision on %s does not name who changed it live: %v", f.Object, f.Details)
				}
			}
		}
	}

	// --fail-on picks what fails.
	for policy, wantCode := range map[string]int{"none": 0, "collision": 2, "introduced": 2, "drift": 2} {
		if code, out := checkRun(t, "--repo", w.repo, "--base", "main", "--allow-pr-code", "infra", "--fail-on", policy, "--layer", "app", "-o", "json"); code != wantCode {
			t.Errorf("--fail-on=%s: exit %d, want %d\n%s", policy, code, wantCode, out)
		}
	}
}

// TestCheckPullRequestAttacks: a pull request from anyone changes the
// config to run its own commands, declares objects and files that exist
// live to read them, sends driftd to a node of its choosing, and changes
// Terraform to run its code. None of it may work.
func TestCheckPullRequestAttacks(t *testing.T) {
	w := newPRWorld(t)
	marker := filepath.Join(t.TempDir(), "pwned")
	script := filepath.Join(w.repo, "evil.sh")
	write(t, script, "#!/bin/sh\ntouch "+marker+"\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(w.repo, "kubeconfig"), fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: %s, interactiveMode: Never}}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, script))
	evil := strings.NewReplacer(
		"binary: "+w.terraform, "binary: "+script,
		"kubeconfig: ", "kubeconfig: kubeconfig\n    # was: ",
		"TF_CLI_CONFIG_FILE: "+w.cli, "TF_CLI_CONFIG_FILE: ./terraformrc",
		"key_file: "+w.sshd.KeyFile, "key_file: ./id_ed25519",
	).Replace(w.baseConfig)
	w.git("checkout", "-q", "-b", "pr")
	write(t, filepath.Join(w.repo, "driftd.yaml"), evil)

	// Live things the base does not manage.
	const liveSecret, nodeSecret = "live-value-of-kube-system", "node-secret-value"
	w.kubectl(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-creds, namespace: kube-system}\ndata: {token: %s}\n", liveSecret), "apply", "--server-side", "-f", "-")
	write(t, filepath.Join(w.repo, "apps/steal.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-creds, namespace: kube-system}\ndata: {token: guess}\n")
	node := w.sshd.Nodes[0]
	// A drop-in in a managed scope that Git does not declare: the base
	// reports it as unmanaged, by its hash only.
	write(t, filepath.Join(node.EtcDir, strings.TrimPrefix(dropIns, "etc/"), "zz-secret.conf"), nodeSecret+"\n")
	write(t, filepath.Join(w.repo, "nodes/roles/base", dropIns, "zz-secret.conf"), "guess\n")
	// A node of the pull request's choosing.
	inv := fmt.Sprintf("nodes:\n  - {name: %s, address: %s, port: %d, roles: [base]}\n  - {name: attacker, address: 127.0.0.1, port: %d, roles: [base]}\n",
		node.Name, node.Addr, w.sshd.Port, w.sshd.Port)
	write(t, filepath.Join(w.repo, "nodes/inventory.yaml"), inv)
	// Terraform that reads the runner's files into the plan.
	const runnerSecret = "runner-secret-value"
	runnerFile := filepath.Join(t.TempDir(), "runner-credentials")
	write(t, runnerFile, runnerSecret)
	write(t, filepath.Join(w.repo, "stacks/files/steal.tf"), fmt.Sprintf("data \"local_file\" \"x\" { filename = %q }\noutput \"x\" { value = data.local_file.x.content }\n", runnerFile))
	w.git("add", "-A")
	w.git("commit", "-q", "-m", "pull request from a fork")

	code, out := checkRun(t, "--repo", w.repo, "--base", "main", "-o", "json")
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the pull request's command ran")
	}
	if strings.Contains(out, liveSecret) || strings.Contains(out, nodeSecret) || strings.Contains(out, runnerSecret) {
		t.Errorf("a live value the base does not manage reached the report:\n%s", out)
	}
	if code != 1 {
		t.Errorf("exit %d, want 1 (the attacker's node and the stack could not be checked)\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(w.cache, "pull-request", "terraform")); err == nil {
		t.Error("terraform ran on the pull request's tree without --allow-pr-code")
	}
	r := parseReport(t, out)
	if r.Config == nil || !strings.Contains(r.Config.Diff, "evil.sh") {
		t.Errorf("the config change is not shown for review: %+v", r.Config)
	}
	got := map[string]string{}
	checkedNode := false
	for _, l := range r.Layers {
		for _, tr := range l.Targets {
			if l.Layer == "node" && tr.Name == node.Name && tr.Error == "" {
				checkedNode = true // with the base's key: the pull request's key_file was not used
			}
			got[l.Layer+" "+tr.Name] = tr.Error
			for _, f := range tr.Findings {
				got[l.Layer+" "+f.Object] = f.Class + " " + f.Change + " " + f.Diff
			}
		}
	}
	// The control: with the allowance, the pull request's Terraform does
	// run, and reads the runner's file into the plan. That is what the
	// flag means, and it shows the check above could see the leak.
	if _, out := checkRun(t, "--repo", w.repo, "--base", "main", "--allow-pr-code", "infra", "--layer", "infra", "-o", "json"); !strings.Contains(out, runnerSecret) {
		t.Errorf("with --allow-pr-code infra the pull request's data source should have run:\n%s", out)
	}
	if !checkedNode {
		t.Errorf("node %s was not checked with the base's settings:\n%s", node.Name, out)
	}
	for k, want := range map[string]string{
		"app core/ConfigMap/kube-system/cluster-creds": "introduced changed # exists live and differs",
		"node /" + dropIns + "zz-secret.conf":          "collision changed # exists live and differs",
		"node attacker":                                "not contacted",
		"infra stacks/files":                           "--allow-pr-code=infra",
	} {
		if !strings.Contains(got[k], want) {
			t.Errorf("%s: %q, want it to contain %q\n%s", k, got[k], want, out)
		}
	}
}
