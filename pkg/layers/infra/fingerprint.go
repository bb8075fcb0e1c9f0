package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// initFingerprint identifies everything `terraform init` depends on that
// lives in the stack: its configuration files and lock file (which hold the
// backend block and the provider versions), plus the binary, the workspace
// and the environment settings that change what init does (backend
// settings passed as TF_CLI_ARGS_init, the CLI config that says where
// providers come from). While it is unchanged, init is skipped, which saves a
// process start and 0.2 to 0.5 s per stack and check. A dependency outside
// the stack (a local module gaining a provider) is caught when plan asks for
// init, and then init runs.
func initFingerprint(dir, binary string, st Stack, env map[string]string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read stack dir: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && (strings.HasSuffix(n, ".tf") || strings.HasSuffix(n, ".tf.json") || n == ".terraform.lock.hcl") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", binary, st.Workspace)
	for _, k := range initEnv() {
		fmt.Fprintf(h, "%s=%s\x00", k, env[k])
	}
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			return "", fmt.Errorf("fingerprint stack: %w", err)
		}
		fmt.Fprintf(h, "%s\x00", n)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("fingerprint stack: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// initEnv names the environment variables whose values init depends on.
// Credentials are left out: a changed key does not need a new init, and
// its hash has no business in a file.
func initEnv() []string {
	return []string{"TF_CLI_ARGS", "TF_CLI_ARGS_init", "TF_CLI_CONFIG_FILE", "TERRAFORM_CONFIG", "TF_PLUGIN_CACHE_DIR", "TF_REGISTRY_DISCOVERY_RETRY", "TF_WORKSPACE"}
}
