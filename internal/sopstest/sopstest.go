// Package sopstest encrypts files as `sops encrypt` does, with age keys made
// in the test, for tests outside pkg/sopsfile that need SOPS-encrypted
// fixtures with content of their own (a namespace made for the test).
package sopstest

import (
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

// FluxRegex is the encrypted_regex Flux's documentation recommends for
// Secrets: metadata stays readable.
const FluxRegex = "^(data|stringData)$"

// NewIdentity returns a fresh age identity: String() is the key file's
// content, Recipient() the public key to encrypt to.
func NewIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// EncryptYAML encrypts a YAML file to recipient, as `sops encrypt
// --age RECIPIENT --encrypted-regex REGEX` does (with no regex, sops's
// default: every value but those with the _unencrypted suffix).
func EncryptYAML(t testing.TB, plain, recipient, encryptedRegex string) string {
	t.Helper()
	store := sopsyaml.NewStore(&config.YAMLStoreConfig{})
	branches, err := store.LoadPlainFile([]byte(plain))
	if err != nil {
		t.Fatalf("load plain file: %v", err)
	}
	mk, err := sopsage.MasterKeyFromRecipient(recipient)
	if err != nil {
		t.Fatal(err)
	}
	md := sops.Metadata{KeyGroups: []sops.KeyGroup{{mk}}, Version: "3.13.3", EncryptedRegex: encryptedRegex}
	if encryptedRegex == "" {
		md.UnencryptedSuffix = sops.DefaultUnencryptedSuffix
	}
	tree := sops.Tree{Branches: branches, Metadata: md}
	EncryptTree(t, &tree)
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatalf("emit: %v", err)
	}
	if !strings.Contains(string(out), "ENC[AES256_GCM,") {
		t.Fatalf("nothing was encrypted:\n%s", out)
	}
	return string(out)
}

// EncryptTree encrypts a tree in place as `sops encrypt` does
// (cmd/sops/encrypt.go and common.EncryptTree): a data key wrapped for its
// key groups, every value the metadata's rules select, and the MAC,
// encrypted with the last-modified time as additional data. It returns the
// data key.
func EncryptTree(t testing.TB, tree *sops.Tree) []byte {
	t.Helper()
	key, errs := tree.GenerateDataKeyWithKeyServices([]keyservice.KeyServiceClient{keyservice.NewLocalClient()})
	if len(errs) > 0 {
		t.Fatalf("generate data key: %v", errs)
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(key, cipher)
	if err != nil {
		t.Fatalf("encrypt tree: %v", err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		t.Fatalf("encrypt mac: %v", err)
	}
	return key
}
