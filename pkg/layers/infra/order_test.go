package infra

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The slowest stacks of the last check start first, and stacks never
// checked before them all; equals keep the config's order.
func TestSlowestFirst(t *testing.T) {
	l := New(Config{Stacks: []Stack{{Name: "quick"}, {Name: "slow"}, {Name: "new"}, {Name: "mid"}, {Name: "quick2"}}}, t.TempDir(), slog.New(slog.DiscardHandler))
	var got []string
	for _, s := range l.slowestFirst() {
		got = append(got, s.Name)
	}
	if want := []string{"quick", "slow", "new", "mid", "quick2"}; !cmp.Equal(want, got) {
		t.Errorf("first check: %v, want the config's order %v", got, want)
	}
	l.took = map[string]time.Duration{"quick": time.Second, "slow": time.Minute, "mid": 10 * time.Second, "quick2": time.Second}
	got = nil
	for _, s := range l.slowestFirst() {
		got = append(got, s.Name)
	}
	if want := []string{"new", "slow", "mid", "quick", "quick2"}; !cmp.Equal(want, got) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// init runs again when the settings it reads from the environment change
// (backend settings in TF_CLI_ARGS_init, the CLI config), not when a
// credential does.
func TestInitFingerprintEnv(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.tf": "terraform {}\n"})
	fp := func(env map[string]string) string {
		s, err := initFingerprint(dir, "terraform", Stack{Name: "s"}, env)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := fp(map[string]string{"TF_CLI_ARGS_init": "-backend-config=conn_str=a"})
	if fp(map[string]string{"TF_CLI_ARGS_init": "-backend-config=conn_str=b"}) == base {
		t.Error("a changed TF_CLI_ARGS_init does not change the fingerprint")
	}
	if fp(map[string]string{"TF_CLI_ARGS_init": "-backend-config=conn_str=a", "TF_CLI_CONFIG_FILE": "/x"}) == base {
		t.Error("a changed TF_CLI_CONFIG_FILE does not change the fingerprint")
	}
	if fp(map[string]string{"TF_CLI_ARGS_init": "-backend-config=conn_str=a", "AWS_SECRET_ACCESS_KEY": "k"}) != base {
		t.Error("a credential changes the fingerprint")
	}
}
