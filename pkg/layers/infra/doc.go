// Package infra is driftd's Terraform layer. For each stack it runs init,
// plan -out and show -json through terraform-exec, and reads the plan JSON:
// resource_drift is reality changed outside Terraform (change kind
// "drifted"), and resource_changes that do not merely undo that drift are
// Git changes never applied ("pending"). The exit code of
// plan -detailed-exitcode is never relied on; it has known upstream bugs.
package infra
