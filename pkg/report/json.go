package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/driftd/driftd/pkg/drift"
)

// WriteJSON writes r in driftd's stable JSON shape:
//
//	{"revision": "...", "status": "in_sync|drifted|unknown",
//	 "source": {"url": "...", "branch": "...", "synced": true, "error": "..."},
//	 "base": {"ref": "...", "revision": "..."},
//	 "config_change": {"object": "driftd.yaml", "change": "...", "diff": "...", "class": "introduced"},
//	 "layers": [{"layer": "infra|node|app", "status": "...", "error": "...",
//	   "targets": [{"name": "...", "status": "...", "error": "...",
//	     "findings": [{"object": "...", "change": "...", "diff": "...", "details": {...},
//	       "class": "collision|introduced|already_drifted|resolved"}]}]}]}
//
// base, config_change and class are there only in a check against a base
// revision (driftd check --base).
//
// Fields are only ever added to this shape, never renamed or removed.
func WriteJSON(w io.Writer, r drift.Report) error {
	if r.Layers == nil {
		r.Layers = []drift.LayerResult{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}
