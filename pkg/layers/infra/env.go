package infra

import (
	"path"
	"strings"
)

// baseEnv are the variables every terraform process gets from driftd's
// environment: what a process needs to run and reach the network.
var baseEnv = []string{"PATH", "HOME", "USER", "TMPDIR", "TZ", "LANG", "LC_*",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "TF_CLI_CONFIG_FILE", "TF_PLUGIN_CACHE_DIR"}

// buildEnv builds terraform's environment from driftd's own (environ):
// only the variables baseEnv and pass name (exact names or globs), never
// those in deny (driftd's own credentials), then layerEnv and stackEnv
// from the config, then driftd's settings, which win.
func buildEnv(environ, pass, deny []string, layerEnv, stackEnv, driftd map[string]string) map[string]string {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || matchAny(deny, k) {
			continue
		}
		if matchAny(baseEnv, k) || matchAny(pass, k) {
			env[k] = v
		}
	}
	for _, m := range []map[string]string{layerEnv, stackEnv, driftd} {
		for k, v := range m {
			env[k] = v
		}
	}
	return env
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if p == name {
			return true
		}
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// PassedEnv returns the variables terraform gets from environ (driftd's
// own environment) under this config, for every stack, with the config's
// own env: what a check of a pull request must keep out of the checkout.
func (c Config) PassedEnv(environ []string) map[string]string {
	out := buildEnv(environ, c.PassEnv, nil, c.Env, nil, nil)
	for _, st := range c.Stacks {
		for k, v := range st.Env {
			out[k] = v
		}
	}
	return out
}
