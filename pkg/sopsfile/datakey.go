package sopsfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/shamir"
)

// keySearch is what trying the metadata's keys found, for ErrNoKey's
// message.
type keySearch struct {
	ageRecipients int
	others        []string // key types other than age, sorted
	// failed is the first wrapped key that a matching identity could not
	// use: malformed, or failing to authenticate.
	failed error
}

// dataKey recovers the file's data key as sops' Metadata.GetDataKey does,
// with k's identities only: within a key group, the first age key that one
// of them unwraps gives the group's part; with one group that part is the
// data key, with several they are Shamir shares, of which the metadata's
// shamir_threshold are needed. Keys of other types (pgp, cloud KMS, Vault)
// are never tried.
func (k *Keys) dataKey(f Format, md sops.Metadata) ([]byte, error) {
	groups := md.KeyGroups
	if len(groups) == 0 {
		return nil, f.errorf(ErrMalformed, "no key groups")
	}
	need := 1
	if len(groups) > 1 {
		// sops always writes shamir_threshold with several groups; without
		// one it combines whatever shares it recovered, and Shamir needs
		// two at least.
		need = max(md.ShamirThreshold, 2)
		if need > len(groups) {
			return nil, f.errorf(ErrMalformed, "shamir_threshold %d with %d key groups", need, len(groups))
		}
	}
	var s keySearch
	var parts [][]byte
	defer func() {
		for _, p := range parts {
			clear(p)
		}
	}()
	for _, g := range groups {
		if part := k.unwrapGroup(f, g, &s); part != nil {
			parts = append(parts, part)
		}
	}
	if len(parts) < need {
		if s.failed != nil {
			return nil, s.failed
		}
		return nil, f.errorf(ErrNoKey, "%s", s.describe(k.Len(), len(parts), need, len(groups)))
	}
	var key []byte
	if len(groups) == 1 {
		key = slices.Clone(parts[0])
	} else {
		var err error
		if key, err = shamir.Combine(parts); err != nil {
			return nil, f.errorf(ErrMalformed, "the key groups' shares do not combine into a data key")
		}
	}
	switch len(key) {
	case 16, 24, 32: // the AES key sizes; sops writes 32
		return key, nil
	}
	clear(key)
	return nil, f.errorf(ErrMalformed, "the data key has %d bytes, not an AES key size", len(key))
}

// unwrapGroup returns the group's part of the data key, or nil.
func (k *Keys) unwrapGroup(f Format, g sops.KeyGroup, s *keySearch) []byte {
	for _, mk := range g {
		ak, ok := mk.(*sopsage.MasterKey)
		if !ok {
			if t := mk.TypeToIdentifier(); !slices.Contains(s.others, t) {
				s.others = append(s.others, t)
				slices.Sort(s.others)
			}
			continue
		}
		s.ageRecipients++
		part, err := k.unwrap(f, ak)
		if err != nil {
			if s.failed == nil {
				s.failed = err
			}
			continue
		}
		if part != nil {
			return part
		}
	}
	return nil
}

// unwrap decrypts the data key (or share) an age key holds, with the
// sops age master key and k's identities. It returns nil, nil when no
// identity matches. Errors carry no text from age, which can quote parts
// of the wrapped key.
func (k *Keys) unwrap(f Format, ak *sopsage.MasterKey) ([]byte, error) {
	if len(k.identities) == 0 {
		// Never reached (Decrypt checks first), and must not be: without
		// identities the sops age key loads them from the environment.
		return nil, errors.New("no identities")
	}
	if len(ak.EncryptedKey) > maxWrappedKey {
		return nil, f.errorf(ErrTooLarge, "a wrapped data key longer than %d bytes", maxWrappedKey)
	}
	if _, err := age.ExtractHeader(armor.NewReader(strings.NewReader(ak.EncryptedKey))); err != nil {
		return nil, f.errorf(ErrMalformed, "the data key wrapped for age recipient %q is not an armored age file", ak.Recipient)
	}
	sopsage.ParsedIdentities(k.identities).ApplyToMasterKey(ak)
	part, err := ak.Decrypt()
	var noMatch *age.NoIdentityMatchError
	switch {
	case err == nil:
		return part, nil
	case errors.As(err, &noMatch):
		return nil, nil
	}
	return nil, f.errorf(ErrTampered, "the data key wrapped for age recipient %q does not authenticate", ak.Recipient)
}

func (s keySearch) describe(identities, got, need, groups int) string {
	var b strings.Builder
	if s.ageRecipients == 0 {
		b.WriteString("the file has no age recipient")
	} else {
		fmt.Fprintf(&b, "none of the %d configured age identities matches the file's %d age recipient", identities, s.ageRecipients)
		if s.ageRecipients > 1 {
			b.WriteString("s")
		}
	}
	if len(s.others) > 0 {
		fmt.Fprintf(&b, "; it also has keys of type %s, which are not tried", strings.Join(s.others, ", "))
	}
	if groups > 1 {
		fmt.Fprintf(&b, "; %d of the %d key groups needed (of %d) could be unwrapped", got, need, groups)
	}
	return b.String()
}
