package drift

// Status is the state of a target, a layer or a whole report.
type Status string

// The statuses, from best to worst.
const (
	StatusInSync  Status = "in_sync"
	StatusDrifted Status = "drifted"
	StatusUnknown Status = "unknown"
)

// rank orders statuses so that the worst wins: unknown beats drifted, because
// a target that could not be checked may hide drift.
func (s Status) rank() int {
	switch s {
	case StatusInSync:
		return 0
	case StatusDrifted:
		return 1
	default:
		return 2
	}
}

// Worse returns the worse of s and o.
func (s Status) Worse(o Status) Status {
	if o.rank() > s.rank() {
		return o
	}
	return s
}

// ExitCode maps a status to the exit code of `driftd check`: 0 in sync,
// 2 drift found, 1 something could not be checked.
func (s Status) ExitCode() int {
	switch s {
	case StatusInSync:
		return 0
	case StatusDrifted:
		return 2
	default:
		return 1
	}
}
