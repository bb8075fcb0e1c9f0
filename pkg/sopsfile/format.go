package sopsfile

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/config"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

// Format is the format of a SOPS file: YAML or JSON.
type Format int

// The formats Decrypt reads. The zero Format is none of them.
const (
	// YAML is a YAML file, of one or more documents.
	YAML Format = iota + 1
	// JSON is a JSON file holding one object.
	JSON
)

// FormatOf returns the format of a file named name, from its extension
// (.yaml, .yml or .json, in any case), and false for any other name.
func FormatOf(name string) (Format, bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml":
		return YAML, true
	case ".json":
		return JSON, true
	}
	return 0, false
}

// String returns "yaml" or "json".
func (f Format) String() string {
	switch f {
	case YAML:
		return "yaml"
	case JSON:
		return "json"
	}
	return "unknown format"
}

// store returns the sops store for f, configured as the sops command line
// configures it by default.
func (f Format) store() (sops.Store, error) {
	switch f {
	case YAML:
		return sopsyaml.NewStore(&config.YAMLStoreConfig{}), nil
	case JSON:
		return sopsjson.NewStore(&config.JSONStoreConfig{Indent: -1}), nil
	}
	return nil, errors.New("decrypt sops file: unknown format (want sopsfile.YAML or sopsfile.JSON)")
}
