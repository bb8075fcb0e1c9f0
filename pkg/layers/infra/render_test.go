package infra

import (
	"bytes"
	"testing"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/report"
)

// renderAll renders a report in every output format, for leak checks.
func renderAll(t *testing.T, r drift.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteText(&b, r, report.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
