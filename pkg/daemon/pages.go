package daemon

import (
	"bytes"
	"fmt"
	"github.com/driftd/driftd/pkg/apply"
	"sync"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/report"
)

// pages renders the latest report once for the endpoints that show it,
// rather than once per request: however many clients read the status page
// or /api/v1/report at once, they share one rendering, and a request costs
// no memory that grows with the report.
type pages struct {
	mu sync.Mutex

	jsonFor *drift.Report
	jsonB   []byte

	htmlFor     *drift.Report
	htmlLeading bool
	htmlB       []byte

	// renders counts renderings, for tests.
	renders int
}

// json returns rep as `driftd check -o json` prints it.
func (p *pages) json(rep *drift.Report) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jsonB != nil && p.jsonFor == rep {
		return p.jsonB, nil
	}
	var b bytes.Buffer
	if err := report.WriteJSON(&b, *rep); err != nil {
		return nil, fmt.Errorf("render report as JSON: %w", err)
	}
	p.renders++
	p.jsonFor, p.jsonB = rep, b.Bytes()
	return p.jsonB, nil
}

// html returns the status page for rep (nil before the first check).
func (p *pages) html(rep *drift.Report, leading bool, version string, applied *apply.Result) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// An apply run ends before the check whose report follows it is
	// stored, so the report's pointer also marks a new apply result.
	if p.htmlB != nil && p.htmlFor == rep && p.htmlLeading == leading {
		return p.htmlB, nil
	}
	data := statusData{Report: rep, Leading: leading, Version: version, Apply: applied}
	if rep != nil {
		data.Summary = rep.Summarize()
	}
	var b bytes.Buffer
	if err := statusTmpl.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("render status page: %w", err)
	}
	p.renders++
	p.htmlFor, p.htmlLeading, p.htmlB = rep, leading, b.Bytes()
	return p.htmlB, nil
}
