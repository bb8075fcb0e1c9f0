package sopsfile

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getsops/sops/v3"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "re-encrypt the fixtures in testdata with testdata/"+testKeyFile)

// testKeyFile is the age key the fixtures are encrypted to. It is public,
// in Git, and protects nothing but them.
const testKeyFile = "TEST-ONLY-age-key.txt"

// TestFixtures decrypts encrypted files checked into testdata, so that the
// format on disk is covered, not only what this sops version writes today.
// go test -run TestFixtures -args -update rewrites them from their plaintext.
func TestFixtures(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", testKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys, err := ParseAgeKeys(f)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		plain, encrypted string
		rules            func(*sops.Metadata)
		inCiphertext     []string
	}{
		{
			plain: "secret.yaml", encrypted: "secret.enc.yaml",
			rules:        func(md *sops.Metadata) { md.EncryptedRegex = "^(data|stringData)$" },
			inCiphertext: []string{"name: db", "name: tls", "kind: Secret", "type: kubernetes.io/tls"},
		},
		{
			plain: "config.json", encrypted: "config.enc.json",
			inCiphertext: []string{`"owner_unencrypted": "team-a"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.encrypted, func(t *testing.T) {
			plain, err := os.ReadFile(filepath.Join("testdata", tt.plain))
			if err != nil {
				t.Fatal(err)
			}
			format, ok := FormatOf(tt.encrypted)
			if !ok {
				t.Fatalf("FormatOf(%q) failed", tt.encrypted)
			}
			path := filepath.Join("testdata", tt.encrypted)
			if *update {
				enc, _ := encryptFile(t, plain, format, encryption{groups: [][]string{keys.Recipients()}, rules: tt.rules})
				if err := os.WriteFile(path, enc, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			enc, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(enc), "PLAINTEXT") {
				t.Errorf("%s holds plaintext", path)
			}
			for _, s := range tt.inCiphertext {
				if !strings.Contains(string(enc), s) {
					t.Errorf("%s lacks %q", path, s)
				}
			}
			if !IsEncrypted(enc) {
				t.Errorf("IsEncrypted(%s) = false", path)
			}
			got, err := keys.Decrypt(enc, format)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(documents(t, plain), documents(t, got)); diff != "" {
				t.Errorf("Decrypt(%s) mismatch (-plain +decrypted):\n%s", path, diff)
			}
		})
	}
}
