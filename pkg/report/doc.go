// Package report renders drift reports for people and machines: text with
// unified diffs, and the stable JSON shape that `driftd check -o json` and
// `/api/v1/report` share, JUnit XML, GitHub-flavoured Markdown and SARIF.
// A report of a check against a base revision (a pull request's) shows
// each finding's class in every format. ParseOutputs and WriteOutputs write
// several formats from one run.
package report
