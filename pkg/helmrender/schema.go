package helmrender

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// validateSchemas checks values against the values.schema.json of the
// chart and of each subchart that has values, as helm does. It is helm's
// own validation but for one thing: helm lets a schema's $ref load any
// file of the host and any http(s) URL, and driftd reads nothing outside
// the repository and fetches nothing, so such a $ref is an error here.
// urn: references are permissive, as in helm.
func validateSchemas(c *chart.Chart, values map[string]any) error {
	var sb strings.Builder
	if len(c.Schema) > 0 {
		if err := validateSchema(c.Schema, values); err != nil {
			fmt.Fprintf(&sb, "%s: %s; ", display(c.Name()), err)
		}
	}
	for _, sub := range c.Dependencies() {
		raw, ok := values[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		sv, ok := raw.(map[string]any)
		if !ok {
			fmt.Fprintf(&sb, "%s: values are a %T, not a map; ", display(sub.Name()), raw)
			continue
		}
		if err := validateSchemas(sub, sv); err != nil {
			sb.WriteString(err.Error() + "; ")
		}
	}
	if sb.Len() > 0 {
		return fmt.Errorf("values do not meet the charts' values.schema.json: %s", strings.TrimSuffix(sb.String(), "; "))
	}
	return nil
}

const schemaURL = "file:///values.schema.json"

func validateSchema(schemaJSON []byte, values map[string]any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unable to validate schema: %v", r)
		}
	}()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return fmt.Errorf("values.schema.json: %w", err)
	}
	c := jsonschema.NewCompiler()
	// Only urn: references load (as an empty schema); file and http(s)
	// references are unsupported schemes.
	c.UseLoader(jsonschema.SchemeURLLoader{"urn": permissiveURN{}})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return err
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return fmt.Errorf("values.schema.json: %w", err)
	}
	if err := s.Validate(values); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "jsonschema validation failed with '"+schemaURL+"#'\n"))
	}
	return nil
}

// permissiveURN resolves every urn: reference to the schema that accepts
// everything, as helm does by default.
type permissiveURN struct{}

func (permissiveURN) Load(string) (any, error) { return true, nil }
