package sopsfile

import (
	"errors"
	"regexp"
	"strings"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
)

// encValue is the shape of a value sops encrypted, as sops' aes package
// parses it.
var encValue = regexp.MustCompile(`^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`)

// valueCipher is the sops.Cipher Decrypt hands to Tree.Decrypt: sops' own
// AES-GCM cipher, with three differences.
//
// It keeps the aes package's error text, which quotes the value it failed
// on (and a value that should have been encrypted can be a secret in
// plaintext), out of every error: it remembers the path of the value that
// failed, and Decrypt builds its error from that.
//
// A comment that fails to decrypt is returned as it is, which is what
// Tree.Decrypt does with it after logging it on sops' global logger; no
// log is written.
//
// A value of type "bytes", which sops never writes and on which its cipher
// panics, fails to decrypt.
type valueCipher struct {
	aes      aes.Cipher
	comments map[string]sops.Comment
	failure  *valueFailure // of the last call, nil if it succeeded
	// plain are the values decrypted, comments left out.
	plain []plainValue
}

type plainValue struct {
	ciphertext string
	plaintext  any
}

type valueFailure struct {
	path      string
	encrypted bool // shaped as an encrypted value
}

var errValue = errors.New("sopsfile: value does not decrypt")

func newValueCipher(comments map[string]sops.Comment) *valueCipher {
	return &valueCipher{aes: aes.NewCipher(), comments: comments}
}

// Encrypt refuses: Decrypt never encrypts.
func (c *valueCipher) Encrypt(any, []byte, string) (string, error) {
	return "", errors.New("sopsfile: encrypt is not supported")
}

// Decrypt decrypts one value (or comment) with the data key; additionalData
// is the value's path, keys joined with ":" and ended with one.
func (c *valueCipher) Decrypt(ciphertext string, key []byte, additionalData string) (any, error) {
	m := encValue.FindStringSubmatch(ciphertext)
	// The type is not authenticated, and the aes package panics on a
	// "bytes" value (it keeps each plaintext as a map key), which sops
	// never writes: whoever can edit the file could crash the daemon.
	if m == nil || m[4] != "bytes" {
		v, err := c.aes.Decrypt(ciphertext, key, additionalData)
		if err == nil {
			c.failure = nil
			if _, isComment := v.(sops.Comment); !isComment {
				c.plain = append(c.plain, plainValue{ciphertext, v})
			}
			return v, nil
		}
	}
	if comment, ok := c.comments[ciphertext]; ok {
		c.failure = nil
		return comment, nil
	}
	c.failure = &valueFailure{
		path:      strings.TrimSuffix(additionalData, ":"),
		encrypted: m != nil,
	}
	return nil, errValue
}

// explain turns the failure of Tree.Decrypt into Decrypt's error.
func (c *valueCipher) explain(f Format) error {
	switch {
	case c.failure == nil:
		return f.errorf(ErrMalformed, "a value has a type sops cannot decrypt, or is not encrypted though the file's rules say it should be")
	case c.failure.encrypted:
		return f.errorf(ErrTampered, "the value at %q does not decrypt: changed or truncated ciphertext, or changed type", c.failure.path)
	}
	return f.errorf(ErrTampered, "the value at %q is not encrypted, though the file's rules say it should be", c.failure.path)
}
