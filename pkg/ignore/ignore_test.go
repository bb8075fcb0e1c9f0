package ignore

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/yamlconf"
)

func date(s string) yamlconf.Date {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return yamlconf.Date{Time: t}
}

func TestApplyOnEveryLayer(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	rules := []Rule{
		{Layer: drift.LayerInfra, Object: "module.edge.aws_security_group.*", Reason: "managed by the edge team"},
		{Layer: drift.LayerNode, Target: "node3", Object: "/etc/systemd/system/*.d/99-*.conf"},
		{Layer: drift.LayerApp, Kind: "Deployment", Name: "web-*"},
		{Layer: drift.LayerApp, Object: "ConfigMap/debug"},
		{Layer: drift.LayerInfra, Kind: "local_file", Name: "old", Expires: date("2026-11-21"), Reason: "migration"},
		{Layer: drift.LayerInfra, Kind: "local_file", Name: "today", Expires: date("2026-11-22")},
		{Layer: drift.LayerApp, Kind: "Service", Paths: []string{"/spec/ports"}}, // paths: applied by the layer
	}
	f := func(objs ...string) []drift.Finding {
		var out []drift.Finding
		for _, o := range objs {
			out = append(out, drift.Finding{Object: o, Change: drift.ChangeChanged})
		}
		return out
	}
	rep := drift.Report{Layers: []drift.LayerResult{
		{Layer: drift.LayerInfra, Targets: []drift.TargetResult{{Name: "net", Findings: f(
			"module.edge.aws_security_group.web", "aws_security_group.web", "local_file.old", "local_file.today", "module.a.module.b.local_file.today[0]")}}},
		{Layer: drift.LayerNode, Targets: []drift.TargetResult{
			{Name: "node3", Findings: f("/etc/systemd/system/kubelet.service.d/99-debug.conf", "/etc/systemd/system/kubelet.service.d/10-flags.conf")},
			{Name: "node2", Findings: f("/etc/systemd/system/kubelet.service.d/99-debug.conf")},
		}},
		{Layer: drift.LayerApp, Targets: []drift.TargetResult{{Name: "shop", Findings: f(
			"apps/Deployment/shop/web-1", "apps/Deployment/shop/api", "core/ConfigMap/shop/debug", "core/Service/shop/web-1")}}},
	}}
	New(rules, now).Apply(&rep)
	got := map[string][]string{}
	ignored := map[string][]string{}
	for _, l := range rep.Layers {
		for _, tr := range l.Targets {
			for _, x := range tr.Findings {
				got[tr.Name] = append(got[tr.Name], x.Object)
			}
			for _, x := range tr.Ignored {
				ignored[tr.Name] = append(ignored[tr.Name], x.Object)
				if x.Details["ignored_by"] == "" {
					t.Errorf("%s: no ignored_by", x.Object)
				}
			}
		}
	}
	want := map[string][]string{
		"net":   {"aws_security_group.web", "local_file.old"},
		"node3": {"/etc/systemd/system/kubelet.service.d/10-flags.conf"},
		"node2": {"/etc/systemd/system/kubelet.service.d/99-debug.conf"},
		"shop":  {"apps/Deployment/shop/api", "core/Service/shop/web-1"},
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s: kept %v, want %v (ignored %v)", k, got[k], w, ignored[k])
		}
	}
	if len(rep.Notices) != 1 || !slices.ContainsFunc(rep.Notices, func(n string) bool {
		return n == "ignore[4] expired on 2026-11-21: what it ignored is reported again (reason: migration)"
	}) {
		t.Errorf("notices %q, want the expired rule", rep.Notices)
	}
	if p := New(rules, now).Paths(drift.LayerApp, "shop", ObjectOf(drift.LayerApp, "core/Service/shop/web-1")); !slices.Equal(p, []string{"/spec/ports"}) {
		t.Errorf("paths %v", p)
	}
}

func TestValidateRulesThatCannotMatch(t *testing.T) {
	for _, tc := range []struct {
		rule Rule
		want string
	}{
		{Rule{Layer: "terraform"}, `unknown layer "terraform"`},
		{Rule{Layer: drift.LayerNode, Kind: "Deployment"}, "the node layer has no kind"},
		{Rule{Layer: drift.LayerNode, Paths: []string{"/a"}}, "has no paths"},
		{Rule{Layer: drift.LayerInfra, Managers: []string{"kubectl-edit"}}, "only the app layer has field managers"},
		{Rule{Object: "[x"}, "not a valid glob"},
		{Rule{Paths: []string{"spec.replicas"}}, "not a JSON Pointer"},
	} {
		errs := tc.rule.Validate()
		if len(errs) != 1 || !strings.Contains(errs[0].Msg, tc.want) {
			t.Errorf("%+v: %v, want %q", tc.rule, errs, tc.want)
		}
	}
	if errs := (Rule{Layer: drift.LayerApp, Managers: []string{"kube-controller-manager"}}).Validate(); len(errs) != 0 {
		t.Errorf("a valid rule: %v", errs)
	}
}
