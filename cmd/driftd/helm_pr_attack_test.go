//go:build integration

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/sopstest"
	"github.com/driftd/driftd/internal/testenv"
)

// Attacks by a pull request on `driftd check --base` through Helm and SOPS:
// the base's config allows remote charts and holds the SOPS key, and the
// pull request may not use either.

// checkAll runs driftd check and returns its exit code, its standard
// output (the report) and standard error (the log) together.
func checkAll(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(driftdBinary(t), append([]string{"check", "--no-color"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatal(err)
	return 0, ""
}

// TestAttackPullRequestHelmAndSOPS: the base keeps the database password
// in a SOPS-encrypted Secret that the runner's key decrypts, and allows
// remote charts. The pull request adds a HelmRelease from a chart
// repository it runs (loopback here), a configMapGenerator and a
// HelmRelease that read the encrypted Secret, and replaces the encrypted
// Secret with a plaintext one holding a guess of the password. Nothing may
// be fetched, no report or log may hold the password, and the report of a
// right guess must be the report of a wrong one.
func TestAttackPullRequestHelmAndSOPS(t *testing.T) {
	k := testenv.KubeForTest(t)
	const password = "pr-attack-live-password-1"
	const dsn = "postgres://app:pr-attack-live-dsn-secret@db"
	ns := "pratk"
	kubectl := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(k.Kubectl, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	kubectl("", "create", "namespace", ns)
	secret := func(pw string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: %s}\nstringData:\n  password: %s\n", ns, pw)
	}
	kubectl(secret(password), "apply", "--server-side", "-f", "-")
	conf := func(v string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf, namespace: %s}\ndata:\n  dsn: %q\n", ns, v)
	}
	kubectl(conf(dsn), "apply", "--server-side", "-f", "-")

	outside := t.TempDir()
	id := sopstest.NewIdentity(t)
	keyFile := filepath.Join(outside, "age.key")
	write(t, keyFile, id.String()+"\n")
	repoURL, hits := chartRepo(t)
	repo := filepath.Join(outside, "repo")
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write(t, filepath.Join(repo, "driftd.yaml"), fmt.Sprintf(`cache_dir: %s
layers:
  app:
    paths: [apps]
    kubeconfig: %s
    helm:
      allow_remote_charts: true
    sops:
      age_key_file: %s
`, filepath.Join(outside, "cache"), k.DeployedKubeconfig(t), keyFile))
	encrypted := sopstest.EncryptYAML(t, secret(password), id.Recipient().String(), sopstest.FluxRegex)
	write(t, filepath.Join(repo, "apps/db.enc.yaml"), encrypted)
	write(t, filepath.Join(repo, "apps/conf.enc.yaml"), sopstest.EncryptYAML(t, conf(dsn), id.Recipient().String(), sopstest.FluxRegex))
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "base")

	// The pull request's additions, the same in both branches.
	git("checkout", "-q", "-b", "pr-common")
	write(t, filepath.Join(repo, "apps/remote.yaml"), fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: mine, namespace: %[1]s}
spec: {url: %[2]q}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: remote, namespace: %[1]s}
spec:
  chart:
    spec: {chart: web, version: 0.1.0, sourceRef: {kind: HelmRepository, name: mine}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: local, namespace: %[1]s}
spec:
  chart:
    spec: {chart: charts/leak, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}
  valuesFrom:
  - {kind: Secret, name: db, valuesKey: password, targetPath: password, optional: true}
`, ns, repoURL))
	write(t, filepath.Join(repo, "charts/leak/Chart.yaml"), "apiVersion: v2\nname: leak\nversion: 0.1.0\n")
	write(t, filepath.Join(repo, "charts/leak/templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata: {password: {{ .Values.password | default \"none\" | quote }}}\n")
	write(t, filepath.Join(repo, "apps/gen/kustomization.yaml"), fmt.Sprintf("namespace: %s\ngeneratorOptions: {disableNameSuffixHash: true}\nconfigMapGenerator:\n- {name: copied, files: [db.enc.yaml]}\n", ns))
	write(t, filepath.Join(repo, "apps/gen/db.enc.yaml"), encrypted)
	// The encrypted ConfigMap, in the clear with other values: its diff
	// would show the live ones.
	write(t, filepath.Join(repo, "apps/conf.enc.yaml"), conf("postgres://app:guess@db"))
	git("add", "-A")
	git("commit", "-q", "-m", "pull request")

	var reports []string
	for _, guess := range []string{"wrong-guess-123456", password} {
		git("checkout", "-q", "-B", "pr", "pr-common")
		write(t, filepath.Join(repo, "apps/db.enc.yaml"), secret(guess))
		git("commit", "-q", "-am", "guess")
		before := hits.Load()
		dir := t.TempDir()
		args := []string{"--repo", repo, "--base", "main"}
		for _, f := range []string{"json", "text", "markdown", "sarif", "junit"} {
			args = append(args, "-o", f+"="+filepath.Join(dir, f))
		}
		code, log := checkAll(t, args...)
		all := log
		for _, f := range []string{"json", "text", "markdown", "sarif", "junit"} {
			all += readString(t, filepath.Join(dir, f))
		}
		if hits.Load() != before {
			t.Errorf("the pull request's HelmRepository was fetched (%d requests) though the pull request may not use allow_remote_charts", hits.Load()-before)
		}
		if !strings.Contains(all, "allow_remote_charts") {
			t.Errorf("exit %d: the pull request's remote chart is not reported as refused:\n%s", code, all)
		}
		if strings.Contains(all, "pr-attack-live-dsn-secret") {
			t.Errorf("exit %d: a report or the log holds the live value of the ConfigMap the base keeps encrypted:\n%s", code, all)
		}
		if guess != password && strings.Contains(all, password) {
			t.Errorf("exit %d: a report or the log holds the live password:\n%s", code, all)
		}
		r := parseReport(t, readString(t, filepath.Join(dir, "json")))
		t.Logf("guess %s: exit %d, %s", guess, code, classesOf(r))
		reports = append(reports, strings.Join(classesOf(r), "\n"))
	}
	if reports[0] != reports[1] {
		t.Errorf("the report tells a right guess of the password from a wrong one:\nwrong:\n%s\nright:\n%s", reports[0], reports[1])
	}
}
