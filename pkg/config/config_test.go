package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/google/go-cmp/cmp"
)

func TestLoadGood(t *testing.T) {
	c, err := LoadFile(filepath.Join("testdata", "good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Repo.PollInterval.Std() != 30*time.Second {
		t.Errorf("poll_interval = %v, want 30s", c.Repo.PollInterval.Std())
	}
	if c.Repo.Timeout.Std() != 2*time.Minute {
		t.Errorf("timeout default = %v, want 2m", c.Repo.Timeout.Std())
	}
	if c.Schedule.Expr != "*/10 * * * *" {
		t.Errorf("schedule = %q", c.Schedule.Expr)
	}
	if diff := cmp.Diff([]drift.LayerName{drift.LayerInfra}, c.Layers.Enabled()); diff != "" {
		t.Errorf("enabled layers (-want +got):\n%s", diff)
	}
	st := c.Layers.Infra.Stacks
	if st[0].Name != "terraform/network" || st[0].Timeout.Std() != 10*time.Minute {
		t.Errorf("stack 0 defaults: name %q timeout %v", st[0].Name, st[0].Timeout.Std())
	}
	if st[1].Name != "dns" || st[1].Timeout.Std() != 2*time.Minute {
		t.Errorf("stack 1: name %q timeout %v", st[1].Name, st[1].Timeout.Std())
	}
	if c.Layers.Node == nil || len(c.Layers.Node.Scopes) != 2 {
		t.Errorf("node scopes default not applied: %+v", c.Layers.Node)
	}
}

func TestLoadDefaultSchedule(t *testing.T) {
	c, err := Load("x.yaml", []byte("repo:\n  url: file:///r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Schedule.Expr != DefaultSchedule || c.Schedule.Cron == nil {
		t.Errorf("schedule = %+v, want default", c.Schedule)
	}
	if len(c.Layers.Enabled()) != 0 {
		t.Errorf("no layer configured, got %v", c.Layers.Enabled())
	}
}

func TestLoadInvalid(t *testing.T) {
	for _, tc := range []struct {
		file, want string
	}{
		{"invalid-unknown-key.yaml", `invalid-unknown-key.yaml:3: unknown field "brnach" in repo`},
		{"invalid-cron.yaml", `invalid-cron.yaml:3: invalid schedule "every five minutes": expected exactly 5 fields, found 3: [every five minutes]`},
		{"invalid-duration.yaml", `invalid-duration.yaml:3: invalid duration "5 minutes": use a number with a unit, such as "30s" or "5m"`},
		{"invalid-missing-repo.yaml", `invalid-missing-repo.yaml:1: repo.url: required: the URL of the config repository`},
		{"invalid-layer-setting.yaml", `invalid-layer-setting.yaml:7: unknown field "lock_timeout" in layers.infra.stacks.0`},
		{"invalid-unknown-layer.yaml", `invalid-unknown-layer.yaml:4: unknown field "terraform" in layers`},
		{"invalid-inline-token.yaml", `invalid-inline-token.yaml:4: unknown field "token" in repo.auth: credentials are never inlined; reference it with token_file or token_env`},
		{"invalid-url-token.yaml", `invalid-url-token.yaml:2: repo.url: credentials are never inlined in the URL; reference a token with repo.auth.token_file or token_env`},
		{"invalid-stack-dir.yaml", `invalid-stack-dir.yaml:6: layers.infra.stacks.0.dir: "../outside" must be a relative path inside the repo`},
		{"invalid-ignore-pointer.yaml", `invalid-ignore-pointer.yaml:5: ignore.0.paths.0: "spec.replicas" is not a JSON Pointer: it must start with /`},
		{"invalid-type.yaml", "invalid-type.yaml:5: cannot unmarshal !!str `four` into int"},
		{"invalid-syntax.yaml", `invalid-syntax.yaml:1: did not find expected ',' or ']'`},
		{"invalid-webhook-in-flight.yaml", `invalid-webhook-in-flight.yaml:5: serve.webhook.max_in_flight: must be at least 1`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := LoadFile(filepath.Join("testdata", tc.file))
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.TrimPrefix(err.Error(), "testdata/")
			if got != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	_, err := Load("d.yaml", []byte("repo:\n  urll: x\n  branch: main\n  timeout: soon\n"))
	if err == nil {
		t.Fatal("no error")
	}
	want := "d.yaml:2: unknown field \"urll\" in repo\nd.yaml:4: invalid duration \"soon\": use a number with a unit, such as \"30s\" or \"5m\""
	if err.Error() != want {
		t.Errorf("got:\n%s\nwant:\n%s", err, want)
	}
}
