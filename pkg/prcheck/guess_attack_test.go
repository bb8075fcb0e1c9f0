package prcheck

import (
	"fmt"
	"strings"
	"testing"

	"github.com/driftd/driftd/pkg/drift"
)

// TestAttackGuessSecretValue: the base keeps a Secret SOPS-encrypted, and
// the runner's key decrypts it for the base's check; the pull request's
// tree gets no key. The pull request replaces the encrypted Secret with a
// plaintext one holding a guess of the password (or a chart renders it
// from a value the pull request sets). Its tree compares that guess with
// the live Secret: no finding when the guess is right, a finding when it
// is wrong. The diffs hold only hashes, but the outcome alone answers
// "is the password X?", once per Secret and run: the report must not
// depend on the live value where the pull request chose the Secret's
// values. A Secret compared by key names only (still encrypted in the pull
// request) tells nothing of its values and keeps its findings.
func TestAttackGuessSecretValue(t *testing.T) {
	const secret, sealed = "core/Secret/shop/db", "core/Secret/shop/api"
	managed := []string{secret, sealed, "core/ConfigMap/shop/conf"}
	keysOnly := map[string]any{"sops_keys_only": map[string]any{"objects": []string{sealed}}}
	for _, baseDrifted := range []bool{false, true} {
		base := drift.TargetResult{Name: "shop", Managed: managed}
		if baseDrifted {
			base.Findings = []drift.Finding{fnd(secret, drift.ChangeChanged, "-  password: (redacted, hmac aaaa)\n+  password: (redacted, hmac bbbb)\n")}
		}
		var outcomes []string
		for _, guessRight := range []bool{false, true} {
			head := drift.TargetResult{Name: "shop", Managed: managed, Details: keysOnly}
			if !guessRight {
				head.Findings = append(head.Findings, fnd(secret, drift.ChangeChanged, "-  password: (redacted, hmac cccc)\n+  password: (redacted, hmac dddd)\n"))
			}
			// The key-names-only Secret differs live either way.
			head.Findings = append(head.Findings, fnd(sealed, drift.ChangeChanged, "-  other: (redacted)\n"))
			got := Classify(report(drift.LayerApp, base), report(drift.LayerApp, head))
			outcomes = append(outcomes, fmt.Sprint(classes(got)))
			found := false
			for _, f := range got.Layers[0].Targets[0].Findings {
				found = found || f.Object == sealed
			}
			if !found {
				t.Errorf("the finding on %s, compared by key names only, is gone", sealed)
			}
		}
		if outcomes[0] != outcomes[1] {
			t.Errorf("base drifted %v: the report tells a right guess from a wrong one:\n  wrong: %s\n  right: %s", baseDrifted, outcomes[0], outcomes[1])
		}
	}
}

// TestAttackHiddenObjectInTheClear: the base keeps a ConfigMap
// SOPS-encrypted (its DSN holds a password), and its findings show hashes
// of its values (details.values_hidden). The pull request puts the
// ConfigMap in the clear with values of its own: its tree compared them
// with the live ones and its diff showed the live DSN, which the base
// declares, so nothing redacted it. The base's findings must stand for an
// object either tree hides.
func TestAttackHiddenObjectInTheClear(t *testing.T) {
	const conf = "core/ConfigMap/shop/conf"
	hidden := map[string]any{"values_hidden": map[string]any{"objects": []string{conf}}}
	base := drift.TargetResult{Name: "shop", Managed: []string{conf}, Details: hidden,
		Findings: []drift.Finding{fnd(conf, drift.ChangeChanged, "-  dsn: (redacted, hmac aaaa)\n+  dsn: (redacted, hmac bbbb)\n")}}
	head := drift.TargetResult{Name: "shop", Managed: []string{conf},
		Findings: []drift.Finding{fnd(conf, drift.ChangeChanged, "-  dsn: postgres://app:guess@db\n+  dsn: postgres://app:live-secret@db\n")}}
	got := Classify(report(drift.LayerApp, base), report(drift.LayerApp, head))
	fs := got.Layers[0].Targets[0].Findings
	if len(fs) != 1 || fs[0].Diff != base.Findings[0].Diff {
		t.Errorf("findings %+v, want the base's alone", fs)
	}
}

// TestAttackHiddenObjectUnmanaged: where the base reports unmanaged
// objects, the pull request removes the ConfigMap the base keeps
// encrypted from Git: its tree reported the live ConfigMap as unmanaged,
// with all its values, and the base declares it, so nothing redacted them.
func TestAttackHiddenObjectUnmanaged(t *testing.T) {
	const conf = "core/ConfigMap/shop/conf"
	hidden := map[string]any{"values_hidden": map[string]any{"objects": []string{conf}}}
	base := drift.TargetResult{Name: "shop", Managed: []string{conf}, Details: hidden}
	head := drift.TargetResult{Name: "shop",
		Findings: []drift.Finding{fnd(conf, drift.ChangeUnmanaged, "+  dsn: postgres://app:live-secret@db\n")}}
	got := Classify(report(drift.LayerApp, base), report(drift.LayerApp, head))
	for _, f := range got.Layers[0].Targets[0].Findings {
		if strings.Contains(f.Diff, "live-secret") {
			t.Errorf("the live values of an object the base hides: %+v", f)
		}
	}
}
