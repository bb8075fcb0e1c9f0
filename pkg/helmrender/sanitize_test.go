package helmrender

import "testing"

func TestRedactor(t *testing.T) {
	red := &redactor{}
	red.addValues(map[string]any{
		"password": "hunter22",
		"token":    "line1\nline2",
		"type":     "string",
		"short":    "abc",
		"nested":   []any{map[string]any{"key": "stringent-secret"}},
	})
	red.protect("web/templates/hunter22-deployment.yaml")
	for in, want := range map[string]string{
		"bad password hunter22":                                "bad password (value)",
		`quoted "line1\nline2"`:                                `quoted "(value)"`,
		"raw line1\nline2":                                     "raw (value)",
		"expected string; got int":                             "expected string; got int",
		"key stringent-secret":                                 "key (value)",
		"in web/templates/hunter22-deployment.yaml:3":          "in web/templates/hunter22-deployment.yaml:3",
		"at <.Values.password>: abc is short and stays":        "at <.Values.password>: abc is short and stays",
		"hunter22hunter22":                                     "(value)(value)",
		"a value next to a name: hunter22web/templates/x.yaml": "a value next to a name: (value)web/templates/x.yaml",
	} {
		if got := red.clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStripTplText(t *testing.T) {
	in := `error calling tpl: cannot parse template "{{ .Values.x \"q\" }}": template: gotpl:1: bad; error during tpl function execution for "{{ fail .Values.y }}": boom`
	want := `error calling tpl: cannot parse template (template text): template: gotpl:1: bad; error during tpl function execution for (template text): boom`
	if got := stripTplText(in); got != want {
		t.Errorf("stripTplText = %q, want %q", got, want)
	}
}
