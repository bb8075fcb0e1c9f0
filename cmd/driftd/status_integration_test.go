//go:build integration

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/testenv"
)

// chromium runs headless Chromium with the flags this closed network needs.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Unavailable(t, "chromium: %v", err)
	}
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1200,900"}
	var out bytes.Buffer
	cmd := exec.Command(bin, append(base, args...)...)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return out.Bytes()
}

// TestStatusPageInChromium renders the status page of a real driftd serve
// that found drift and a broken stack, and checks what a person would see.
// DRIFTD_SCREENSHOT=path also saves a screenshot there (for the README).
func TestStatusPageInChromium(t *testing.T) {
	g := newGitRepo(t)
	g.apply()
	if err := os.WriteFile(filepath.Join(g.reality, "motd"), []byte("edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(g.work, "stacks", "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	g.write("stacks/broken/main.tf", "resource \"local_file\" {\n")
	g.write("driftd.yaml", strings.Replace(readString(t, filepath.Join(g.work, "driftd.yaml")), "      - dir: stacks/files\n", "      - dir: stacks/files\n      - dir: stacks/broken\n", 1))
	g.commit()
	p := startServe(t, serveConfig(t, g, ""))
	if !eventually(30*time.Second, func() bool { code, _ := p.get("/readyz"); return code == 200 }) {
		t.Fatal("no check finished")
	}

	dom := string(chromium(t, "--dump-dom", "http://"+p.addr+"/"))
	for _, want := range []string{
		`id="overall">unknown</span>`,
		`data-target="stacks/files" data-status="drifted"`,
		`data-target="stacks/broken" data-status="unknown"`,
		`stacks/files: local_file.motd`,
		`has been deleted outside of Terraform`,
		`main.tf line 1`,
		`1 finding(s): 1 target(s) drifted, 1 could not be checked, 0 in sync.`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	shot := filepath.Join(t.TempDir(), "status.png")
	if out := os.Getenv("DRIFTD_SCREENSHOT"); out != "" {
		shot = out
	}
	chromium(t, "--screenshot="+shot, "--hide-scrollbars", "http://"+p.addr+"/")
	b, err := os.ReadFile(shot)
	if err != nil || len(b) < 10_000 || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("screenshot %s: %d bytes, err %v", shot, len(b), err)
	}
}
