package drift

import "testing"

// Each --fail-on policy fails on exactly the classes its documentation
// names; resolved never fails (after merging, Git matches reality).
func TestFailOn(t *testing.T) {
	classes := []Class{"", ClassCollision, ClassIntroduced, ClassAlreadyDrifted, ClassResolved}
	want := map[FailOn][]bool{
		FailOnAny:        {true, true, true, true, false},
		FailOnIntroduced: {false, true, true, false, false},
		FailOnCollision:  {false, true, false, false, false},
		FailOnDrift:      {true, true, false, true, false},
		FailOnNone:       {false, false, false, false, false},
	}
	for f, fails := range want {
		for i, c := range classes {
			if got := f.Fails(c); got != fails[i] {
				t.Errorf("--fail-on=%s, class %q: fails=%v, want %v", f, c, got, fails[i])
			}
		}
	}
	if _, err := ParseFailOn("collision", false); err == nil {
		t.Error("--fail-on=collision without --base was accepted")
	}
	if _, err := ParseFailOn("bogus", true); err == nil {
		t.Error("--fail-on=bogus was accepted")
	}
	r := Report{Status: StatusUnknown}
	if r.ExitCode(FailOnNone) != 1 {
		t.Error("a check that could not check everything must exit 1 even with --fail-on=none")
	}
	r = Report{Status: StatusDrifted, Layers: []LayerResult{{Targets: []TargetResult{{Findings: []Finding{{Class: ClassResolved}}}}}}}
	if r.ExitCode(FailOnAny) != 0 || r.ExitCode(FailOnDrift) != 0 {
		t.Error("a resolved finding alone must exit 0")
	}
}
