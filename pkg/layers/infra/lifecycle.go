package infra

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftd/driftd/pkg/repofs"
)

// ignoreChanges is one resource block's lifecycle ignore_changes: every
// attribute (all), or attribute paths in terraform's notation (tags.team,
// ingress[0].cidr_blocks), and where the block is (main.tf:12).
type ignoreChanges struct {
	all   bool
	paths []string
	where string
}

// maxConfigFile bounds one configuration file read for lifecycle rules.
// Terraform has already parsed every file by the time driftd reads them.
const maxConfigFile = 16 << 20

// readIgnoreChanges reads the lifecycle ignore_changes of every managed
// resource of a stack: its root module (dir, the staged copy terraform ran
// in) and the modules init installed (listed in dataDir/modules/
// modules.json). Keys are configuration addresses, without instance keys:
// module.net.cloudfile_firewall.web. Module directories outside dir's
// staged tree and dataDir are not read.
func readIgnoreChanges(stageRoot, dir, dataDir string) (map[string]ignoreChanges, error) {
	mods, err := installedModules(dir, dataDir)
	if err != nil {
		return nil, err
	}
	out := map[string]ignoreChanges{}
	var errs []error
	for _, m := range mods {
		if !repofs.Within(stageRoot, m.dir) && !repofs.Within(dataDir, m.dir) {
			errs = append(errs, fmt.Errorf("module %s: directory outside the repository and the stack's data", m.key))
			continue
		}
		rules, err := moduleIgnoreChanges(m.dir, stageRoot)
		errs = append(errs, err)
		for addr, r := range rules {
			out[m.prefix+addr] = r
		}
	}
	return out, errors.Join(errs...)
}

type module struct {
	key, prefix, dir string
}

// installedModules lists the root module and those in modules.json, which
// terraform and tofu write in TF_DATA_DIR/modules at init.
func installedModules(dir, dataDir string) ([]module, error) {
	mods := []module{{key: "(root)", dir: dir}}
	b, err := readBounded(filepath.Join(dataDir, "modules", "modules.json"))
	if errors.Is(err, os.ErrNotExist) {
		return mods, nil
	}
	if err != nil {
		return mods, fmt.Errorf("modules.json: %w", err)
	}
	var manifest struct {
		Modules []struct{ Key, Dir string }
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		return mods, fmt.Errorf("modules.json: %w", err)
	}
	for _, m := range manifest.Modules {
		if m.Key == "" {
			continue
		}
		d := m.Dir
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		var prefix strings.Builder
		for _, k := range strings.Split(m.Key, ".") {
			prefix.WriteString("module." + k + ".")
		}
		mods = append(mods, module{key: m.Key, prefix: prefix.String(), dir: filepath.Clean(d)})
	}
	return mods, nil
}

// moduleIgnoreChanges parses one module directory's .tf and .tf.json files,
// override files last, as terraform merges them.
func moduleIgnoreChanges(dir, stageRoot string) (map[string]ignoreChanges, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files, overrides []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".tf") && !strings.HasSuffix(name, ".tf.json") {
			continue
		}
		base := strings.TrimSuffix(strings.TrimSuffix(name, ".json"), ".tf")
		if base == "override" || strings.HasSuffix(base, "_override") {
			overrides = append(overrides, name)
		} else {
			files = append(files, name)
		}
	}
	parser := hclparse.NewParser()
	out := map[string]ignoreChanges{}
	var errs []error
	for _, name := range append(files, overrides...) {
		path := filepath.Join(dir, name)
		b, err := readBounded(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		shown := name
		if rel, err := filepath.Rel(stageRoot, path); err == nil && !strings.HasPrefix(rel, "..") {
			shown = filepath.ToSlash(rel)
		}
		var f *hcl.File
		var diags hcl.Diagnostics
		if strings.HasSuffix(name, ".json") {
			f, diags = parser.ParseJSON(b, shown)
		} else {
			f, diags = parser.ParseHCL(b, shown)
		}
		if diags.HasErrors() {
			errs = append(errs, diags.Errs()[0])
			continue
		}
		errs = append(errs, fileIgnoreChanges(f, out))
	}
	return out, errors.Join(errs...)
}

var (
	fileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "resource", LabelNames: []string{"type", "name"}},
	}}
	resourceSchema  = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "lifecycle"}}}
	lifecycleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "ignore_changes"}}}
)

// fileIgnoreChanges adds the rules of one file's resource blocks to out; a
// block that sets ignore_changes replaces what an earlier file said.
func fileIgnoreChanges(f *hcl.File, out map[string]ignoreChanges) error {
	content, _, diags := f.Body.PartialContent(fileSchema)
	if diags.HasErrors() {
		return diags
	}
	var errs []error
	for _, res := range content.Blocks {
		addr := res.Labels[0] + "." + res.Labels[1]
		rc, _, diags := res.Body.PartialContent(resourceSchema)
		if diags.HasErrors() {
			errs = append(errs, diags)
			continue
		}
		for _, lc := range rc.Blocks {
			lcc, _, diags := lc.Body.PartialContent(lifecycleSchema)
			if diags.HasErrors() {
				errs = append(errs, diags)
				continue
			}
			attr, ok := lcc.Attributes["ignore_changes"]
			if !ok {
				continue
			}
			r, err := parseIgnoreChanges(attr.Expr)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: ignore_changes: %w", attr.Range.String(), addr, err))
				continue
			}
			r.where = fmt.Sprintf("%s:%d", attr.Range.Filename, attr.Range.Start.Line)
			out[addr] = r
		}
	}
	return errors.Join(errs...)
}

// parseIgnoreChanges reads `all`, or a list of attribute references, in
// either syntax (a JSON file gives them as strings).
func parseIgnoreChanges(expr hcl.Expression) (ignoreChanges, error) {
	if hcl.ExprAsKeyword(expr) == "all" {
		return ignoreChanges{all: true}, nil
	}
	if v, diags := expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() && v.AsString() == "all" {
		return ignoreChanges{all: true}, nil // "all" in a .tf.json file
	}
	items, diags := hcl.ExprList(expr)
	if diags.HasErrors() {
		return ignoreChanges{}, diags
	}
	var r ignoreChanges
	for _, item := range items {
		if hcl.ExprAsKeyword(item) == "all" {
			return ignoreChanges{all: true}, nil // the deprecated [all]
		}
		tr, diags := hcl.RelTraversalForExpr(item)
		if diags.HasErrors() {
			return ignoreChanges{}, diags
		}
		p, err := traversalPath(tr)
		if err != nil {
			return ignoreChanges{}, err
		}
		r.paths = append(r.paths, p)
	}
	return r, nil
}

// traversalPath writes tags["team"] as tags.team and ingress[0] as
// ingress[0], the notation flatten uses.
func traversalPath(tr hcl.Traversal) (string, error) {
	var b strings.Builder
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			switch {
			case s.Key.Type() == cty.String:
				b.WriteString("." + s.Key.AsString())
			case s.Key.Type() == cty.Number:
				n, _ := s.Key.AsBigFloat().Int64()
				b.WriteString("[" + strconv.FormatInt(n, 10) + "]")
			default:
				return "", fmt.Errorf("unsupported index in %s", b.String())
			}
		default:
			return "", fmt.Errorf("unsupported reference after %s", b.String())
		}
	}
	return strings.TrimPrefix(b.String(), "."), nil
}

// configAddress drops instance keys from a resource instance address:
// module.a["x"].module.b[0].t.n[2] is module.a.module.b.t.n.
func configAddress(addr string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case quoted:
			switch c {
			case '\\':
				i++
			case '"':
				quoted = false
			}
		case c == '"' && depth > 0:
			quoted = true
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// readBounded reads a file of at most maxConfigFile bytes.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", filepath.Base(path), maxConfigFile)
	}
	return b, nil
}
