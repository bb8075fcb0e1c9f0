// Package report renders drift reports for people and machines: text with
// unified diffs, and the stable JSON shape that `driftd check -o json` and
// `/api/v1/report` share.
package report
