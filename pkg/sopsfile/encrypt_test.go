package sopsfile

import (
	"bytes"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"

	"github.com/driftd/driftd/internal/sopstest"
)

// encryption says how encryptFile encrypts, as a .sops.yaml creation rule
// would.
type encryption struct {
	groups    [][]string // age recipients, per key group
	threshold int        // shamir_threshold, with several groups
	// rules sets encrypted_regex, unencrypted_suffix and the like on the
	// metadata before encryption.
	rules func(*sops.Metadata)
	// edit changes the encrypted tree before it is written, to add keys
	// of other types or break the metadata.
	edit func(tree *sops.Tree, dataKey []byte)
}

// encryptFile encrypts plain as "sops encrypt" does (cmd/sops/encrypt.go
// and common.EncryptTree): load it with the format's store, generate a data
// key wrapped for each recipient, encrypt the tree, encrypt its MAC with
// the last-modified time as additional data, and emit it with the
// metadata. It returns the file and the data key.
func encryptFile(t testing.TB, plain []byte, f Format, e encryption) ([]byte, []byte) {
	t.Helper()
	store, err := f.store()
	if err != nil {
		t.Fatal(err)
	}
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		t.Fatalf("load plain file: %v", err)
	}
	var groups []sops.KeyGroup
	for _, recipients := range e.groups {
		var g sops.KeyGroup
		for _, r := range recipients {
			mk, err := sopsage.MasterKeyFromRecipient(r)
			if err != nil {
				t.Fatal(err)
			}
			g = append(g, mk)
		}
		groups = append(groups, g)
	}
	md := sops.Metadata{
		KeyGroups:       groups,
		ShamirThreshold: e.threshold,
		Version:         "3.13.3", // the sops module driftd requires
	}
	if e.rules != nil {
		e.rules(&md)
	}
	if md.UnencryptedSuffix == "" && md.EncryptedSuffix == "" && md.UnencryptedRegex == "" && md.EncryptedRegex == "" &&
		md.UnencryptedCommentRegex == "" && md.EncryptedCommentRegex == "" {
		md.UnencryptedSuffix = sops.DefaultUnencryptedSuffix
	}
	tree := sops.Tree{Branches: branches, Metadata: md}
	key := sopstest.EncryptTree(t, &tree)
	if e.edit != nil {
		e.edit(&tree, key)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatalf("emit encrypted file: %v", err)
	}
	return out, key
}

// newIdentity returns a fresh X25519 identity and its Keys.
func newIdentity(t testing.TB) (*age.X25519Identity, *Keys) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseAgeKeys(strings.NewReader(id.String()))
	if err != nil {
		t.Fatal(err)
	}
	return id, k
}

// oneRecipient encrypts to r alone.
func oneRecipient(r string) encryption {
	return encryption{groups: [][]string{{r}}}
}

func TestEncryptFileHelper(t *testing.T) {
	id, _ := newIdentity(t)
	enc, _ := encryptFile(t, []byte("a: 1\n"), YAML, oneRecipient(id.Recipient().String()))
	if !bytes.Contains(enc, []byte("ENC[AES256_GCM,")) || !bytes.Contains(enc, []byte(id.Recipient().String())) {
		t.Fatalf("not a sops file:\n%s", enc)
	}
	t.Logf("%s", enc)
}
