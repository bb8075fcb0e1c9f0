package sopsfile

import (
	"bytes"
	"testing"
)

// TestAttackValuesOfTamperedFile: Values tells a caller each encrypted
// value's plaintext, which the app layer then puts where kustomize moved
// the ciphertext. A file whose MAC fails (a value changed, or one value
// copied in from another file encrypted with the same key) must report
// no plaintext at all, and a file that decrypts reports each value once.
func TestAttackValuesOfTamperedFile(t *testing.T) {
	id, keys := newIdentity(t)
	enc, _ := encryptFile(t, []byte("a: first-secret\nb: second-secret\nn: 5\n"), YAML, oneRecipient(id.Recipient().String()))
	got := map[string]any{}
	if _, err := keys.Decrypt(enc, YAML, Values(func(c string, v any) { got[c] = v })); err != nil {
		t.Fatal(err)
	}
	plain := map[any]bool{}
	for c, v := range got {
		if !bytes.Contains(enc, []byte(c)) {
			t.Errorf("reported ciphertext %q is not in the file", c)
		}
		plain[v] = true
	}
	if len(got) != 3 || !plain["first-secret"] || !plain["second-secret"] || !plain[5] {
		t.Errorf("values %v, want the three values", got)
	}

	// The second value's ciphertext moved onto the first key: each value
	// still decrypts (sops authenticates a value with its path, so not
	// this one), or the MAC fails. Either way nothing is reported.
	lines := bytes.Split(enc, []byte("\n"))
	var a, b int
	for i, l := range lines {
		switch {
		case bytes.HasPrefix(l, []byte("a: ")):
			a = i
		case bytes.HasPrefix(l, []byte("b: ")):
			b = i
		}
	}
	lines[a] = append([]byte("a: "), bytes.TrimPrefix(lines[b], []byte("b: "))...)
	tampered := bytes.Join(lines, []byte("\n"))
	reported := 0
	if _, err := keys.Decrypt(tampered, YAML, Values(func(string, any) { reported++ })); err == nil || reported > 0 {
		t.Errorf("tampered file: error %v, %d values reported", err, reported)
	}
}
