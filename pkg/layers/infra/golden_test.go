package infra

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	tfjson "github.com/hashicorp/terraform-json"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestFindingsGolden turns plans recorded from real terraform runs
// (testdata/plans/<case>/plan.json, see TestRecordPlans) into findings and
// compares them with want.json (rewritten by -update).
func TestFindingsGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/plans/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no recorded plans: %v", err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, "plan.json"))
			if err != nil {
				t.Fatal(err)
			}
			var p tfjson.Plan
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(Findings(&p, nil), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"old-token", "new-token"} {
				if strings.Contains(string(got), secret) {
					t.Errorf("findings show the sensitive value %q", secret)
				}
			}
			wantFile := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(wantFile, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if d := cmp.Diff(strings.TrimSpace(string(want)), string(got)); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
		})
	}
}
