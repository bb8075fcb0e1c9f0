package infra

import (
	"log/slog"
	"testing"
)

func TestEnvOnlyWhatTerraformNeeds(t *testing.T) {
	t.Setenv("GIT_TOKEN", "ghp_secret")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIA")
	t.Setenv("DATABASE_PASSWORD", "hunter2")
	t.Setenv("HTTPS_PROXY", "http://proxy:3128")
	for _, tc := range []struct {
		name     string
		pass     []string
		want     []string
		wantNone []string
	}{
		{"default", []string{"AWS_*"}, []string{"AWS_ACCESS_KEY_ID", "HTTPS_PROXY", "PATH"}, []string{"GIT_TOKEN", "DATABASE_PASSWORD"}},
		{"pass everything", []string{"*"}, []string{"DATABASE_PASSWORD"}, []string{"GIT_TOKEN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := New(Config{PassEnv: tc.pass, Env: map[string]string{"FROM_LAYER": "1"}}, t.TempDir(), slog.New(slog.DiscardHandler))
			l.DenyEnv("GIT_TOKEN")
			env := l.env(Stack{Env: map[string]string{"FROM_STACK": "1"}}, "/data")
			for _, k := range append(tc.want, "FROM_LAYER", "FROM_STACK", "TF_DATA_DIR") {
				if _, ok := env[k]; !ok {
					t.Errorf("%s missing from terraform's environment", k)
				}
			}
			for _, k := range tc.wantNone {
				if v, ok := env[k]; ok {
					t.Errorf("%s=%s reached terraform", k, v)
				}
			}
		})
	}
}
