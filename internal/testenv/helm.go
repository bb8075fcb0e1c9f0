package testenv

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/driftd/driftd/pkg/helmrender"
	"github.com/driftd/driftd/pkg/repofs"
)

// HelmInstall installs a release of a chart of the repository at repo the
// way helm install does: the chart's own rendering (hooks and tests left
// out) with the given capabilities, applied server-side as an admin under
// helm's field manager.
func (k *Kube) HelmInstall(t testing.TB, repo string, req helmrender.Request, caps helmrender.Capabilities, opts helmrender.Options) {
	t.Helper()
	rfs, err := repofs.Open(repo, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	res, err := helmrender.Render(t.Context(), rfs, req, caps, opts)
	if err != nil {
		t.Fatalf("render %s: %v", req, err)
	}
	var b strings.Builder
	for _, m := range res.Objects {
		y, err := yaml.Marshal(m.Object.Object)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "---\n%s", y)
	}
	cmd := exec.Command(k.Kubectl, "--kubeconfig", k.Kubeconfig, "apply", "--server-side", "--field-manager=helm", "-n", req.Namespace, "-f", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install %s: %v\n%s", req, err, out)
	}
}
