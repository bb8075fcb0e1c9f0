package apply

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftd/driftd/pkg/drift"
)

// Metrics are apply mode's series:
//
//	driftd_apply_total{layer,target,result}   actions by result
//	driftd_apply_blocked_total{layer,reason}  actions a rail or a rule stopped
//	driftd_apply_flapping{layer,target,object,changed_by}
//	                                          1 while the flap breaker holds an object
//
// The last one has a series only per flapping object, and names who keeps
// changing it, for the alert.
type Metrics struct {
	total    *prometheus.CounterVec
	blocked  *prometheus.CounterVec
	flapping *prometheus.GaugeVec

	mu   sync.Mutex
	last Result
}

// NewMetrics registers apply mode's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftd_apply_total", Help: "Apply actions, by layer, target and result (applied, skipped, blocked, failed).",
		}, []string{"layer", "target", "result"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftd_apply_blocked_total", Help: "Apply actions that a rail or a rule stopped, by reason.",
		}, []string{"layer", "reason"}),
		flapping: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftd_apply_flapping", Help: "1 for each object the flap breaker stopped applying in the last run; changed_by names who keeps changing it.",
		}, []string{"layer", "target", "object", "changed_by"}),
	}
	reg.MustRegister(m.total, m.blocked, m.flapping)
	return m
}

// Observe records one apply run.
func (m *Metrics) Observe(r Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last = r
	m.flapping.Reset()
	for _, a := range r.Actions {
		m.total.WithLabelValues(string(a.Layer), label(a.Target), a.Result).Inc()
		if a.Result != drift.ResultBlocked && a.Result != drift.ResultSkipped {
			continue
		}
		reason, _, _ := strings.Cut(a.Reason, ":")
		m.blocked.WithLabelValues(string(a.Layer), reason).Inc()
		if reason == ReasonFlapping {
			m.flapping.WithLabelValues(string(a.Layer), label(a.Target), label(a.Object), label(whoFlaps(a.Reason))).Set(1)
		}
	}
}

// Last returns the last run observed, for the status page and the API.
func (m *Metrics) Last() Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// whoFlaps reads the writers from a flapping reason ("... changed by X, Y
// (a controller ...").
func whoFlaps(reason string) string {
	_, rest, ok := strings.Cut(reason, "keeps being changed by ")
	if !ok {
		return ""
	}
	who, _, _ := strings.Cut(rest, " (a controller")
	return who
}

func label(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
