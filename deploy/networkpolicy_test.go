package deploy

import (
	"os"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestNetworkPolicyAdmitsOnlyListedPeers: the NetworkPolicy selects
// driftd's pods and admits to its HTTP port only peers chosen by both a
// namespace and a pod selector; no rule is open to everyone (an empty from,
// an empty selector, or no port), which would make the policy pointless.
func TestNetworkPolicyAdmitsOnlyListedPeers(t *testing.T) {
	b, err := os.ReadFile("base/networkpolicy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	var np struct {
		Kind string `yaml:"kind"`
		Spec struct {
			PodSelector selector `yaml:"podSelector"`
			PolicyTypes []string `yaml:"policyTypes"`
			Ingress     []struct {
				From []struct {
					NamespaceSelector *selector `yaml:"namespaceSelector"`
					PodSelector       *selector `yaml:"podSelector"`
				} `yaml:"from"`
				Ports []struct {
					Port string `yaml:"port"`
				} `yaml:"ports"`
			} `yaml:"ingress"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &np); err != nil {
		t.Fatal(err)
	}
	if np.Kind != "NetworkPolicy" || np.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] != "driftd" {
		t.Fatalf("the policy does not select driftd's pods: %+v", np)
	}
	if len(np.Spec.PolicyTypes) != 1 || np.Spec.PolicyTypes[0] != "Ingress" {
		t.Errorf("policyTypes %v, want [Ingress]", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 2 {
		t.Errorf("%d ingress rules, want 2 (the scraper and the webhook's sender)", len(np.Spec.Ingress))
	}
	for i, r := range np.Spec.Ingress {
		if len(r.From) == 0 {
			t.Errorf("ingress[%d] admits everyone: no from", i)
		}
		for j, f := range r.From {
			if f.NamespaceSelector == nil || len(f.NamespaceSelector.MatchLabels) == 0 || f.PodSelector == nil || len(f.PodSelector.MatchLabels) == 0 {
				t.Errorf("ingress[%d].from[%d] is not narrowed to named pods in a named namespace: %+v", i, j, f)
			}
		}
		if len(r.Ports) != 1 || r.Ports[0].Port != "http" {
			t.Errorf("ingress[%d] ports %+v, want only http", i, r.Ports)
		}
	}
}
