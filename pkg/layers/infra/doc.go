// Package infra is driftd's Terraform layer. For each stack it runs init,
// plan -out and show -json through terraform-exec, and reads the plan JSON:
// resource_drift is reality changed outside Terraform (change kind
// "drifted"), and resource_changes that do not merely undo that drift are
// Git changes never applied ("pending"). The exit code of
// plan -detailed-exitcode is never relied on; it has known upstream bugs.
//
// In apply mode the layer applies the plan file its check saved (kept,
// readable by driftd only, while the stack has drift), never a fresh plan,
// and only when that plan does nothing but restore the drift it was asked
// to restore; a plan that replaces or re-creates anything needs the
// stack's allow_replace. Apply takes the state lock, and a plan made from
// a state that has changed since is refused as stale.
package infra
