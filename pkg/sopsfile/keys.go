package sopsfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// maxKeyFile bounds what ParseAgeKeys reads: an age-keygen key is about
// 190 bytes, a post-quantum one about 2.5 KiB.
const maxKeyFile = 1 << 20

// Keys holds parsed age identities, the only keys Decrypt uses. It is safe
// for concurrent use, and formatting it (%v, %+v, %#v) never prints key
// material.
type Keys struct {
	identities []age.Identity
	recipients []string
}

// ParseAgeKeys parses age secret keys as age-keygen writes them (and as
// sops reads SOPS_AGE_KEY): AGE-SECRET-KEY-1... (X25519) and
// AGE-SECRET-KEY-PQ-1... (post-quantum hybrid) keys, one or more a line,
// blank lines and lines starting with # ignored. Plugin identities
// (AGE-PLUGIN-...) and SSH keys are refused, so that a key file never makes
// driftd run a program. Errors name the line, never its content.
func ParseAgeKeys(r io.Reader) (*Keys, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("parse age keys: %w", err)
	}
	defer clear(data)
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("parse age keys: more than %d bytes", maxKeyFile)
	}
	k := &Keys{}
	seen := make(map[string]bool)
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if i == 0 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		for _, word := range strings.Fields(string(line)) {
			id, recipient, err := parseIdentity(word)
			if err != nil {
				return nil, fmt.Errorf("parse age keys: line %d: %w", i+1, err)
			}
			if seen[recipient] {
				continue
			}
			seen[recipient] = true
			k.identities = append(k.identities, id)
			k.recipients = append(k.recipients, recipient)
		}
	}
	if len(k.identities) == 0 {
		return nil, errors.New("parse age keys: no AGE-SECRET-KEY-1 line")
	}
	return k, nil
}

// parseIdentity parses one age secret key. Its errors never include the
// word or age's own error, which can quote part of the key.
func parseIdentity(word string) (age.Identity, string, error) {
	switch {
	case strings.HasPrefix(word, "AGE-SECRET-KEY-PQ-1"):
		id, err := age.ParseHybridIdentity(word)
		if err != nil {
			return nil, "", errors.New("malformed post-quantum age secret key")
		}
		return id, id.Recipient().String(), nil
	case strings.HasPrefix(word, "AGE-SECRET-KEY-1"):
		id, err := age.ParseX25519Identity(word)
		if err != nil {
			return nil, "", errors.New("malformed age secret key")
		}
		return id, id.Recipient().String(), nil
	case strings.HasPrefix(word, "AGE-PLUGIN-"):
		return nil, "", errors.New("age plugin identities are not supported")
	}
	return nil, "", errors.New("not an age secret key (want AGE-SECRET-KEY-1...)")
}

// Len returns the number of distinct identities.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.identities)
}

// Recipients returns the public age recipients (age1...) of the
// identities, which are safe to log.
func (k *Keys) Recipients() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.recipients...)
}

// String describes the keys by count, without key material.
func (k *Keys) String() string {
	return fmt.Sprintf("sopsfile.Keys(%d age identities)", k.Len())
}

// GoString is String, so that %#v prints no key material either.
func (k *Keys) GoString() string { return k.String() }
