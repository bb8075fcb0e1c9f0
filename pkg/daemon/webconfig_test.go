package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestWebConfigBasicAuth: with basic_auth_users, every endpoint refuses a
// request without the credentials or with wrong ones, and takes one with
// them. That includes the probes and the webhook, because exporter-toolkit
// guards the whole server.
func TestWebConfigBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pa55"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "basic_auth_users:\n  prometheus: %s\n", hash), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &blockingChecker{started: make(chan struct{}, 10)}
	d, _ := newTestDaemon(t, c, "s3cret", func(o *Options) { o.WebConfigFile = cfg })
	addr := runDaemon(t, d, c)
	waitUntil(t, func() bool { return d.ready.Load() })
	do := func(method, path, user, pass string) int {
		t.Helper()
		payload := `{"ref":"refs/heads/main"}`
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(payload))
		req.Header.Set("X-Hub-Signature-256", githubSig("s3cret", payload))
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, e := range []struct {
		method, path string
		ok           int
	}{
		{"GET", "/", 200}, {"GET", "/api/v1/report", 200}, {"GET", "/metrics", 200},
		{"GET", "/healthz", 200}, {"GET", "/readyz", 200}, {"POST", "/hooks/git", 202},
	} {
		if code := do(e.method, e.path, "", ""); code != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: %d, want 401", e.method, e.path, code)
		}
		if code := do(e.method, e.path, "prometheus", "wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong password: %d, want 401", e.method, e.path, code)
		}
		if code := do(e.method, e.path, "intruder", "pa55"); code != http.StatusUnauthorized {
			t.Errorf("%s %s as an unknown user: %d, want 401", e.method, e.path, code)
		}
		if code := do(e.method, e.path, "prometheus", "pa55"); code != e.ok {
			t.Errorf("%s %s with credentials: %d, want %d", e.method, e.path, code, e.ok)
		}
	}
}

// TestWebConfigTLS: with tls_server_config, driftd serves HTTPS with the
// given certificate and refuses plain HTTP.
func TestWebConfigTLS(t *testing.T) {
	dir := t.TempDir()
	pool := selfSignedCert(t, dir)
	cfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "tls_server_config:\n  cert_file: %s/tls.crt\n  key_file: %s/tls.key\n", dir, dir), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &blockingChecker{started: make(chan struct{}, 10)}
	d, _ := newTestDaemon(t, c, "", func(o *Options) { o.WebConfigFile = cfg })
	addr := runDaemon(t, d, c)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("HTTPS /metrics: %d (TLS %v), want 200 over TLS", resp.StatusCode, resp.TLS != nil)
	}
	resp, err = http.Get("http://" + addr + "/metrics")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP /metrics was served (%d), want it refused", resp.StatusCode)
		}
	}
}

// selfSignedCert writes tls.crt and tls.key for 127.0.0.1 into dir and
// returns a pool that trusts the certificate.
func selfSignedCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "driftd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}
