package yamlconf

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TypeError reports a bad value at n's line in the form the YAML decoder
// uses, so that it is collected with the decoder's own errors.
func TypeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))}}
}

// Duration is a time.Duration written as a Go duration string ("90s", "5m").
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return TypeError(n, "invalid duration: expected a string such as \"5m\"")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return TypeError(n, "invalid duration %q: use a number with a unit, such as \"30s\" or \"5m\"", n.Value)
	}
	if v < 0 {
		return TypeError(n, "invalid duration %q: must not be negative", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Or returns d, or def when d is zero.
func (d Duration) Or(def time.Duration) Duration {
	if d == 0 {
		return Duration(def)
	}
	return d
}

// ByteSize is a size in bytes, written as a Kubernetes quantity ("1Mi",
// "512Ki", "16Mi") or a plain number of bytes.
type ByteSize int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return TypeError(n, "invalid size: expected a quantity such as \"1Mi\"")
	}
	q, err := resource.ParseQuantity(n.Value)
	if err != nil || q.Sign() <= 0 {
		return TypeError(n, "invalid size %q: use a positive quantity such as \"1Mi\" or \"512Ki\"", n.Value)
	}
	*b = ByteSize(q.Value())
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (b ByteSize) MarshalYAML() (any, error) {
	return resource.NewQuantity(int64(b), resource.BinarySI).String(), nil
}

// Or returns b, or def when b is zero.
func (b ByteSize) Or(def int64) ByteSize {
	if b == 0 {
		return ByteSize(def)
	}
	return b
}

// Date is a calendar day written as YYYY-MM-DD; the zero Date is unset.
type Date struct{ time.Time }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse(time.DateOnly, n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return TypeError(n, "invalid date %q: use YYYY-MM-DD", n.Value)
	}
	d.Time = t
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Date) MarshalYAML() (any, error) {
	if d.IsZero() {
		return "", nil
	}
	return d.Format(time.DateOnly), nil
}

// Switch is an optional boolean: absent means the default.
type Switch struct {
	set, on bool
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Switch) UnmarshalYAML(n *yaml.Node) error {
	var b bool
	if err := n.Decode(&b); err != nil {
		return TypeError(n, "expected true or false, got %q", n.Value)
	}
	*s = Switch{set: true, on: b}
	return nil
}

// Value returns the switch's value, or def when it was not set.
func (s Switch) Value(def bool) bool {
	if s.set {
		return s.on
	}
	return def
}
