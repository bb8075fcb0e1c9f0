package report

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftd/driftd/pkg/drift"
)

// The metric names are fixed: alert rules and dashboards rely on them.
var (
	descDriftObjects = prometheus.NewDesc("driftd_drift_objects",
		"Drifted objects found by the last successful check of a target.", []string{"layer", "target"}, nil)
	descCheckSuccess = prometheus.NewDesc("driftd_check_success",
		"Whether the last check of a target succeeded (1) or could not check it (0).", []string{"layer", "target"}, nil)
	descLastCheck = prometheus.NewDesc("driftd_last_check_timestamp_seconds",
		"When a target was last checked successfully, as a Unix timestamp.", []string{"layer", "target"}, nil)
	descDriftSince = prometheus.NewDesc("driftd_drift_since_timestamp_seconds",
		"When the target's current drift was first seen, as a Unix timestamp; 0 when in sync.", []string{"layer", "target"}, nil)
	descRepoSync = prometheus.NewDesc("driftd_repo_sync_success",
		"Whether the last sync of the config repository succeeded.", nil, nil)
	descRevision = prometheus.NewDesc("driftd_repo_revision_info",
		"The revision of the config repository that was last checked.", []string{"revision"}, nil)
	descIgnoredObjects = prometheus.NewDesc("driftd_ignored_objects",
		"Findings of the last successful check of a target that ignore rules silenced.", []string{"layer", "target"}, nil)
	descObject = prometheus.NewDesc("driftd_drift_object_info",
		"One series per drifted object (only with serve.per_object_metrics).", []string{"layer", "target", "object", "change"}, nil)
)

// layerTarget is the placeholder target of a layer that could not even
// list its targets, so that a failing layer is visible from the first check.
const layerTarget = "*"

// Metrics exports the state of the latest checks as Prometheus metrics. It
// keeps the last good state of every target: a target that could not be
// checked keeps its last drift count and drift start, and reports
// driftd_check_success 0, so that a failing check neither hides nor
// resolves drift.
type Metrics struct {
	perObject bool
	duration  *prometheus.HistogramVec
	skipped   prometheus.Counter

	mu       sync.Mutex
	targets  map[key]*targetState
	synced   bool
	revision string
	seen     bool
}

type key struct {
	layer  drift.LayerName
	target string
}

type targetState struct {
	success    bool
	lastOK     time.Time
	findings   int
	ignored    int
	driftSince time.Time
	// objects are the drifted objects' label values: object, change.
	objects [][2]string
}

// mergeTargets returns targets keyed by their label value: two targets
// whose names differ only in bytes that are not UTF-8 share one series, so
// they are merged, rather than collected twice, which would fail every
// scrape. The merged target is unknown if either is, and counts the
// findings of both.
func mergeTargets(targets []drift.TargetResult) []drift.TargetResult {
	out := make([]drift.TargetResult, 0, len(targets))
	at := map[string]int{}
	for _, t := range targets {
		t.Name = label(t.Name)
		i, dup := at[t.Name]
		if !dup {
			at[t.Name] = len(out)
			out = append(out, t)
			continue
		}
		m := &out[i]
		if t.Status == drift.StatusUnknown {
			m.Status = drift.StatusUnknown
		}
		m.Findings = append(m.Findings[:len(m.Findings):len(m.Findings)], t.Findings...)
		m.Ignored = append(m.Ignored[:len(m.Ignored):len(m.Ignored)], t.Ignored...)
	}
	return out
}

// NewMetrics registers driftd's metrics with reg.
func NewMetrics(reg prometheus.Registerer, perObject bool) *Metrics {
	m := &Metrics{
		perObject: perObject,
		targets:   map[key]*targetState{},
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "driftd_check_duration_seconds",
			Help:    "How long a layer's check took.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"layer"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftd_checks_skipped_total",
			Help: "Checks not started because the previous one was still running.",
		}),
	}
	reg.MustRegister(m, m.duration, m.skipped)
	return m
}

// SkippedCounter returns driftd_checks_skipped_total, for tests.
func (m *Metrics) SkippedCounter() prometheus.Counter { return m.skipped }

// Skipped counts a check that was not started because one was running.
func (m *Metrics) Skipped() { m.skipped.Inc() }

// SetRepoSynced records a repository sync outside a check, such as a poll.
func (m *Metrics) SetRepoSynced(ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.synced, m.seen = ok, true
}

// Observe records a finished check. at is when it finished.
func (m *Metrics) Observe(r drift.Report, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = true
	m.synced = r.Source.Synced
	if r.Revision != "" {
		m.revision = r.Revision
	}
	present := map[key]bool{}
	for _, l := range r.Layers {
		m.duration.WithLabelValues(string(l.Layer)).Observe(l.Duration.Seconds())
		if l.Error != "" && len(l.Targets) == 0 {
			// The layer could not enumerate its targets: every target it
			// had keeps its last good state but is marked failed.
			for k, st := range m.targets {
				if k.layer == l.Layer {
					st.success = false
					present[k] = true
				}
			}
			k := key{l.Layer, layerTarget}
			m.state(k).success = false
			present[k] = true
			continue
		}
		for _, t := range mergeTargets(l.Targets) {
			k := key{l.Layer, t.Name}
			present[k] = true
			st := m.state(k)
			if t.Status == drift.StatusUnknown {
				st.success = false
				continue
			}
			st.success, st.lastOK, st.findings, st.ignored = true, at, len(t.Findings), len(t.Ignored)
			switch {
			case len(t.Findings) == 0:
				st.driftSince = time.Time{}
			case st.driftSince.IsZero():
				st.driftSince = at
			}
			if m.perObject {
				st.objects = st.objects[:0]
				seen := map[[2]string]bool{}
				for _, f := range t.Findings {
					o := [2]string{label(f.Object), label(string(f.Change))}
					if !seen[o] {
						seen[o] = true
						st.objects = append(st.objects, o)
					}
				}
			}
		}
	}
	// Targets no longer configured disappear. When the source could not be
	// synced at all, there are no layers and everything is kept.
	if len(r.Layers) > 0 {
		for k := range m.targets {
			if !present[k] {
				delete(m.targets, k)
			}
		}
	}
}

func (m *Metrics) state(k key) *targetState {
	st, ok := m.targets[k]
	if !ok {
		st = &targetState{}
		m.targets[k] = st
	}
	return st
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDriftObjects, descIgnoredObjects, descCheckSuccess, descLastCheck, descDriftSince, descRepoSync, descRevision, descObject} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.seen {
		return
	}
	ch <- prometheus.MustNewConstMetric(descRepoSync, prometheus.GaugeValue, boolValue(m.synced))
	if m.revision != "" {
		ch <- prometheus.MustNewConstMetric(descRevision, prometheus.GaugeValue, 1, label(m.revision))
	}
	for k, st := range m.targets {
		l, t := string(k.layer), k.target
		ch <- prometheus.MustNewConstMetric(descCheckSuccess, prometheus.GaugeValue, boolValue(st.success), l, t)
		if t == layerTarget {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descDriftObjects, prometheus.GaugeValue, float64(st.findings), l, t)
		ch <- prometheus.MustNewConstMetric(descIgnoredObjects, prometheus.GaugeValue, float64(st.ignored), l, t)
		ch <- prometheus.MustNewConstMetric(descLastCheck, prometheus.GaugeValue, unix(st.lastOK), l, t)
		ch <- prometheus.MustNewConstMetric(descDriftSince, prometheus.GaugeValue, unix(st.driftSince), l, t)
		for _, o := range st.objects {
			ch <- prometheus.MustNewConstMetric(descObject, prometheus.GaugeValue, 1, l, t, o[0], o[1])
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// label makes a value valid as a label: a name that is not valid UTF-8
// would make the collector fail, and every scrape with it. Every label
// value that comes from a report goes through it, and state is kept under
// the result, so that two names it maps to one value are one series.
func label(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
