package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/engine"
	"github.com/driftd/driftd/pkg/layers/app"
	"github.com/driftd/driftd/pkg/layers/node"
	"github.com/driftd/driftd/pkg/prcheck"
	"github.com/driftd/driftd/pkg/repofs"
	"github.com/driftd/driftd/pkg/source"
)

// codeLayers are the layers that run code from the repository, or fetch
// what it names, when they check it: a Terraform plan runs providers, data
// sources and external programs; the app layer with allow_remote_resources
// fetches the URLs and git repositories kustomizations name.
func codeLayers() []string { return []string{string(drift.LayerInfra), string(drift.LayerApp)} }

// prRun is a check of a pull request's checkout against its base revision.
type prRun struct {
	repo, base string
	// config is --config when given; it must lie outside the checkout.
	config    string
	only      []string
	allowCode []string
	logLevel  string
}

// run checks the base tree and the pull request's tree against reality,
// with the base's config, and classifies the findings.
func (p prRun) run(ctx context.Context, stderr io.Writer) (drift.Report, error) {
	logger, err := (&commonFlags{logLevel: p.logLevel}).logger(stderr)
	if err != nil {
		return drift.Report{}, err
	}
	for _, l := range p.allowCode {
		if !slices.Contains(codeLayers(), l) {
			return drift.Report{}, fmt.Errorf("--allow-pr-code: %q: only %s runs code from the repository", l, strings.Join(codeLayers(), ", "))
		}
	}
	baseDir, err := os.MkdirTemp("", "driftd-base-")
	if err != nil {
		return drift.Report{}, err
	}
	defer os.RemoveAll(baseDir)
	rev, err := prcheck.Extract(ctx, p.repo, p.base, baseDir, prcheck.Limits{})
	if err != nil {
		return drift.Report{}, err
	}

	cfg, baseYAML, err := p.loadConfig(baseDir)
	if err != nil {
		return drift.Report{}, err
	}
	files := cfg.LocalFiles()
	for i, k := range filepath.SplitList(os.Getenv("KUBECONFIG")) {
		if k != "" && cfg.Layers.App != nil && cfg.Layers.App.Kubeconfig == "" {
			files[fmt.Sprintf("$KUBECONFIG[%d]", i)] = k
		}
	}
	if in := cfg.Layers.Infra; in != nil {
		// What terraform gets from driftd's environment runs with the
		// base's code too: a CLI config, a kubeconfig, an AWS config or a
		// PATH entry in the checkout would be the pull request's.
		for name, v := range in.PassedEnv(os.Environ()) {
			for i, p := range pathsIn(v) {
				files[fmt.Sprintf("$%s[%d] (passed to terraform)", name, i)] = p
			}
		}
	}
	if err := prcheck.Outside(files, p.repo); err != nil {
		return drift.Report{}, fmt.Errorf("the base's config: %w", err)
	}
	var configChange *drift.Finding
	if p.config == "" {
		head, err := prcheck.ReadTreeFile(p.repo, "driftd.yaml", int64(cfg.Repo.MaxFileSize))
		if err != nil {
			// Shown, not fatal: a pull request must not be able to stop
			// the report.
			head = []byte(fmt.Sprintf("# the pull request's driftd.yaml could not be read: %v\n", err))
		}
		configChange = prcheck.ConfigFinding("driftd.yaml", baseYAML, head)
	}

	opts := engine.Options{MaxFileSize: int64(cfg.Repo.MaxFileSize), Ignore: cfg.Ignore}
	baseLayers, err := buildLayers(cfg, p.only, logger.With("tree", "base"))
	if err != nil {
		return drift.Report{}, err
	}
	baseRep := engine.New(source.NewLocal(baseDir), baseLayers, logger, opts).Run(ctx)

	// The pull request's tree: its own caches, its nodes only where the
	// base sends driftd, and Terraform only where it changes nothing or
	// the job allows it.
	headCfg := *cfg
	headCfg.CacheDir = filepath.Join(cfg.CacheDir, "pull-request")
	if a := cfg.Layers.App; a != nil && !slices.Contains(p.allowCode, string(drift.LayerApp)) {
		headApp := *a
		// The pull request's kustomizations and HelmReleases would make
		// the runner fetch URLs of its choosing (internal hosts
		// included).
		headApp.AllowRemoteResources = false
		headApp.Helm.AllowRemoteCharts = false
		// With the runner's SOPS key, the pull request's chart or
		// configMapGenerator could copy a decrypted Secret into a
		// ConfigMap that the report shows: its encrypted Secrets are
		// compared by key names only.
		headApp.SOPS = app.SOPSConfig{}
		headCfg.Layers.App = &headApp
	}
	only := p.only
	if len(only) == 0 {
		for _, l := range cfg.Layers.Enabled() {
			only = append(only, string(l))
		}
	}
	var infraResult *drift.LayerResult
	if slices.Contains(only, string(drift.LayerInfra)) && !slices.Contains(p.allowCode, string(drift.LayerInfra)) {
		changed, err := prcheck.ChangedFiles(baseDir, p.repo, terraformInput(cfg))
		if err != nil {
			return drift.Report{}, err
		}
		infraResult = infraNotRun(baseRep, changed)
		only = slices.DeleteFunc(slices.Clone(only), func(l string) bool { return l == string(drift.LayerInfra) })
	}
	var headRep drift.Report
	if len(only) > 0 {
		headLayers, err := buildLayers(&headCfg, only, logger.With("tree", "pull-request"))
		if err != nil {
			return drift.Report{}, err
		}
		for _, l := range headLayers {
			if n, ok := l.(*node.Layer); ok {
				n.OnlyReach(baseReach(baseDir, cfg))
			}
		}
		headRep = engine.New(source.NewLocal(p.repo), headLayers, logger, opts).Run(ctx)
	} else {
		headRep = engine.New(source.NewLocal(p.repo), nil, logger, opts).Run(ctx)
	}
	if infraResult != nil {
		headRep.Layers = append(headRep.Layers, *infraResult)
	}
	var trusted []drift.LayerName
	for _, l := range p.allowCode {
		trusted = append(trusted, drift.LayerName(l))
	}
	rep := prcheck.Classify(baseRep, headRep, trusted...)
	rep.Base = &drift.Base{Ref: p.base, Revision: rev}
	rep.Config = configChange
	rep.StartedAt = baseRep.StartedAt
	rep.DurationSeconds = baseRep.DurationSeconds + headRep.DurationSeconds
	rep.Notices = append(rep.Notices, baseRep.Notices...)
	rep.Notices = slices.Compact(slices.Sorted(slices.Values(append(rep.Notices, headRep.Notices...))))
	return rep, nil
}

// pathsIn returns the parts of an environment value that may name files:
// each element of a path list that is absolute or relative (holds a slash
// or starts with a dot). URLs are not paths.
func pathsIn(v string) []string {
	if strings.Contains(v, "://") {
		return nil
	}
	var out []string
	for _, p := range filepath.SplitList(v) {
		if filepath.IsAbs(p) || strings.HasPrefix(p, ".") || strings.ContainsRune(p, '/') {
			out = append(out, p)
		}
	}
	return out
}

// loadConfig loads the base's config: --config, which must lie outside the
// checkout, or driftd.yaml from the base revision. It returns the base's
// driftd.yaml as well, to show a pull request's change of it.
func (p prRun) loadConfig(baseDir string) (*config.Config, []byte, error) {
	// Read as data: a link in the base tree is not followed.
	baseYAML, err := prcheck.ReadTreeFile(baseDir, "driftd.yaml", 16<<20)
	if err != nil {
		return nil, nil, fmt.Errorf("--base %s: %w", p.base, err)
	}
	if p.config != "" {
		if err := prcheck.Outside(map[string]string{"--config": p.config}, p.repo); err != nil {
			return nil, nil, err
		}
		cfg, err := config.LoadFileForCheckout(p.config)
		return cfg, baseYAML, err
	}
	if baseYAML == nil {
		return nil, nil, fmt.Errorf("--base %s: the base revision has no driftd.yaml; pass --config with a config outside the checkout", p.base)
	}
	cfg, err := config.LoadForCheckout(p.base+":driftd.yaml", baseYAML)
	return cfg, baseYAML, err
}

// baseReach maps each node of the base's inventory to how it is reached.
// A base inventory that cannot be read allows no node at all.
func baseReach(baseDir string, cfg *config.Config) map[string]string {
	out := map[string]string{}
	rfs, err := repofs.Open(baseDir, int64(cfg.Repo.MaxFileSize))
	if err != nil {
		return out
	}
	defer rfs.Close()
	inv, err := node.LoadInventory(rfs, cfg.Layers.Node.Inventory)
	if err != nil {
		return out
	}
	for _, h := range inv.Nodes {
		out[h.Name] = node.Reach(inv, h)
	}
	return out
}

// terraformInput selects the files whose change may change what a plan of
// the pull request does: every file, but those that only the other layers
// read (the app layer's paths, the node layer's inventory and roles),
// driftd.yaml and Markdown. Terraform reads far more than .tf files: a
// module anywhere, file() and templatefile() of any name, var files that
// climb out of the stack, a data "external" program, what a link points
// to, .tofu files.
func terraformInput(cfg *config.Config) func(rel string) bool {
	var others []string
	if a := cfg.Layers.App; a != nil {
		others = append(others, a.Paths...)
	}
	if n := cfg.Layers.Node; n != nil {
		others = append(others, n.Inventory, n.RolesDir)
	}
	return func(rel string) bool {
		if rel == "driftd.yaml" || strings.HasSuffix(rel, ".md") {
			return false
		}
		for _, o := range others {
			if d := filepath.ToSlash(filepath.Clean(o)); d != "." && d != "" && (rel == d || strings.HasPrefix(rel, d+"/")) {
				return false
			}
		}
		return true
	}
}

// infraNotRun stands for the infra layer on the pull request's tree when
// the job did not allow its code: the base's result when the pull request
// changes no Terraform input (the plans are the same), and otherwise every
// stack as not checked, naming the files.
func infraNotRun(base drift.Report, changed []string) *drift.LayerResult {
	for _, l := range base.Layers {
		if l.Layer != drift.LayerInfra {
			continue
		}
		res := l
		if len(changed) == 0 {
			return &res
		}
		slices.Sort(changed)
		shown := changed
		if len(shown) > 5 {
			shown = shown[:5]
		}
		why := fmt.Errorf("not planned on the pull request's tree: it changes Terraform input (%s%s), and a plan runs the pull request's code (providers, data sources, external programs); pass --allow-pr-code=infra for a pull request you trust",
			strings.Join(quoteAll(shown), ", "), more(len(changed)-len(shown)))
		res.Targets = nil
		for _, t := range l.Targets {
			res.Targets = append(res.Targets, drift.Fail(t.Name, why))
		}
		if len(l.Targets) == 0 {
			res.Error = why.Error()
		}
		return &res
	}
	return nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = repofs.Quote(s)
	}
	return out
}

func more(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" and %d more", n)
}
