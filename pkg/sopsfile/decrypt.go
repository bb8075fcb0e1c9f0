package sopsfile

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/getsops/sops/v3"
)

// Decrypt decrypts data, a SOPS-encrypted file of the given format, with
// the age identities of k, and returns the plaintext file in the same
// format, without the sops metadata. It verifies the MAC as "sops decrypt"
// does, and honours the file's encrypted_regex, unencrypted_suffix and
// similar rules, which leave some values in plaintext.
//
// Errors wrap ErrNotEncrypted, ErrNoKey, ErrTampered, ErrMalformed or
// ErrTooLarge, and never quote a decrypted value or key material. Note that
// the MAC proves a file was written by someone holding the data key, and
// anyone can encrypt a new file to a public age recipient: ErrTampered
// catches edits and corruption, not a forged file.
func (k *Keys) Decrypt(data []byte, format Format, opts ...Option) ([]byte, error) {
	store, err := format.store()
	if err != nil {
		return nil, err
	}
	if k.Len() == 0 {
		return nil, format.errorf(ErrNoKey, "no age identities (use ParseAgeKeys)")
	}
	o := newOptions(opts)
	withSops, err := format.check(data, o)
	if err != nil {
		return nil, err
	}
	var tree sops.Tree
	err = format.guard(func() (err error) {
		tree, err = store.LoadEncryptedFile(data)
		return err
	})
	switch {
	case errors.Is(err, errLibraryPanic):
		return nil, err
	case errors.Is(err, sops.MetadataNotFound) && withSops > 0:
		return nil, format.errorf(ErrMalformed, "the sops metadata is not in the first document")
	case errors.Is(err, sops.MetadataNotFound):
		return nil, format.errorf(ErrNotEncrypted, "no sops metadata")
	case err != nil:
		// The store only ever saw the encrypted file: its errors quote no
		// plaintext.
		return nil, format.errorf(ErrMalformed, "%v", err)
	}
	if err := format.checkMetadata(tree.Metadata); err != nil {
		return nil, err
	}
	w := newWalker(format, tree.Metadata)
	if err := w.walk(tree.Branches); err != nil {
		return nil, err
	}
	key, err := k.dataKey(format, tree.Metadata)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	out, c, err := format.decryptTree(store, tree, key, w.comments)
	if err == nil && o.values != nil {
		for _, v := range c.plain {
			o.values(v.ciphertext, v.plaintext)
		}
	}
	return out, err
}

// decryptTree decrypts the tree and checks its MAC as sops'
// decrypt.DataWithFormat does, then emits the plaintext.
func (f Format) decryptTree(store sops.Store, tree sops.Tree, key []byte, comments map[string]sops.Comment) ([]byte, *valueCipher, error) {
	c := newValueCipher(comments)
	var mac string
	if err := f.guard(func() (err error) {
		mac, err = tree.Decrypt(key, c)
		return err
	}); errors.Is(err, errLibraryPanic) {
		return nil, nil, err
	} else if err != nil {
		return nil, nil, c.explain(f)
	}
	var stored any
	if err := f.guard(func() (err error) {
		stored, err = c.aes.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
		return err
	}); errors.Is(err, errLibraryPanic) {
		return nil, nil, err
	} else if err != nil {
		return nil, nil, f.errorf(ErrTampered, "the stored MAC does not authenticate")
	}
	if s, ok := stored.(string); !ok || subtle.ConstantTimeCompare([]byte(s), []byte(mac)) != 1 {
		return nil, nil, f.errorf(ErrTampered, "MAC mismatch: the file changed after it was encrypted")
	}
	var out []byte
	if err := f.guard(func() (err error) {
		out, err = store.EmitPlainFile(tree.Branches)
		return err
	}); err != nil {
		// The cause can quote decrypted values.
		return nil, nil, f.errorf(ErrMalformed, "the decrypted tree cannot be written as %s", f)
	}
	return out, c, nil
}

// errLibraryPanic is what guard's errors wrap, besides ErrMalformed.
var errLibraryPanic = errors.New("the sops library panicked on this file")

// guard runs fn, a call into the sops library, and turns a panic into an
// error: the library panics on some values a crafted file can hold (a
// "bytes" value, which its cipher uses as a map key). The panic value is
// dropped, since it can hold plaintext.
func (f Format) guard(fn func() error) (err error) {
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("decrypt sops %s: %w: %w", f, ErrMalformed, errLibraryPanic)
		}
	}()
	return fn()
}
