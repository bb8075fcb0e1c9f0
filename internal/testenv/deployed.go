package testenv

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The ServiceAccount that deploy/base runs driftd as.
const (
	DeployedNamespace      = "driftd"
	DeployedServiceAccount = "driftd"
)

// deployedRBACKinds are the kinds of deploy/base that DeployedKubeconfig
// applies: who driftd is and what it may do, and nothing that would run.
var deployedRBACKinds = map[string]bool{
	"Namespace": true, "ServiceAccount": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
}

// DeployedKubeconfig returns the path of a kubeconfig (in t.TempDir()) that
// authenticates as the ServiceAccount driftd/driftd with exactly the RBAC
// that deploy/base grants it, so a test sees what the deployed driftd
// would: its Namespace, ServiceAccount, ClusterRoles, Roles and their
// bindings are applied as admin (server-side, field manager
// "driftd-testenv", forcing conflicts), and a 2-hour token comes from the
// API server's TokenRequest API (`kubectl create token`). The apply and the
// token happen once per Kube; every call writes its own kubeconfig. A test
// that changes driftd's RBAC afterwards (an overlay) changes what the token
// may do, as on a real cluster.
func (k *Kube) DeployedKubeconfig(t testing.TB) string {
	t.Helper()
	token, err := k.deployedToken()
	if err != nil {
		t.Fatalf("deployed ServiceAccount %s/%s: %v", DeployedNamespace, DeployedServiceAccount, err)
	}
	ca, err := os.ReadFile(filepath.Join(k.State, "certs", "apiserver.crt"))
	if err != nil {
		t.Fatalf("the test API server's CA: %v", err)
	}
	user := "system:serviceaccount:" + DeployedNamespace + ":" + DeployedServiceAccount
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: driftd-test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: driftd-test
  context: {cluster: driftd-test, user: %q, namespace: %s}
current-context: driftd-test
`, k.Server, base64.StdEncoding.EncodeToString(ca), user, token, user, DeployedNamespace)
	path := filepath.Join(t.TempDir(), "deployed-kubeconfig")
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatalf("write the deployed ServiceAccount's kubeconfig: %v", err)
	}
	return path
}

// deployedToken applies deploy/base's RBAC and returns a token for its
// ServiceAccount, once per Kube.
func (k *Kube) deployedToken() (string, error) {
	k.deployedMu.Lock()
	defer k.deployedMu.Unlock()
	if k.saToken != "" {
		return k.saToken, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := filepath.Join(Dir(), "..", "deploy", "base")
	rendered, err := k.kubectl(ctx, nil, "kustomize", base)
	if err != nil {
		return "", fmt.Errorf("render %s: %w", base, err)
	}
	rbac, err := rbacDocs(rendered)
	if err != nil {
		return "", fmt.Errorf("render %s: %w", base, err)
	}
	if _, err := k.kubectl(ctx, rbac, "apply", "--server-side", "--force-conflicts", "--field-manager=driftd-testenv", "-f", "-"); err != nil {
		return "", fmt.Errorf("apply the RBAC of %s: %w", base, err)
	}
	// The RBAC authorizer follows the apply through an informer: wait until
	// it grants what deploy/base's driftd-read does, so the first request
	// made with the token is not refused.
	user := "system:serviceaccount:" + DeployedNamespace + ":" + DeployedServiceAccount
	for {
		out, _ := k.kubectl(ctx, nil, "auth", "can-i", "--as="+user, "list", "namespaces")
		if strings.TrimSpace(string(out)) == "yes" {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the applied ClusterRole driftd-read does not let %s list namespaces (auth can-i: %q): %w", user, strings.TrimSpace(string(out)), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	out, err := k.kubectl(ctx, nil, "create", "token", DeployedServiceAccount, "-n", DeployedNamespace, "--duration=2h")
	if err != nil {
		return "", fmt.Errorf("request a token: %w", err)
	}
	token := strings.TrimSpace(string(out))
	if token == "" {
		return "", fmt.Errorf("request a token: kubectl create token printed nothing")
	}
	k.saToken = token
	return token, nil
}

// kubectl runs kubectl as admin, with stdin when it is not nil, and returns
// its standard output; an error carries the standard error.
func (k *Kube) kubectl(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, k.Kubectl, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// rbacDocs keeps the documents of a rendered kustomization whose kind is in
// deployedRBACKinds.
func rbacDocs(rendered []byte) ([]byte, error) {
	var keep []string
	for _, doc := range strings.Split(string(rendered), "\n---\n") {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return nil, fmt.Errorf("a rendered document: %w", err)
		}
		if deployedRBACKinds[meta.Kind] {
			keep = append(keep, strings.TrimSpace(doc))
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("no Namespace, ServiceAccount or RBAC object in it")
	}
	return []byte(strings.Join(keep, "\n---\n") + "\n"), nil
}
