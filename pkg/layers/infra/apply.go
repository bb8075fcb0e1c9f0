package infra

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/ignore"
)

// planFileName is the plan a check saves in the stack's data dir.
const planFileName = "driftd.tfplan"

// defaultApplyLockTimeout is Config.ApplyLockTimeout when it is not set.
const defaultApplyLockTimeout = time.Minute

// savedPlan is what a check of one stack keeps for apply mode, in
// drift.TargetResult.Private: the plan file it saved, the plan that file
// holds, and where terraform ran. Apply applies that file and nothing else.
type savedPlan struct {
	stack Stack
	// dir is the staged stack directory terraform ran in, dataDir its
	// TF_DATA_DIR.
	dir, dataDir string
	// file is the saved plan and sum its SHA-256, hex.
	file, sum string
	// plan is the file's content as terraform show -json gave it.
	plan *tfjson.Plan
	// lifecycle holds the configuration's ignore_changes, per resource.
	lifecycle map[string]ignoreChanges
	// changes lists the resources the plan changes, with their actions.
	changes []plannedChange
	// serial and lineage name the state the plan was made from (lineage is
	// empty when the plan file did not say).
	serial  uint64
	lineage string
}

// plannedChange is one resource a saved plan changes.
type plannedChange struct {
	address string
	actions []string
}

// seal makes the saved plan fit for apply: readable by its owner only, its
// hash and changes recorded, and the state it was made from. A check does
// it only for a stack with drift; the others' plans are removed unread.
func (sp *savedPlan) seal() error {
	if err := os.Chmod(sp.file, 0o600); err != nil {
		return err
	}
	sum, err := fileSum(sp.file)
	if err != nil {
		return err
	}
	sp.sum = sum
	sp.changes = nil
	for _, rc := range sp.plan.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Change.Actions.NoOp() || rc.Change.Actions.Read() {
			continue
		}
		sp.changes = append(sp.changes, plannedChange{address: rc.Address, actions: actionStrings(rc.Change.Actions)})
	}
	// Best effort: terraform checks the same again when it applies.
	sp.serial, sp.lineage, _ = planState(sp.file)
	return nil
}

func fileSum(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// planState reads the serial and lineage of the state a plan file was made
// from: the "tfstate" entry of the file (a zip archive), which terraform
// compares with the current state before it applies the plan.
func planState(file string) (serial uint64, lineage string, err error) {
	z, err := zip.OpenReader(file)
	if err != nil {
		return 0, "", err
	}
	defer z.Close()
	for _, f := range z.File {
		if f.Name != "tfstate" {
			continue
		}
		r, err := f.Open()
		if err != nil {
			return 0, "", err
		}
		defer r.Close()
		return stateMeta(io.LimitReader(r, 1<<30))
	}
	return 0, "", errors.New("the plan file holds no state")
}

// stateMeta reads the serial and lineage of a state file.
func stateMeta(r io.Reader) (uint64, string, error) {
	var st struct {
		Serial  uint64 `json:"serial"`
		Lineage string `json:"lineage"`
	}
	if err := json.NewDecoder(r).Decode(&st); err != nil {
		return 0, "", err
	}
	return st.Serial, st.Lineage, nil
}

// verdict is what applying a saved plan would do, judged against the
// findings apply was asked to restore.
type verdict struct {
	// refuse says why the plan must not be applied; empty when it may.
	refuse string
	// addrs are the resources the plan changes, in plan order, and
	// replaces those it destroys or creates again.
	addrs, replaces []string
	// verbs says what the plan does to each of addrs.
	verbs map[string]string
	// covered are the findings the plan restores, uncovered those it
	// leaves alone.
	covered, uncovered []drift.Finding
}

// judge decides whether applying plan p does nothing but restore the
// drift in asked: every resource it changes must be a drifted finding that
// apply was asked to restore, and its planned change must put back exactly
// what Terraform last recorded (the same test that tells drift from a
// pending Git change in the check). Moves, imports, forgets, output
// changes and incomplete plans are changes from Git, never drift. A plan
// that destroys or creates an object again needs allowReplace. Attributes
// that a resource's lifecycle ignore_changes names are left as reality has
// them, by terraform as by the judge.
func judge(p *tfjson.Plan, asked []drift.Finding, allowReplace bool, lifecycle map[string]ignoreChanges) verdict {
	v := verdict{verbs: map[string]string{}}
	if p == nil {
		v.refuse = "the check kept no plan: check again"
		return v
	}
	var reasons []string
	refuse := func(format string, args ...any) {
		r := fmt.Sprintf(format, args...)
		if !slices.Contains(reasons, r) {
			reasons = append(reasons, r)
		}
	}
	if (p.Complete != nil && !*p.Complete) || len(p.DeferredChanges) > 0 {
		refuse("the plan is incomplete (deferred changes or -target): it is not what Git says")
	}
	want := map[string]drift.Finding{}
	for _, f := range asked {
		if f.Change != drift.ChangeDrifted {
			refuse("%s is %s, not drift: apply restores drift only", f.Object, f.Change)
			continue
		}
		want[f.Object] = f
	}
	drifts := map[string]*tfjson.Change{}
	for _, rc := range p.ResourceDrift {
		if rc != nil && rc.Change != nil {
			drifts[rc.Address] = rc.Change
		}
	}
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil {
			continue
		}
		a := rc.Change.Actions
		switch {
		case rc.PreviousAddress != "" && rc.PreviousAddress != rc.Address:
			refuse("the plan moves %s to %s: a change from Git, not drift", rc.PreviousAddress, rc.Address)
			continue
		case rc.Change.Importing != nil:
			refuse("the plan imports %s: a change from Git, not drift", rc.Address)
			continue
		case a.NoOp() || a.Read():
			continue
		case a.Forget():
			refuse("the plan removes %s from the state: a change from Git, not drift", rc.Address)
			continue
		}
		if _, ok := want[rc.Address]; !ok {
			if _, drifted := drifts[rc.Address]; drifted {
				refuse("the plan also changes %s, which apply was not asked to restore (an ignore rule or a rail holds it back)", rc.Address)
			} else {
				refuse("the plan changes %s (%s), which did not drift: a change from Git, which belongs to the deployment path", rc.Address, strings.Join(actionStrings(a), ", "))
			}
			continue
		}
		d := drifts[rc.Address]
		switch {
		case d == nil:
			refuse("the plan changes %s, and Terraform saw no drift of it", rc.Address)
			continue
		case a.Delete() || rc.Change.After == nil:
			refuse("the plan destroys %s: apply never destroys", rc.Address)
			continue
		case !onlyUndoes(rc.Change, d, lifecycle[configAddress(rc.Address)].paths):
			refuse("the plan's change to %s does more than restore its drift: it carries a change from Git", rc.Address)
			continue
		}
		v.addrs = append(v.addrs, rc.Address)
		switch {
		case a.Replace():
			v.verbs[rc.Address] = "replace"
			v.replaces = append(v.replaces, rc.Address)
		case a.Create():
			// The object was in the state and Terraform no longer finds
			// it: creating it again gives a new object in its place.
			v.verbs[rc.Address] = "re-create"
			v.replaces = append(v.replaces, rc.Address)
		default:
			v.verbs[rc.Address] = "update"
		}
	}
	for _, name := range sortedNames(p.OutputChanges) {
		if oc := p.OutputChanges[name]; oc != nil && !oc.Actions.NoOp() {
			refuse("the plan changes output.%s: a change from Git, not drift", name)
		}
	}
	if len(reasons) == 0 && len(v.addrs) == 0 {
		refuse("the plan changes nothing: Terraform would not restore this drift (ignore_changes, or attributes the provider does not set)")
	}
	if len(reasons) == 0 && len(v.replaces) > 0 && !allowReplace {
		refuse("the plan replaces %s: set allow_replace on the stack to let apply do it", strings.Join(v.replaces, ", "))
	}
	v.refuse = strings.Join(reasons, "; ")
	for _, f := range asked {
		if slices.Contains(v.addrs, f.Object) {
			v.covered = append(v.covered, f)
		} else {
			v.uncovered = append(v.uncovered, f)
		}
	}
	return v
}

// heldPath is an attribute path that an ignore rule sets aside within a
// resource: apply never writes it.
type heldPath struct {
	// pointer is the rule's path as written (/tags/owner), rule names the
	// rule (ignore[0] (its reason)).
	pointer, rule string
}

// heldPaths returns, for a resource address of the stack, the attribute
// paths that the ignore rules active now set aside, with their rules.
func (l *Layer) heldPaths(stack string) func(addr string) []heldPath {
	now := time.Now()
	return func(addr string) []heldPath {
		o := ignore.ObjectOf(drift.LayerInfra, addr)
		var out []heldPath
		for i, r := range l.ignore {
			// One rule at a time, to name the rule that holds a path.
			for _, p := range ignore.New([]ignore.Rule{r}, now).Paths(drift.LayerInfra, stack, o) {
				rule := fmt.Sprintf("ignore[%d]", i)
				if r.Reason != "" {
					rule += " (" + r.Reason + ")"
				}
				out = append(out, heldPath{pointer: p, rule: rule})
			}
		}
		return out
	}
}

// writesIgnored says, for each attribute path that an ignore rule sets
// aside and that the plan would write, that the plan must not be applied:
// what ignore rules set aside is never written, even when the same change
// restores drift elsewhere in the resource. A path is written when the
// planned change's before and after values under it differ, or when a value
// under it becomes known only after apply. Creations (nothing there to put
// back over) are judged by judge alone.
func writesIgnored(p *tfjson.Plan, held func(addr string) []heldPath) []string {
	if p == nil || held == nil {
		return nil
	}
	var reasons []string
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Change.Actions.NoOp() || rc.Change.Actions.Read() || rc.Change.Before == nil {
			continue
		}
		for _, h := range held(rc.Address) {
			if !touches(rc.Change, attrPath(h.pointer)) {
				continue
			}
			r := fmt.Sprintf("the plan's change to %s also writes %s, which %s sets aside (path %s): apply never writes what an ignore rule sets aside", rc.Address, attrPath(h.pointer), h.rule, h.pointer)
			if !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
	}
	return reasons
}

// touches reports whether a change writes anything at or under the
// attribute path (terraform notation): a known value that differs between
// before and after, a value only after has or only before has, or a value
// that becomes known only after apply.
func touches(c *tfjson.Change, path string) bool {
	under := func(k string) bool {
		return k == path || strings.HasPrefix(k, path+".") || strings.HasPrefix(k, path+"[")
	}
	if c.After == nil {
		return true // the whole object goes
	}
	before, after := flatten(c.Before), flatten(c.After)
	unknown := markSet(c.AfterUnknown)
	if unknown.covers(path) {
		return true
	}
	for k := range unknown {
		if under(k) {
			return true
		}
	}
	for _, k := range sortedKeys(before, after) {
		if !under(k) {
			continue
		}
		bv, bok := before[k]
		av, aok := after[k]
		if bok != aok || !reflect.DeepEqual(bv, av) {
			return true
		}
	}
	return false
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Apply implements drift.Applier: it applies the saved plan of the check
// whose result is target, as one action, when that plan does nothing but
// restore the drift apply was asked to restore (see judge), and when it is
// still the plan that check saved, made from the state as it is now.
// Never a fresh plan. It takes the state lock, waiting at most
// apply_lock_timeout. A saved plan is applied at most once.
func (l *Layer) Apply(ctx context.Context, _ drift.Snapshot, target drift.TargetResult, req drift.ApplyRequest) []drift.ActionResult {
	if len(req.Findings) == 0 {
		return nil
	}
	out := l.applyStack(ctx, target, req)
	for _, r := range out {
		l.logger.Info("apply", "target", target.Name, "object", r.Object, "action", r.Action, "result", r.Result, "reason", r.Reason, "dry_run", req.DryRun)
	}
	return out
}

func (l *Layer) applyStack(ctx context.Context, target drift.TargetResult, req drift.ApplyRequest) []drift.ActionResult {
	res := drift.ActionResult{Object: objects(req.Findings), Action: "plan", Diff: diffs(req.Findings)}
	sp, _ := target.Private.(*savedPlan)
	if sp == nil {
		res.Result, res.Reason = drift.ResultFailed, "the check kept no saved plan for this stack: check again"
		return []drift.ActionResult{res}
	}
	v := judge(sp.plan, req.Findings, sp.stack.AllowReplace, sp.lifecycle)
	if held := writesIgnored(sp.plan, l.heldPaths(sp.stack.Name)); len(held) > 0 {
		if v.refuse != "" {
			held = append([]string{v.refuse}, held...)
		}
		v.refuse = strings.Join(held, "; ")
	}
	if v.refuse != "" {
		res.Result, res.Reason = drift.ResultSkipped, v.refuse
		return []drift.ActionResult{res}
	}
	res.Object, res.Diff = strings.Join(v.addrs, ", "), diffs(v.covered)
	res.Result, res.Reason = l.applyPlan(ctx, sp, v, req.DryRun)
	out := []drift.ActionResult{res}
	for _, f := range v.uncovered {
		out = append(out, drift.ActionResult{Object: f.Object, Action: "restore", Result: drift.ResultSkipped, Diff: f.Diff,
			Reason: "the saved plan does not change it: Terraform would not restore this drift (ignore_changes, or attributes the provider does not set)"})
	}
	return out
}

// applyPlan verifies the saved plan and, unless dryRun, applies it. It
// returns the action's result and its reason.
func (l *Layer) applyPlan(ctx context.Context, sp *savedPlan, v verdict, dryRun bool) (result, reason string) {
	what := describe(sp, v)
	unlock, err := l.lockTree(ctx)
	if err != nil {
		return drift.ResultFailed, "wait for the running check: " + err.Error()
	}
	defer unlock()
	timeout := sp.stack.Timeout.Std()
	if timeout <= 0 {
		timeout = l.cfg.Timeout.Or(10 * time.Minute).Std()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// Claim the plan: a saved plan is applied at most once, and only the
	// very file the check judged.
	file := sp.file
	if !dryRun {
		file = sp.file + ".applying-" + newRunTag()
		if err := os.Rename(sp.file, file); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return drift.ResultSkipped, "the check's saved plan is gone (applied already, or checked again since): check again"
			}
			return drift.ResultFailed, "claim the saved plan: " + err.Error()
		}
		defer os.Remove(file)
	}
	switch sum, err := fileSum(file); {
	case errors.Is(err, fs.ErrNotExist):
		return drift.ResultSkipped, "the check's saved plan is gone (applied already, or checked again since): check again"
	case err != nil:
		return drift.ResultFailed, "read the saved plan: " + err.Error()
	case sum != sp.sum:
		return drift.ResultSkipped, "the saved plan is not the one the check judged (checked again since?): check again"
	}

	tf, tag, err := l.terraform(sp)
	if err != nil {
		return drift.ResultFailed, err.Error()
	}
	defer func() {
		if ctx.Err() != nil {
			if n := reap(tag); n > 0 {
				l.logger.Warn("killed processes left by an interrupted terraform", "target", sp.stack.Name, "processes", n)
			}
		}
	}()

	// terraform refuses a stale plan itself, under the lock; reading the
	// state first says so in a dry run too, and says what changed.
	if sp.lineage != "" {
		state, err := tf.StatePull(ctx)
		if err != nil {
			return drift.ResultFailed, "read the state: " + cleanErr(err).Error()
		}
		serial, lineage, err := stateMeta(strings.NewReader(state))
		switch {
		case err != nil:
			return drift.ResultFailed, "read the state: " + err.Error()
		case lineage != sp.lineage:
			return drift.ResultFailed, fmt.Sprintf("the state was replaced since the check (lineage %s, now %s): the saved plan is stale and nothing was applied; check again", sp.lineage, lineage)
		case serial != sp.serial:
			return drift.ResultFailed, fmt.Sprintf("the state changed since the check (serial %d, now %d): the saved plan is stale and nothing was applied; check again", sp.serial, serial)
		}
	}
	if dryRun {
		return drift.ResultWouldApply, "would apply the check's saved plan: " + what
	}

	lockTimeout := l.cfg.ApplyLockTimeout.Or(defaultApplyLockTimeout).Std()
	err = tf.Apply(ctx, tfexec.DirOrPlan(file), tfexec.Lock(true), tfexec.LockTimeout(lockTimeout.String()))
	if err == nil {
		return drift.ResultApplied, "applied the check's saved plan: " + what
	}
	msg := cleanErr(err).Error()
	switch {
	case strings.Contains(msg, "Saved plan is stale") || strings.Contains(msg, "Saved plan does not match the given state"):
		return drift.ResultFailed, "the state changed since the check: terraform refused the stale saved plan and nothing was applied; check again"
	case strings.Contains(msg, "Error acquiring the state lock"):
		return drift.ResultFailed, fmt.Sprintf("the state stayed locked for %s (someone else is changing the stack): nothing was applied; check again: %s", lockTimeout, msg)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return drift.ResultFailed, fmt.Sprintf("timed out after %s; part of the plan may have been applied, the next check shows what: %s", timeout, msg)
	}
	return drift.ResultFailed, "terraform apply failed; part of the plan may have been applied, the next check shows what: " + msg
}

// terraform prepares a terraform run in the stack as its check ran it: the
// same staged directory, data dir and environment.
func (l *Layer) terraform(sp *savedPlan) (*tfexec.Terraform, string, error) {
	tf, err := tfexec.NewTerraform(sp.dir, l.cfg.Binary)
	if err != nil {
		return nil, "", err
	}
	tag := newRunTag()
	env := l.env(sp.stack, sp.dataDir)
	env[runTagEnv] = tag
	if err := tf.SetEnv(env); err != nil {
		return nil, "", fmt.Errorf("env: %w", err)
	}
	if err := tf.SetWaitDelay(interruptGrace); err != nil {
		return nil, "", err
	}
	return tf, tag, nil
}

// describe says what applying the plan does, resource by resource.
func describe(sp *savedPlan, v verdict) string {
	parts := make([]string, len(v.addrs))
	for i, a := range v.addrs {
		parts[i] = v.verbs[a] + " " + a
	}
	return strings.Join(parts, ", ") + " (plan sha256 " + sp.sum[:12] + ")"
}

func objects(fs []drift.Finding) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Object
	}
	return strings.Join(names, ", ")
}

func diffs(fs []drift.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Diff)
		if f.Diff != "" && !strings.HasSuffix(f.Diff, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// lockTree keeps checks and applies of the layer's work dir apart: a check
// stages the repository afresh and replaces the stacks' saved plans, and an
// apply runs terraform in that staged copy. The layer's semaphore covers
// this process; an flock in the work dir covers other driftd processes
// sharing it (driftd serve next to a driftd apply).
func (l *Layer) lockTree(ctx context.Context) (unlock func(), err error) {
	if err := os.MkdirAll(l.workDir, 0o755); err != nil {
		return nil, err
	}
	unlock, err = lockFile(ctx, l.treeSem, filepath.Join(l.workDir, ".driftd-tree.lock"), 100*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("work dir lock: %w", err)
	}
	return unlock, nil
}

var _ drift.Applier = (*Layer)(nil)
