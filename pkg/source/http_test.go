package source

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/testenv"
)

// gitHTTPServer serves the remote with git's own smart-HTTP backend behind
// basic auth that accepts only token.
func gitHTTPServer(t *testing.T, r *remote, token string) string {
	t.Helper()
	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		testenv.Unavailable(t, "git-http-backend not installed: %v", err)
	}
	h := &cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + filepath.Dir(r.bare), "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, pw, ok := req.BasicAuth(); !ok || pw != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(r.bare)
}

func TestGitHTTPSToken(t *testing.T) {
	const token = "s3cr3t-token-value"
	r := newRemote(t)
	rev := r.commit("first", map[string]string{"a.yaml": "v1\n"})
	url := gitHTTPServer(t, r, token)

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := repoConfig(t, url)
	cfg.Auth.TokenFile = tokenFile
	snap, st, err := NewGit(cfg, t.TempDir(), discard()).Sync(t.Context())
	if err != nil || snap.Revision != rev || !st.Synced {
		t.Fatalf("token from file: revision %s synced %v err %v", snap.Revision, st.Synced, err)
	}

	t.Setenv("DRIFTD_TEST_TOKEN", token)
	cfg = repoConfig(t, url)
	cfg.Auth.TokenEnv = "DRIFTD_TEST_TOKEN"
	if snap, _, err := NewGit(cfg, t.TempDir(), discard()).Sync(t.Context()); err != nil || snap.Revision != rev {
		t.Fatalf("token from env: revision %s err %v", snap.Revision, err)
	}

	t.Setenv("DRIFTD_TEST_TOKEN", "wrong-token-value")
	cfg = repoConfig(t, url)
	cfg.Auth.TokenEnv = "DRIFTD_TEST_TOKEN"
	_, st, err = NewGit(cfg, t.TempDir(), discard()).Sync(t.Context())
	if err == nil {
		t.Fatal("wrong token accepted")
	}
	for _, s := range []string{err.Error(), st.Error} {
		if strings.Contains(s, "wrong-token-value") || strings.Contains(s, token) {
			t.Errorf("error leaks the token: %s", s)
		}
	}
	if !strings.Contains(err.Error(), "authentication required") && !strings.Contains(err.Error(), "authorization failed") {
		t.Errorf("err = %v, want an authentication error", err)
	}

	cfg.Auth.TokenEnv = "DRIFTD_TEST_UNSET_VAR"
	if _, _, err := NewGit(cfg, t.TempDir(), discard()).Sync(t.Context()); err == nil || !strings.Contains(err.Error(), "DRIFTD_TEST_UNSET_VAR is empty or unset") {
		t.Errorf("unset token env: err = %v", err)
	}
}
