package helmrender

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/strvals"

	"github.com/driftd/driftd/pkg/repofs"
	"github.com/driftd/driftd/pkg/sopsfile"
)

// values builds the user-supplied values of req for chart c, as helm's
// command line does: values files in order (merged into the chart's
// defaults instead when req.ReplaceDefaults), then req.Values, then the
// parameters (--set, then --set-string, then --set-file). It records every
// supplied string in red, so that errors never quote one. It returns the
// values files that were applied.
func values(rfs *repofs.FS, c *chart.Chart, req Request, red *redactor) (map[string]any, []string, error) {
	base := map[string]any{}
	var defaults map[string]any
	if req.ReplaceDefaults {
		defaults = map[string]any{}
	}
	if err := checkChartValues(c, !req.ReplaceDefaults); err != nil {
		return nil, nil, err
	}
	var applied []string
	for _, f := range req.ValuesFiles {
		data, err := readValuesFile(rfs, c, req, f)
		if errors.Is(err, fs.ErrNotExist) && req.IgnoreMissingValuesFiles {
			continue
		}
		if err == nil && sopsfile.IsEncrypted(data) {
			err = ErrEncryptedValues
		}
		if err != nil {
			return nil, nil, fmt.Errorf("values file %s: %w", display(f), err)
		}
		if err := checkAliases(data); err != nil {
			return nil, nil, fmt.Errorf("values file %s: %w", display(f), err)
		}
		v, err := loader.LoadValues(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("values file %s: %s", display(f), quotedValue.ReplaceAllString(err.Error(), "(value)"))
		}
		red.addValues(v)
		if req.ReplaceDefaults {
			defaults = loader.MergeMaps(defaults, v)
		} else {
			base = loader.MergeMaps(base, v)
		}
		applied = append(applied, f)
	}
	if req.ReplaceDefaults && len(req.ValuesFiles) > 0 {
		// As source-controller does, even when every file was missing
		// and skipped.
		c.Values = defaults
	}
	if len(req.Values) > 0 {
		v, err := normalize(req.Values)
		if err != nil {
			return nil, nil, fmt.Errorf("values: %w", err)
		}
		red.addValues(v)
		base = loader.MergeMaps(base, v)
	}
	if err := setParameters(rfs, req.Parameters, base, red); err != nil {
		return nil, nil, err
	}
	return base, applied, nil
}

// ErrEncryptedValues is returned, wrapped, for a values file that is
// SOPS-encrypted: helm and Flux read it as it is, so that its ciphertext
// would be rendered as the values (and written to the cluster by apply).
var ErrEncryptedValues = errors.New("SOPS-encrypted: helm and Flux do not decrypt values files (keep the values in a Secret that a HelmRelease's valuesFrom names)")

// checkChartValues refuses a chart whose values.yaml (top, when used, or a
// subchart's) is SOPS-encrypted.
func checkChartValues(c *chart.Chart, top bool) error {
	if top {
		for _, f := range c.Raw {
			if f.Name == "values.yaml" && sopsfile.IsEncrypted(f.Data) {
				return fmt.Errorf("chart %s values.yaml: %w", display(c.Name()), ErrEncryptedValues)
			}
		}
	}
	for _, d := range c.Dependencies() {
		if err := checkChartValues(d, true); err != nil {
			return err
		}
	}
	return nil
}

// readValuesFile reads a values file: from the repository for a chart of
// the repository, from the chart's own files for a chart fetched from a
// chart repository.
func readValuesFile(rfs *repofs.FS, c *chart.Chart, req Request, name string) ([]byte, error) {
	if req.RepoURL == "" {
		return rfs.ReadFile(name)
	}
	n, err := repofs.Clean(name)
	if err != nil {
		return nil, err
	}
	for _, f := range c.Raw {
		if f.Name == n {
			return f.Data, nil
		}
	}
	return nil, fmt.Errorf("not in the chart: %w", fs.ErrNotExist)
}

// normalize deep-copies v through JSON, which also gives numbers the type
// helm gives values read from YAML (float64), whatever the caller decoded
// them with.
func normalize(v map[string]any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// setParameters applies parameters to base as helm applies --set, then
// --set-string, then --set-file.
func setParameters(rfs *repofs.FS, params []Parameter, base map[string]any, red *redactor) error {
	ordered := slices.Clone(params)
	rank := func(p Parameter) int {
		switch {
		case p.File:
			return 2
		case p.String:
			return 1
		}
		return 0
	}
	slices.SortStableFunc(ordered, func(a, b Parameter) int { return rank(a) - rank(b) })
	for _, p := range ordered {
		var err error
		switch {
		case p.File:
			var data []byte
			data, err = rfs.ReadFile(p.Value)
			if err == nil && sopsfile.IsEncrypted(data) {
				err = fmt.Errorf("%s: %w", display(p.Value), ErrEncryptedValues)
			}
			if err != nil {
				return fmt.Errorf("parameter %s: %w", display(p.Name), err)
			}
			red.add(string(data))
			err = strvals.ParseIntoFile(p.Name+"="+path.Clean(p.Value), base, func([]rune) (any, error) { return string(data), nil })
		case p.String:
			red.add(p.Value)
			err = strvals.ParseIntoString(p.Name+"="+p.Value, base)
		default:
			red.add(p.Value)
			err = strvals.ParseInto(p.Name+"="+p.Value, base)
		}
		if err != nil {
			return fmt.Errorf("parameter %s: %s", display(p.Name), red.clean(err.Error()))
		}
	}
	return nil
}
