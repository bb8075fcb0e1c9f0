package sopsfile

import (
	"errors"
	"fmt"
)

// Errors that Decrypt wraps, for errors.Is. Messages start with the
// operation ("decrypt sops yaml: ") and never quote plaintext or keys.
var (
	// ErrNotEncrypted reports a file without SOPS metadata.
	ErrNotEncrypted = errors.New("not a SOPS-encrypted file")
	// ErrNoKey reports that none of the configured age identities can
	// unwrap the file's data key (or not enough key groups for the file's
	// Shamir threshold). The message says how many age recipients the file
	// has and which other key types it uses.
	ErrNoKey = errors.New("no matching key")
	// ErrTampered reports a file whose MAC does not match its content, or
	// a ciphertext (a value, the MAC or a wrapped data key) that fails to
	// authenticate.
	ErrTampered = errors.New("integrity check failed")
	// ErrMalformed reports a file or SOPS metadata that cannot be parsed
	// or that sops could not have written.
	ErrMalformed = errors.New("malformed SOPS file")
	// ErrTooLarge reports an input beyond one of the package's bounds:
	// size, tokens, nesting, keys or the work its path rules would cost.
	ErrTooLarge = errors.New("input exceeds a limit")
)

// errorf builds an error for a file of format f, wrapping kind:
// "decrypt sops yaml: integrity check failed: MAC mismatch".
func (f Format) errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("decrypt sops %s: %w: %s", f, kind, fmt.Sprintf(format, args...))
}
