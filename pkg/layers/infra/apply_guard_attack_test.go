package infra

// Guards from the apply attack review: attacks that failed (these pass).

import (
	"testing"
)

// TestAttackInfraJudgeRefusesGitChangeHiddenAsDrift: a resource that drifted
// AND whose Git config changed (a pending change riding on drift) is not
// applied (guard: passes today).
func TestAttackInfraJudgeRefusesGitChangeHiddenAsDrift(t *testing.T) {
	p := plan(t, `{"format_version": "1.2",
  "resource_drift": [{"address": "local_file.a", "change": {"actions": ["update"],
    "before": {"content": "x", "file_permission": "0644"}, "after": {"content": "x", "file_permission": "0600"}}}],
  "resource_changes": [{"address": "local_file.a", "change": {"actions": ["update"],
    "before": {"content": "x", "file_permission": "0600"}, "after": {"content": "x", "file_permission": "0640"}}}]}`)
	v := judge(p, drifted("local_file.a"), true, nil)
	if v.refuse == "" {
		t.Errorf("judge accepts a plan that writes 0640 where Terraform recorded 0644: %+v", v)
	}
	// And a plan that changes an output or a resource not asked.
	p = plan(t, `{"format_version": "1.2",
  "resource_drift": [{"address": "local_file.a", "change": {"actions": ["update"],
    "before": {"content": "x"}, "after": {"content": "y"}}}],
  "resource_changes": [{"address": "local_file.a", "change": {"actions": ["update"], "before": {"content": "y"}, "after": {"content": "x"}}},
    {"address": "local_file.b", "change": {"actions": ["create"], "before": null, "after": {"content": "z"}}}],
  "output_changes": {"o": {"actions": ["update"], "before": "1", "after": "2"}}}`)
	if v := judge(p, drifted("local_file.a"), true, nil); v.refuse == "" {
		t.Errorf("judge accepts a plan that also creates local_file.b and changes an output: %+v", v)
	}
}
