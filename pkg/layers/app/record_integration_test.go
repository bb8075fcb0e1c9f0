//go:build integration

package app

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/yamlconf"
)

var record = flag.Bool("record", false, "re-record testdata/readonly/*/live.yaml from a real kube-apiserver")

// readOnlyCase says how a testdata/readonly case was made: how Git was
// applied, then which kubectl commands changed it live.
type readOnlyCase struct {
	// Apply is the kubectl command that applies Git (apply, apply
	// --server-side, create, with a field manager).
	Apply []string `yaml:"apply"`
	// Applied, when set, is the file applied instead of git.yaml: what
	// Git held before a change that was never applied.
	Applied string `yaml:"applied"`
	// Controllers runs kube-controller-manager, so that controllers write
	// status, revision annotations and owned objects.
	Controllers bool `yaml:"controllers"`
	// Env is added to the commands' environment (KUBE_EDITOR).
	Env map[string]string `yaml:"env"`
	// Commands are kubectl commands run in the case's namespace.
	Commands [][]string `yaml:"commands"`
}

// TestRecordReadOnly re-records the live objects of TestReadOnlyGolden:
// each case is applied to a real kube-apiserver in a fresh namespace and
// changed with real kubectl commands, and the object, managedFields
// included, is written to live.yaml with the namespace renamed to shop. It
// runs only with -record; review want.diff after `go test -update`.
func TestRecordReadOnly(t *testing.T) {
	if !*record {
		t.Skip("run with -record to re-record testdata/readonly")
	}
	cases, _ := filepath.Glob("testdata/readonly/*/case.yaml")
	plain, withControllers := testenv.KubeForTest(t), testenv.KubeForTest(t, testenv.WithControllers())
	for i, file := range cases {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var c readOnlyCase
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := yamlconf.DecodeStrict(file, b, &c); err != nil {
				t.Fatal(err)
			}
			k := plain
			if c.Controllers {
				k = withControllers
			}
			ns := fmt.Sprintf("rec%d", i)
			kubectl := func(env map[string]string, args ...string) string {
				t.Helper()
				cmd := exec.Command(k.Kubectl, append([]string{"--kubeconfig", k.Kubeconfig, "-n", ns}, args...)...)
				cmd.Env = os.Environ()
				for k, v := range env {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			kubectl(nil, "create", "namespace", ns)
			src := filepath.Join(dir, "git.yaml")
			if c.Applied != "" {
				src = filepath.Join(dir, c.Applied)
			}
			manifest, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			tmp := filepath.Join(t.TempDir(), "object.yaml")
			if err := os.WriteFile(tmp, bytes.ReplaceAll(manifest, []byte("namespace: shop"), []byte("namespace: "+ns)), 0o644); err != nil {
				t.Fatal(err)
			}
			kubectl(nil, append(c.Apply, "-f", tmp)...)
			for _, cmd := range c.Commands {
				kubectl(c.Env, cmd...)
			}
			git := readObject(t, filepath.Join(dir, "git.yaml"))
			live := kubectl(nil, "get", "-o", "yaml", "--show-managed-fields", strings.ToLower(git.GetKind())+"/"+git.GetName())
			live = strings.ReplaceAll(live, "namespace: "+ns, "namespace: shop")
			live = strings.ReplaceAll(live, `\"namespace\":\"`+ns+`\"`, `\"namespace\":\"shop\"`)
			if err := os.WriteFile(filepath.Join(dir, "live.yaml"), []byte(live), 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}
