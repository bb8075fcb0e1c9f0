package config

import (
	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/driftd/driftd/pkg/yamlconf"
)

// The value types of driftd.yaml, shared with the layers' sections.
type (
	// Duration is a time.Duration written as a Go duration string.
	Duration = yamlconf.Duration
	// ByteSize is a size written as a Kubernetes quantity ("1Mi").
	ByteSize = yamlconf.ByteSize
	// Date is a calendar day written as YYYY-MM-DD.
	Date = yamlconf.Date
	// Switch is an optional boolean: absent means the default.
	Switch = yamlconf.Switch
)

// typeError reports a bad value at n's line in the decoder's form.
func typeError(n *yaml.Node, format string, args ...any) error {
	return yamlconf.TypeError(n, format, args...)
}

// Schedule is a cron expression in the standard five-field form, or a
// descriptor such as "@every 5m" or "@hourly".
type Schedule struct {
	// Expr is the expression as written.
	Expr string
	// Cron is the parsed schedule.
	Cron cron.Schedule
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Schedule) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "invalid schedule: expected a cron expression such as \"*/5 * * * *\"")
	}
	c, err := cron.ParseStandard(n.Value)
	if err != nil {
		return typeError(n, "invalid schedule %q: %v", n.Value, err)
	}
	*s = Schedule{Expr: n.Value, Cron: c}
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (s Schedule) MarshalYAML() (any, error) { return s.Expr, nil }
