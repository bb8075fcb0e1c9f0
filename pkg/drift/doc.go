// Package drift holds driftd's result model: findings, per-target and
// per-layer results, the report, and the Layer interface that every layer
// implements. It does no I/O, so layers, renderers and the daemon can share it
// without depending on each other.
package drift
