package infra

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/ignore"
	"github.com/driftd/driftd/pkg/repofs"
)

// Layer checks Terraform stacks.
type Layer struct {
	cfg     Config
	workDir string
	logger  *slog.Logger
	// initSem holds one slot: inits of this layer run one at a time.
	initSem chan struct{}
	// treeSem holds one slot: a check (which stages the repository afresh
	// and replaces every stack's saved plan) and an apply (which runs in
	// that staged copy) never overlap. See lockTree.
	treeSem chan struct{}
	// denyEnv names driftd's own credential variables, never passed to
	// terraform.
	denyEnv []string
	// ignore are the ignore rules; this layer applies their attribute
	// paths.
	ignore []ignore.Rule
	// tfs keeps a terraform-exec handle per stack directory (see terraformFor).
	tfsMu sync.Mutex
	tfs   map[string]*tfexec.Terraform
	// took is how long each stack's last check took, by name: the
	// slowest start first, so that a check ends as early as it can.
	tookMu sync.Mutex
	took   map[string]time.Duration
}

// SetIgnore hands the layer the ignore rules, whose attribute paths it
// applies within resources; the engine applies the rest.
func (l *Layer) SetIgnore(rules []ignore.Rule) { l.ignore = rules }

// New returns the infra layer. workDir holds driftd's own Terraform data
// (TF_DATA_DIR per stack, plan files, the shared plugin cache), so that the
// checkout is never written to.
func New(cfg Config, workDir string, logger *slog.Logger) *Layer {
	if cfg.PluginCacheDir == "" {
		cfg.PluginCacheDir = filepath.Join(workDir, "plugin-cache")
	}
	return &Layer{cfg: cfg, workDir: workDir, logger: logger, initSem: make(chan struct{}, 1), treeSem: make(chan struct{}, 1)}
}

// DenyEnv names environment variables that hold driftd's own credentials
// (the repository token's token_env): terraform never gets them, whatever
// pass_env says.
func (l *Layer) DenyEnv(names ...string) {
	for _, n := range names {
		if n != "" {
			l.denyEnv = append(l.denyEnv, n)
		}
	}
}

// Name implements drift.Layer.
func (l *Layer) Name() drift.LayerName { return drift.LayerInfra }

// Check plans every stack, at most cfg.Parallelism at once, each under its
// own timeout. A stack that fails is unknown with its error; the others are
// still reported.
func (l *Layer) Check(ctx context.Context, snap drift.Snapshot) ([]drift.TargetResult, error) {
	if err := os.MkdirAll(l.cfg.PluginCacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("create plugin cache: %w", err)
	}
	unlock, err := l.lockTree(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rfs, err := repofs.Open(snap.Dir, snap.MaxFileSize)
	if err != nil {
		return nil, err
	}
	defer rfs.Close()
	stage := filepath.Join(l.workDir, "src")
	refused, err := stageTree(rfs, stage)
	if err != nil {
		return nil, fmt.Errorf("stage the repository for terraform: %w", err)
	}
	src := source{rfs: rfs, dir: stage, refused: refused}
	stacks := l.slowestFirst()
	return drift.CheckEach(ctx, len(stacks), l.cfg.Parallelism, "stack",
		func(i int) string { return stacks[i].Name },
		func(ctx context.Context, i int) drift.TargetResult {
			res := l.checkStack(ctx, src, stacks[i])
			l.tookMu.Lock()
			l.took[stacks[i].Name] = res.Duration
			l.tookMu.Unlock()
			return res
		}), nil
}

// slowestFirst orders the stacks by how long their last check took, the
// slowest (and those never checked) first: with fewer slots than stacks,
// the check then ends about when its slowest stack does, not a slow
// stack's time after a queue of quick ones.
func (l *Layer) slowestFirst() []Stack {
	l.tookMu.Lock()
	defer l.tookMu.Unlock()
	if l.took == nil {
		l.took = map[string]time.Duration{}
	}
	took := func(s Stack) time.Duration {
		if d, ok := l.took[s.Name]; ok {
			return d
		}
		return math.MaxInt64
	}
	stacks := slices.Clone(l.cfg.Stacks)
	slices.SortStableFunc(stacks, func(a, b Stack) int { return cmp.Compare(took(b), took(a)) })
	return stacks
}

// source is the repository as terraform sees it: the jail, to check the
// paths the config names, and the staged copy terraform runs in.
type source struct {
	rfs     *repofs.FS
	dir     string
	refused map[string]error
}

func (l *Layer) checkStack(ctx context.Context, src source, st Stack) drift.TargetResult {
	start := time.Now()
	logger := l.logger.With("target", st.Name)
	ctx, cancel := context.WithTimeout(ctx, st.Timeout.Std())
	defer cancel()

	plan, saved, err := l.plan(ctx, src, st)
	res := drift.TargetResult{Name: st.Name, Duration: time.Since(start)}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("stack %s: timed out after %s: %w", st.Name, st.Timeout.Std(), err)
		}
		res.Error = err.Error()
		logger.Warn("stack check failed", "duration_seconds", res.Duration.Seconds(), "err", err)
		return res
	}
	rules := ignore.New(l.ignore, time.Now())
	ignored := func(addr string) []string {
		return rules.Paths(drift.LayerInfra, st.Name, ignore.ObjectOf(drift.LayerInfra, addr))
	}
	if slices.ContainsFunc(plan.ResourceDrift, func(rc *tfjson.ResourceChange) bool {
		return rc != nil && rc.Change != nil && !rc.Change.Actions.NoOp()
	}) {
		// Only drift is worth reading the configuration for: its
		// lifecycle ignore_changes may set some of it aside.
		lifecycle, err := readIgnoreChanges(src.dir, saved.dir, saved.dataDir)
		if err != nil {
			logger.Warn("some lifecycle ignore_changes could not be read; drift in those resources is reported in full", "err", err)
		}
		saved.lifecycle = lifecycle
	}
	res.Findings = findingsWith(plan, ignored, saved.lifecycle)
	res.Managed = Managed(plan)
	restorable := func(f drift.Finding) bool { return f.Change == drift.ChangeDrifted && f.Details["ignored_by"] == nil }
	if slices.ContainsFunc(res.Findings, restorable) {
		// Apply mode may restore this drift with exactly this plan.
		if err := saved.seal(); err != nil {
			_ = os.Remove(saved.file)
			res.Error = fmt.Sprintf("stack %s: keep the plan: %v", st.Name, err)
			return res
		}
		res.Private = saved
	} else {
		// Nothing to restore: do not keep a file that holds the state.
		_ = os.Remove(saved.file)
	}
	logger.Debug("stack checked", "findings", len(res.Findings), "duration_seconds", res.Duration.Seconds())
	return res
}

// stackDataDir is the stack's private TF_DATA_DIR, named after the stack and
// its directory so that renaming either starts afresh.
func (l *Layer) stackDataDir(st Stack) string {
	h := sha256.Sum256([]byte(st.Name + "\x00" + st.Dir + "\x00" + st.Workspace))
	return filepath.Join(l.workDir, "stacks", hex.EncodeToString(h[:8]))
}
