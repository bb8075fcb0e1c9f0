package node

// Guards from the apply attack review: attacks that failed (these pass).

import (
	"strings"
	"testing"
)

// TestAttackNodeApplyUnsafeRejectsShellAndNewlinePaths: paths with
// newlines, quotes and $() in them never reach the script (guard: passes
// today).
func TestAttackNodeApplyUnsafeRejectsShellAndNewlinePaths(t *testing.T) {
	l := &Layer{cfg: Config{Scopes: []string{"/etc/"}}}
	for _, p := range []string{"/etc/a\nb", "/etc/a\x1b[2Jb", "/etc/../root/x", "/etc/./x", "etc/x", "/etc/a/"} {
		if msg := l.unsafe(fileRecord{path: p, want: &File{Owner: "root", Group: "root", Mode: 0o644}}); msg == "" {
			t.Errorf("unsafe(%q) accepts it", p)
		}
	}
	for _, o := range []string{"root;id", "$(id)", "a b", "-rf"} {
		if msg := l.unsafe(fileRecord{path: "/etc/x", want: &File{Owner: o, Group: "root", Mode: 0o644}}); msg == "" {
			t.Errorf("owner %q accepted", o)
		}
	}
	// And a quoted path round-trips through the script's shellQuote.
	if s := fileScript(fileOp{path: "/etc/it's $(id)`x`", live: liveAbsent, dryRun: true}, ""); !strings.Contains(s, `'/etc/it'\''s $(id)`+"`x`'") {
		t.Errorf("path not single-quoted in the script: %s", s)
	}
}
