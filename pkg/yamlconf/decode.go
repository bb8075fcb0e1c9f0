// Package yamlconf decodes driftd's YAML strictly, the way driftd.yaml is
// decoded, with every error naming the file and line; and it holds the
// value types that every section of the config uses (durations, sizes,
// dates, switches), so that the layers can own their sections without
// depending on the config loader.
package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DecodeStrict decodes YAML into v the way driftd.yaml is decoded: unknown
// keys and wrong types are errors, each in the form "name:line: message".
// Other files driftd reads from the repo, such as the node inventory, use it
// so that all of driftd's YAML errors look alike.
func DecodeStrict(name string, b []byte, v any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return fmt.Errorf("%s", Rewrite(name, nil, err.Error()))
	}
	return Decode(name, b, &root, v)
}

// Decode is DecodeStrict for a document already parsed into root, which
// is used to name the YAML path of an unknown key.
func Decode(name string, b []byte, root *yaml.Node, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			msgs = append(msgs, Rewrite(name, root, e))
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	return fmt.Errorf("%s", Rewrite(name, root, err.Error()))
}

var (
	lineRE    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// credentialKeys are keys people try to inline secrets with.
var credentialKeys = map[string]string{
	"token":       "reference it with token_file or token_env",
	"password":    "reference a token with token_file or token_env",
	"ssh_key":     "reference it with ssh_key_file",
	"private_key": "reference it with ssh_key_file or key_file",
}

// Rewrite turns a decoder message ("line 3: field x not found in type
// config.Repo") into "driftd.yaml:3: unknown field "x" in repo".
func Rewrite(name string, root *yaml.Node, msg string) string {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Sprintf("%s: %s", name, strings.TrimPrefix(msg, "yaml: "))
	}
	line, _ := strconv.Atoi(m[1])
	text := m[2]
	if u := unknownRE.FindStringSubmatch(text); u != nil {
		key := u[1]
		text = fmt.Sprintf("unknown field %q", key)
		if root != nil {
			if p := pathOfKey(root, line, key); len(p) > 1 {
				text += " in " + strings.Join(p[:len(p)-1], ".")
			}
		}
		if hint, ok := credentialKeys[key]; ok {
			text += ": credentials are never inlined; " + hint
		}
	}
	return fmt.Sprintf("%s:%d: %s", name, line, text)
}

// FieldError is a validation error at a path of YAML keys, relative to the
// section that was validated.
type FieldError struct {
	Path []string
	Msg  string
}

// Errorf returns a FieldError at path.
func Errorf(path []string, format string, args ...any) FieldError {
	return FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Under prefixes the paths of errs with prefix, as a section's errors
// become errors of the whole file.
func Under(prefix []string, errs []FieldError) []FieldError {
	out := make([]FieldError, len(errs))
	for i, e := range errs {
		out[i] = FieldError{Path: append(append([]string(nil), prefix...), e.Path...), Msg: e.Msg}
	}
	return out
}
