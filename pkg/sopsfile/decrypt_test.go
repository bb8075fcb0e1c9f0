package sopsfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

const secretManifest = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
  labels:
    app: db
type: Opaque
stringData:
  password: s3cr3t-PLAINTEXT-value
  port: "5432"
data:
  token: dG9rZW4tUExBSU5URVhU
`

// documents parses a YAML or JSON stream into one value per document.
func documents(t *testing.T, data []byte) []any {
	t.Helper()
	var docs []any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("parse %q: %v", data, err)
		}
		docs = append(docs, v)
	}
}

func TestDecryptRoundTrip(t *testing.T) {
	id, keys := newIdentity(t)
	recipient := id.Recipient().String()
	fluxRegex := func(md *sops.Metadata) { md.EncryptedRegex = "^(data|stringData)$" }
	tests := []struct {
		name   string
		format Format
		plain  string
		enc    encryption
		// inCiphertext are strings that must stay in plaintext in the
		// encrypted file, notIn strings that must not.
		inCiphertext, notInCiphertext []string
	}{
		{
			name: "yaml secret", format: YAML, plain: secretManifest,
			enc:             oneRecipient(recipient),
			notInCiphertext: []string{"s3cr3t-PLAINTEXT-value", "dG9rZW4tUExBSU5URVhU", "name: db"},
		},
		{
			name: "yaml secret with the encrypted_regex Flux recommends", format: YAML, plain: secretManifest,
			enc:             encryption{groups: [][]string{{recipient}}, rules: fluxRegex},
			inCiphertext:    []string{"name: db", "namespace: prod", "kind: Secret", "app: db", "encrypted_regex: ^(data|stringData)$"},
			notInCiphertext: []string{"s3cr3t-PLAINTEXT-value", "dG9rZW4tUExBSU5URVhU", "5432"},
		},
		{
			name: "yaml multi-document", format: YAML,
			plain:           secretManifest + "---\n" + strings.ReplaceAll(secretManifest, "name: db", "name: cache"),
			enc:             encryption{groups: [][]string{{recipient}}, rules: fluxRegex},
			inCiphertext:    []string{"name: db", "name: cache"},
			notInCiphertext: []string{"s3cr3t-PLAINTEXT-value"},
		},
		{
			name: "yaml with comments, lists and scalars", format: YAML,
			plain: "# head comment\nlist:\n  - a # inline\n  - 2\n  - true\n  - 1.5\n  - null\nnested:\n  deep:\n    deeper: [x, y]\nempty: \"\"\n",
			enc:   oneRecipient(recipient),
		},
		{
			name: "yaml unencrypted_suffix", format: YAML,
			plain:           "user_unencrypted: admin\npassword: s3cr3t-PLAINTEXT-value\n",
			enc:             oneRecipient(recipient),
			inCiphertext:    []string{"user_unencrypted: admin"},
			notInCiphertext: []string{"s3cr3t-PLAINTEXT-value"},
		},
		{
			name: "yaml mac_only_encrypted", format: YAML, plain: secretManifest,
			enc: encryption{groups: [][]string{{recipient}}, rules: func(md *sops.Metadata) {
				fluxRegex(md)
				md.MACOnlyEncrypted = true
			}},
			inCiphertext: []string{"name: db"},
		},
		{
			name: "yaml encrypted_comment_regex", format: YAML,
			plain:           "public: 1\n# encrypt-next\npassword: s3cr3t-PLAINTEXT-value\n",
			enc:             encryption{groups: [][]string{{recipient}}, rules: func(md *sops.Metadata) { md.EncryptedCommentRegex = "encrypt-next" }},
			inCiphertext:    []string{"public: 1"},
			notInCiphertext: []string{"s3cr3t-PLAINTEXT-value"},
		},
		{
			name: "json", format: JSON,
			plain:           `{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "s3cr3t-PLAINTEXT-value", "n": 3, "big": 9007199254740993, "f": 1.5, "b": false, "l": [1, "two", {"x": null}]}}`,
			enc:             oneRecipient(recipient),
			notInCiphertext: []string{"s3cr3t-PLAINTEXT-value"},
		},
		{
			name: "json with the encrypted_regex Flux recommends", format: JSON,
			plain:           `{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "s3cr3t-PLAINTEXT-value"}}`,
			enc:             encryption{groups: [][]string{{recipient}}, rules: fluxRegex},
			inCiphertext:    []string{`"name": "db"`},
			notInCiphertext: []string{"s3cr3t-PLAINTEXT-value"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, _ := encryptFile(t, []byte(tt.plain), tt.format, tt.enc)
			for _, s := range tt.inCiphertext {
				if !bytes.Contains(enc, []byte(s)) {
					t.Errorf("encrypted file lacks %q:\n%s", s, enc)
				}
			}
			for _, s := range tt.notInCiphertext {
				if bytes.Contains(enc, []byte(s)) {
					t.Errorf("encrypted file holds %q:\n%s", s, enc)
				}
			}
			if !IsEncrypted(enc) {
				t.Errorf("IsEncrypted(encrypted file) = false")
			}
			if IsEncrypted([]byte(tt.plain)) {
				t.Errorf("IsEncrypted(plain file) = true")
			}
			got, err := keys.Decrypt(enc, tt.format)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if bytes.Contains(got, []byte("sops")) {
				t.Errorf("plaintext still holds sops metadata:\n%s", got)
			}
			if diff := cmp.Diff(documents(t, []byte(tt.plain)), documents(t, got)); diff != "" {
				t.Errorf("Decrypt mismatch (-plain +decrypted):\n%s\ndecrypted:\n%s", diff, got)
			}
			if tt.format == JSON && !json.Valid(got) {
				t.Errorf("Decrypt returned invalid JSON:\n%s", got)
			}
		})
	}
}

// TestDecryptYAMLMultiDocument pins down what the sops YAML store does with
// several documents: it writes the metadata into each, reads it from the
// first, encrypts every document with the one data key and emits them all.
func TestDecryptYAMLMultiDocument(t *testing.T) {
	id, keys := newIdentity(t)
	plain := "a: 1\n---\nb: 2\n---\nc: 3\n"
	enc, _ := encryptFile(t, []byte(plain), YAML, oneRecipient(id.Recipient().String()))
	if n := bytes.Count(enc, []byte("\nsops:")); n != 3 {
		t.Errorf("encrypted file has sops metadata in %d documents, want 3:\n%s", n, enc)
	}
	got, err := keys.Decrypt(enc, YAML)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a: 1\n---\nb: 2\n---\nc: 3\n"; string(got) != want {
		t.Errorf("Decrypt = %q, want %q", got, want)
	}

	// The metadata of the first document is the one sops reads: without it
	// the file is malformed, not plaintext.
	docs := strings.SplitN(string(enc), "---\n", 2)
	first := docs[0][:strings.Index(docs[0], "sops:")]
	_, err = keys.Decrypt([]byte(first+"---\n"+docs[1]), YAML)
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("Decrypt(first document without metadata) = %v, want ErrMalformed", err)
	}
}

func TestDecryptKeys(t *testing.T) {
	id1, keys1 := newIdentity(t)
	id2, keys2 := newIdentity(t)
	id3, _ := newIdentity(t)
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	pqKeys, err := ParseAgeKeys(strings.NewReader(pq.String()))
	if err != nil {
		t.Fatal(err)
	}
	both, err := ParseAgeKeys(strings.NewReader(id3.String() + "\n" + id2.String() + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	r1, r2, r3 := id1.Recipient().String(), id2.Recipient().String(), id3.Recipient().String()
	tests := []struct {
		name    string
		enc     encryption
		keys    *Keys
		wantErr error
		wantMsg string
	}{
		{name: "one of several recipients", enc: encryption{groups: [][]string{{r1, r2}}}, keys: keys2},
		{name: "second of several identities", enc: oneRecipient(r2), keys: both},
		{name: "post-quantum recipient", enc: oneRecipient(pq.Recipient().String()), keys: pqKeys},
		{name: "wrong key", enc: encryption{groups: [][]string{{r1, r3}}}, keys: keys2, wantErr: ErrNoKey,
			wantMsg: "none of the 1 configured age identities matches the file's 2 age recipients"},
		{name: "shamir 2 of 3 groups, keys for 2", enc: encryption{groups: [][]string{{r1}, {r2}, {r3}}, threshold: 2}, keys: both},
		{name: "shamir 2 of 3 groups, key for 1", enc: encryption{groups: [][]string{{r1}, {r2}, {r3}}, threshold: 2}, keys: keys2, wantErr: ErrNoKey,
			wantMsg: "1 of the 2 key groups needed (of 3) could be unwrapped"},
		{name: "shamir all 2 groups by default", enc: encryption{groups: [][]string{{r1}, {r2}}}, keys: keys2, wantErr: ErrNoKey,
			wantMsg: "1 of the 2 key groups needed (of 2)"},
		{name: "shamir all 2 groups by default, both keys", enc: encryption{groups: [][]string{{r3}, {r2}}}, keys: both},
		{name: "shamir 3 groups, threshold removed, 2 keys", enc: encryption{groups: [][]string{{r1}, {r2}, {r3}}, threshold: 2, edit: dropThreshold}, keys: both},
		{name: "shamir 3 groups, threshold removed, 1 key", enc: encryption{groups: [][]string{{r1}, {r2}, {r3}}, threshold: 2, edit: dropThreshold}, keys: keys2, wantErr: ErrNoKey,
			wantMsg: "1 of the 2 key groups needed (of 3)"},
		{name: "shamir threshold above the groups", enc: encryption{groups: [][]string{{r1}, {r2}}, edit: func(tree *sops.Tree, _ []byte) { tree.Metadata.ShamirThreshold = 3 }}, keys: both, wantErr: ErrMalformed,
			wantMsg: "shamir_threshold 3 with 2 key groups"},
		{name: "pgp and kms keys only", enc: encryption{groups: [][]string{{r1}}, edit: otherKeysOnly}, keys: keys1, wantErr: ErrNoKey,
			wantMsg: "the file has no age recipient; it also has keys of type kms, pgp, which are not tried"},
		{name: "age and pgp keys, wrong age key", enc: encryption{groups: [][]string{{r3}}, edit: addPGPKey}, keys: keys1, wantErr: ErrNoKey,
			wantMsg: "matches the file's 1 age recipient; it also has keys of type pgp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, _ := encryptFile(t, []byte(secretManifest), YAML, tt.enc)
			got, err := tt.keys.Decrypt(enc, YAML)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				if !bytes.Contains(got, []byte("s3cr3t-PLAINTEXT-value")) {
					t.Errorf("Decrypt = %s", got)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decrypt error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Decrypt error = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

// otherKeysOnly replaces the file's keys with a pgp and an AWS KMS key.
func otherKeysOnly(tree *sops.Tree, _ []byte) {
	tree.Metadata.KeyGroups = []sops.KeyGroup{{pgpKey(), kmsKey()}}
}

// dropThreshold removes shamir_threshold, which sops always writes with
// several key groups.
func dropThreshold(tree *sops.Tree, _ []byte) { tree.Metadata.ShamirThreshold = 0 }

// addPGPKey adds a pgp key to the file's one key group.
func addPGPKey(tree *sops.Tree, _ []byte) {
	tree.Metadata.KeyGroups[0] = append(tree.Metadata.KeyGroups[0], pgpKey())
}

func TestDecryptConcurrent(t *testing.T) {
	id, keys := newIdentity(t)
	enc, _ := encryptFile(t, []byte(secretManifest), YAML, oneRecipient(id.Recipient().String()))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := keys.Decrypt(enc, YAML); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestDecryptArguments(t *testing.T) {
	id, keys := newIdentity(t)
	enc, _ := encryptFile(t, []byte(secretManifest), YAML, oneRecipient(id.Recipient().String()))
	if _, err := keys.Decrypt(enc, 0); err == nil {
		t.Error("Decrypt(format 0) succeeded")
	}
	if _, err := (&Keys{}).Decrypt(enc, YAML); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "no age identities") {
		t.Errorf("Decrypt with no identities = %v", err)
	}
	var nilKeys *Keys
	if _, err := nilKeys.Decrypt(enc, YAML); !errors.Is(err, ErrNoKey) {
		t.Errorf("Decrypt with nil Keys = %v, want ErrNoKey", err)
	}
	// A YAML file read as JSON is malformed.
	if _, err := keys.Decrypt(enc, JSON); !errors.Is(err, ErrMalformed) {
		t.Errorf("Decrypt(yaml as json) = %v, want ErrMalformed", err)
	}
	for _, plain := range []string{"", secretManifest, `{"a": 1}`, "a: 1\n---\nb: 2\n"} {
		if _, err := keys.Decrypt([]byte(plain), YAML); !errors.Is(err, ErrNotEncrypted) {
			t.Errorf("Decrypt(%q) = %v, want ErrNotEncrypted", plain, err)
		}
	}
	if _, err := keys.Decrypt([]byte(`{"a": 1}`), JSON); !errors.Is(err, ErrNotEncrypted) {
		t.Errorf("Decrypt(plain json) = %v, want ErrNotEncrypted", err)
	}
}
