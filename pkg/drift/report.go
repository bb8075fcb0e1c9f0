package drift

import (
	"cmp"
	"slices"
	"time"
)

// SourceStatus describes where the checked revision came from.
type SourceStatus struct {
	// URL is the remote, or the local path for a local checkout.
	URL string `json:"url"`
	// Branch is the tracked branch, empty for a local checkout.
	Branch string `json:"branch,omitempty"`
	// Synced is false when the last fetch failed and the report was made
	// against the last good revision.
	Synced bool `json:"synced"`
	// Error is the reason the last fetch failed.
	Error string `json:"error,omitempty"`
}

// Report is the outcome of one check over every enabled layer.
type Report struct {
	// Revision is the commit that was checked.
	Revision string `json:"revision"`
	// Source tells whether Revision is the remote's current head.
	Source SourceStatus `json:"source"`
	// Status is the worst status over all layers, and unknown when the source
	// could not be synced: a report made against a stale revision cannot
	// vouch for the current one.
	Status Status `json:"status"`
	// Base is set in a check against a base revision (--base).
	Base *Base `json:"base,omitempty"`
	// Config is set when a pull request changes the config file: the
	// change, for review. Its settings were not used.
	Config *Finding `json:"config_change,omitempty"`
	// Layers holds one result per enabled layer, in a fixed order.
	Layers []LayerResult `json:"layers"`
	// Notices are things the reader must know that are not drift, such as
	// an ignore rule that has expired.
	Notices []string `json:"notices,omitempty"`
	// StartedAt is when the check began.
	StartedAt time.Time `json:"started_at"`
	// DurationSeconds is the wall time of the whole check.
	DurationSeconds float64 `json:"duration_seconds"`
}

// Base is the base revision of a pull-request check.
type Base struct {
	// Ref is the revision as given to --base.
	Ref string `json:"ref"`
	// Revision is the commit it resolved to.
	Revision string `json:"revision"`
}

// Summary counts targets by status and findings in total.
type Summary struct {
	InSync, Drifted, Unknown, Findings int
	// Ignored counts the findings that ignore rules silenced.
	Ignored int
}

// Summarize counts the report's targets by status.
func (r *Report) Summarize() Summary {
	var s Summary
	for _, l := range r.Layers {
		if l.Error != "" && len(l.Targets) == 0 {
			s.Unknown++
		}
		for _, t := range l.Targets {
			switch t.Status {
			case StatusInSync:
				s.InSync++
			case StatusDrifted:
				s.Drifted++
			default:
				s.Unknown++
			}
			s.Findings += len(t.Findings)
			s.Ignored += len(t.Ignored)
		}
	}
	return s
}

// Normalize computes every status from the results below it and sorts
// layers, targets and findings, so that the same facts always give the same
// report.
func (r *Report) Normalize() {
	r.Status = StatusInSync
	if !r.Source.Synced {
		r.Status = StatusUnknown
	}
	for i := range r.Layers {
		r.Layers[i].Normalize()
		r.Status = r.Status.Worse(r.Layers[i].Status)
	}
	slices.SortStableFunc(r.Layers, func(a, b LayerResult) int {
		return cmp.Compare(layerOrder(a.Layer), layerOrder(b.Layer))
	})
}

func layerOrder(l LayerName) int {
	if i := slices.Index(Layers(), l); i >= 0 {
		return i
	}
	return len(Layers())
}

// Normalize computes the layer's status and sorts its targets.
func (l *LayerResult) Normalize() {
	l.DurationSeconds = l.Duration.Seconds()
	l.Status = StatusInSync
	if l.Error != "" {
		l.Status = StatusUnknown
	}
	for i := range l.Targets {
		l.Targets[i].Normalize()
		l.Status = l.Status.Worse(l.Targets[i].Status)
	}
	slices.SortFunc(l.Targets, func(a, b TargetResult) int { return cmp.Compare(a.Name, b.Name) })
}

// Normalize computes the target's status and sorts its findings.
func (t *TargetResult) Normalize() {
	t.DurationSeconds = t.Duration.Seconds()
	if t.Findings == nil {
		t.Findings = []Finding{}
	}
	switch {
	case t.Error != "":
		t.Status = StatusUnknown
	case len(t.Findings) > 0:
		t.Status = StatusDrifted
	default:
		t.Status = StatusInSync
	}
	byObject := func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Object, b.Object), cmp.Compare(a.Change, b.Change))
	}
	slices.SortFunc(t.Findings, byObject)
	slices.SortFunc(t.Ignored, byObject)
}
