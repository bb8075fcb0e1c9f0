// Package hostkey verifies SSH host keys against known_hosts for every SSH
// connection driftd makes (the Git remote, nodes, jump hosts), with one
// error a person can act on. There is no way to skip it.
package hostkey

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrHostKey is returned, wrapped, when a host's key is unknown or does
// not match known_hosts.
var ErrHostKey = errors.New("host key verification failed")

// Verify wraps a known_hosts callback so that a rejected key is an
// ErrHostKey naming the host, the key's type and fingerprint, and where
// the known keys come from.
func Verify(cb ssh.HostKeyCallback, where string) ssh.HostKeyCallback {
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(host, remote, key)
		if err == nil {
			return nil
		}
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			fp := ssh.FingerprintSHA256(key)
			if len(ke.Want) > 0 {
				return fmt.Errorf("%w: %s presented %s key %s, which does not match %s; refusing to connect",
					ErrHostKey, host, key.Type(), fp, where)
			}
			return fmt.Errorf("%w: %s presented %s key %s, which is not in %s",
				ErrHostKey, host, key.Type(), fp, where)
		}
		return fmt.Errorf("%w: %s: %w", ErrHostKey, host, err)
	}
}
