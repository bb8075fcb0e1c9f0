package sopsfile

import (
	"bytes"

	"github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"
)

// IsEncrypted reports whether data is a SOPS-encrypted YAML (possibly
// multi-document) or JSON file: whether one of its documents has a
// top-level sops mapping with a mac and a lastmodified key, as sops writes.
// It is cheap on files that do not mention all three words, and bounded on
// others: it parses nodes without expanding aliases, and only within
// DefaultMaxSize and the token bound. A file beyond those bounds that
// mentions the three words is reported as encrypted, so that Decrypt can
// refuse it with ErrTooLarge rather than the file being read as plain.
func IsEncrypted(data []byte) bool {
	for _, word := range []string{"sops", "mac", "lastmodified"} {
		if !bytes.Contains(data, []byte(word)) {
			return false
		}
	}
	if len(data) > DefaultMaxSize || countTokens(data, maxTokens) > maxTokens {
		return true
	}
	docs, err := yamlDocs(data) // JSON is YAML, as far as this goes.
	if err != nil {
		return false
	}
	for _, doc := range docs {
		if hasKeys(sopsMapping(doc), "mac", "lastmodified") {
			return true
		}
	}
	return false
}

// check bounds data before the sops store parses it, and returns how many
// of its YAML documents have a top-level sops key.
func (f Format) check(data []byte, o options) (int, error) {
	if len(data) > o.maxSize {
		return 0, f.errorf(ErrTooLarge, "%d bytes, more than the %d allowed", len(data), o.maxSize)
	}
	if countTokens(data, maxTokens) > maxTokens {
		return 0, f.errorf(ErrTooLarge, "more than %d tokens", maxTokens)
	}
	if f == JSON {
		if jsonDepth(data, maxDepth) > maxDepth {
			return 0, f.errorf(ErrTooLarge, "nesting deeper than %d", maxDepth)
		}
		return 0, nil
	}
	docs, err := yamlDocs(data)
	if err != nil {
		return 0, f.errorf(ErrMalformed, "%v", err)
	}
	withSops := 0
	for _, doc := range docs {
		if err := checkNodes(doc, 0); err != nil {
			return 0, err
		}
		if sopsMapping(doc) != nil {
			withSops++
		}
	}
	return withSops, nil
}

// checkMetadata bounds what the metadata makes Decrypt do: try keys and
// compile regular expressions.
func (f Format) checkMetadata(md sops.Metadata) error {
	if len(md.KeyGroups) > maxMasterKeys || md.MasterKeyCount() > maxMasterKeys {
		return f.errorf(ErrTooLarge, "more than %d keys or key groups", maxMasterKeys)
	}
	wrapped := 0
	for _, g := range md.KeyGroups {
		for _, k := range g {
			if ak, ok := k.(*sopsage.MasterKey); ok {
				wrapped += len(ak.EncryptedKey)
			}
		}
	}
	if wrapped > maxWrappedKeys {
		return f.errorf(ErrTooLarge, "age-wrapped data keys of more than %d bytes in all", maxWrappedKeys)
	}
	for name, re := range map[string]string{
		"unencrypted_regex":         md.UnencryptedRegex,
		"encrypted_regex":           md.EncryptedRegex,
		"unencrypted_comment_regex": md.UnencryptedCommentRegex,
		"encrypted_comment_regex":   md.EncryptedCommentRegex,
	} {
		if len(re) > maxRuleRegex {
			return f.errorf(ErrTooLarge, "%s longer than %d bytes", name, maxRuleRegex)
		}
	}
	return nil
}
