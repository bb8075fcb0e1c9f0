package infra

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftd/driftd/pkg/repofs"
)

// interruptGrace is how long terraform gets to stop after an interrupt
// before it is killed.
const interruptGrace = 5 * time.Second

// plan runs init, plan -out and show -json for one stack. When ctx ends
// first, terraform is interrupted, then killed, and any provider process it
// leaves behind is killed too. The plan file stays in the stack's data dir,
// for apply mode; the caller removes it when apply has no use for it.
func (l *Layer) plan(ctx context.Context, src source, st Stack) (*tfjson.Plan, *savedPlan, error) {
	// The plan an earlier check saved must never stand for this one, even
	// when this one fails before it plans.
	planFile := filepath.Join(l.stackDataDir(st), planFileName)
	if err := os.Remove(planFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("stack %s: remove the previous plan: %w", st.Name, err)
	}
	rel, err := repofs.Clean(st.Dir)
	if err == nil {
		err = src.rfs.Dir(rel)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("stack %s: directory %s not found in the repo", st.Name, st.Dir)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("stack %s: %w", st.Name, err)
	}
	if err := refusedIn(src.refused, rel); err != nil {
		return nil, nil, fmt.Errorf("stack %s: %w", st.Name, err)
	}
	for _, vf := range st.VarFiles {
		p, err := repofs.Clean(path.Join(rel, filepath.ToSlash(vf)))
		if err == nil {
			_, err = src.rfs.ReadFile(p)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("stack %s: var file %s: %w", st.Name, vf, err)
		}
	}
	dir := filepath.Join(src.dir, filepath.FromSlash(rel))
	dataDir := l.stackDataDir(st)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("stack %s: %w", st.Name, err)
	}
	tf, err := l.terraformFor(dir, dataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("stack %s: %w", st.Name, err)
	}
	tag := newRunTag()
	defer func() {
		if ctx.Err() != nil {
			if n := reap(tag); n > 0 {
				l.logger.Warn("killed processes left by an interrupted terraform", "target", st.Name, "processes", n)
			}
		}
	}()
	env := l.env(st, dataDir)
	env[runTagEnv] = tag
	if err := tf.SetEnv(env); err != nil {
		return nil, nil, fmt.Errorf("stack %s: env: %w", st.Name, err)
	}
	if err := tf.SetWaitDelay(interruptGrace); err != nil {
		return nil, nil, fmt.Errorf("stack %s: %w", st.Name, err)
	}

	initMarker := filepath.Join(dataDir, "driftd-init")
	fp, err := initFingerprint(dir, l.cfg.Binary, st, env)
	if err != nil {
		return nil, nil, fmt.Errorf("stack %s: %w", st.Name, err)
	}
	// The dependency lock file that init writes when the repository has
	// none is kept with the stack's data, and put back into the staged
	// copy (which each check makes afresh) when init is skipped.
	lockFile, savedLock := filepath.Join(dir, ".terraform.lock.hcl"), filepath.Join(dataDir, "driftd.lock.hcl")
	_, statErr := os.Stat(lockFile)
	repoHasLock := statErr == nil
	doInit := func() error {
		_ = os.Remove(initMarker)
		unlock, err := l.lockInit(ctx)
		if err != nil {
			return fmt.Errorf("stack %s: init: %w", st.Name, err)
		}
		err = tf.Init(ctx, tfexec.Upgrade(false))
		unlock()
		if err != nil {
			return fmt.Errorf("stack %s: init: %w", st.Name, cleanErr(err))
		}
		if !repoHasLock {
			if b, err := os.ReadFile(lockFile); err == nil {
				if err := os.WriteFile(savedLock, b, 0o644); err != nil {
					return fmt.Errorf("stack %s: keep the lock file: %w", st.Name, err)
				}
			}
		}
		return os.WriteFile(initMarker, []byte(fp), 0o644)
	}
	initSkipped := false
	if prev, err := os.ReadFile(initMarker); err == nil && string(prev) == fp {
		initSkipped = true
		if !repoHasLock {
			if b, err := os.ReadFile(savedLock); err == nil {
				if err := os.WriteFile(lockFile, b, 0o644); err != nil {
					return nil, nil, fmt.Errorf("stack %s: restore the lock file: %w", st.Name, err)
				}
			}
		}
	} else if err := doInit(); err != nil {
		return nil, nil, err
	}
	if st.Workspace != "" {
		if err := tf.WorkspaceSelect(ctx, st.Workspace); err != nil {
			return nil, nil, fmt.Errorf("stack %s: select workspace %s: %w", st.Name, st.Workspace, cleanErr(err))
		}
	}
	kept := false
	defer func() {
		if !kept {
			_ = os.Remove(planFile)
		}
	}()
	opts := []tfexec.PlanOption{tfexec.Out(planFile), tfexec.Lock(l.cfg.Lock), tfexec.Refresh(true)}
	for _, vf := range st.VarFiles {
		opts = append(opts, tfexec.VarFile(vf))
	}
	// The boolean result mirrors -detailed-exitcode, which has known bugs;
	// the plan JSON is what counts.
	_, err = tf.Plan(ctx, opts...)
	if err != nil && initSkipped && ctx.Err() == nil {
		// Something init depends on may have changed outside the stack's
		// own files, such as a local module's provider requirements:
		// init, then retry once. terraform says so only in its text, which
		// driftd does not parse; a stack that is simply broken fails init
		// or the second plan the same way, with the same diagnostics.
		if err := doInit(); err != nil {
			return nil, nil, err
		}
		_, err = tf.Plan(ctx, opts...)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("stack %s: plan: %w", st.Name, cleanErr(err))
	}
	p, err := tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		return nil, nil, fmt.Errorf("stack %s: show plan: %w", st.Name, cleanErr(err))
	}
	// Sealed (hashed, its state read) only if the check finds drift to
	// restore: see checkStack.
	kept = true
	return p, &savedPlan{stack: st, dir: dir, dataDir: dataDir, file: planFile, plan: p}, nil
}

// env builds the environment of every terraform process of a stack: from
// the process environment only what terraform needs and pass_env allows
// (see buildEnv), then the layer's and the stack's settings, then driftd's
// own, which keep terraform's files out of the checkout.
func (l *Layer) env(st Stack, dataDir string) map[string]string {
	env := buildEnv(os.Environ(), l.cfg.PassEnv, l.denyEnv, l.cfg.Env, st.Env, map[string]string{
		"TF_DATA_DIR":         dataDir,
		"TF_PLUGIN_CACHE_DIR": l.cfg.PluginCacheDir,
		"TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": "1",
		"CHECKPOINT_DISABLE":                             "1",
	})
	return tfexec.CleanEnv(env)
}

// cleanErr trims terraform's stderr to its diagnostics, which carry the file
// and line, and keeps context errors recognisable.
func cleanErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	msg := strings.TrimSpace(err.Error())
	if _, rest, ok := strings.Cut(msg, "\n"); ok && strings.HasPrefix(msg, "exit status") {
		msg = strings.TrimSpace(rest)
	}
	return errors.New(stripANSI(msg))
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < '@' || s[j] > '~') {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// terraformFor returns the terraform-exec handle of a stack (its directory
// dir, and dataDir, which is the stack's own: two workspaces of one
// directory are two stacks), made once and kept: terraform-exec asks the
// binary for its version (one more terraform process) the first time a
// handle runs a command, so a new handle per check cost a process per stack
// per check. A stack is checked by one goroutine at a time, so its handle
// is never used by two at once.
func (l *Layer) terraformFor(dir, dataDir string) (*tfexec.Terraform, error) {
	l.tfsMu.Lock()
	defer l.tfsMu.Unlock()
	key := dir + "\x00" + dataDir
	if tf, ok := l.tfs[key]; ok {
		return tf, nil
	}
	tf, err := tfexec.NewTerraform(dir, l.cfg.Binary)
	if err != nil {
		return nil, err
	}
	if l.tfs == nil {
		l.tfs = map[string]*tfexec.Terraform{}
	}
	l.tfs[key] = tf
	return tf, nil
}
