package app

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftd/driftd/pkg/sopsfile"
)

// keysOnlyNote says, in findings and target details, why a Secret's values
// were not compared.
const keysOnlyNote = "encrypted in Git with SOPS and no key configured (layers.app.sops): compared by key names only"

// decrypter decrypts SOPS-encrypted files as the loader reads them, in
// memory: plaintext is never written anywhere. A nil decrypter (no key
// configured) leaves encrypted files as they are, and their Secrets are
// compared by key names only.
type decrypter struct {
	keys *sopsfile.Keys
	// err is why the configured keys could not be read: every encrypted
	// file is then an error, and the plain ones are still checked.
	err error
}

// loadKeys reads the age identities the config names, afresh each check so
// that a rotated key file is picked up. Errors name the setting, never a
// key.
func loadKeys(c SOPSConfig) *decrypter {
	if !c.Configured() {
		return nil
	}
	var text strings.Builder
	if c.AgeKeyFile != "" {
		b, err := os.ReadFile(c.AgeKeyFile)
		if err != nil {
			return &decrypter{err: fmt.Errorf("sops.age_key_file: %w", err)}
		}
		text.Write(b)
		text.WriteString("\n")
	}
	if c.AgeKeyEnv != "" {
		v, ok := os.LookupEnv(c.AgeKeyEnv)
		if !ok || v == "" {
			return &decrypter{err: fmt.Errorf("sops.age_key_env: $%s is not set", c.AgeKeyEnv)}
		}
		text.WriteString(v)
	}
	keys, err := sopsfile.ParseAgeKeys(strings.NewReader(text.String()))
	if err != nil {
		return &decrypter{err: fmt.Errorf("sops age keys: %w", err)}
	}
	return &decrypter{keys: keys}
}

// decrypt returns a file's plaintext when it is SOPS-encrypted and a key is
// configured; any other file comes back as it is.
func (d *decrypter) decrypt(name string, b []byte) ([]byte, error) {
	if d == nil || !sopsfile.IsEncrypted(b) {
		return b, nil
	}
	format, ok := sopsfile.FormatOf(name)
	if !ok {
		return nil, fmt.Errorf("%s: SOPS-encrypted, in a format driftd does not decrypt (YAML and JSON only)", name)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%s: SOPS-encrypted: %w", name, d.err)
	}
	plain, err := d.keys.Decrypt(b, format)
	if err != nil {
		return nil, fmt.Errorf("%s: decrypt with SOPS: %w", name, err)
	}
	return plain, nil
}

// keysOnly handles an object that is still encrypted (it has a top-level
// sops field) because no key is configured: a Secret whose name and key
// names are in the clear is kept, to be compared by key names only; any
// other object is an error.
func keysOnly(u *unstructured.Unstructured) (bool, error) {
	if _, ok := u.Object["sops"]; !ok {
		return false, nil
	}
	delete(u.Object, "sops")
	for _, v := range []string{u.GetAPIVersion(), u.GetKind(), u.GetName(), u.GetNamespace()} {
		if strings.HasPrefix(v, "ENC[") {
			return true, errors.New("SOPS-encrypted, metadata included, and no key configured: encrypt only data and stringData (encrypted_regex: ^(data|stringData)$) to compare it by key names")
		}
	}
	if u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return true, errors.New("SOPS-encrypted and no key configured (layers.app.sops): only Secrets can be compared without their values")
	}
	return true, nil
}

// keysOnlyDesired is what Git says of a keys-only Secret, given the live
// one: each key that both have takes the live value, so that only the key
// names can differ. A key live lacks keeps a value that matches nothing.
func keysOnlyDesired(git, live *unstructured.Unstructured) *unstructured.Unstructured {
	out := git.DeepCopy()
	var liveData map[string]any
	if live != nil {
		liveData, _ = live.Object["data"].(map[string]any)
	}
	data := map[string]any{}
	for _, field := range []string{"data", "stringData"} {
		m, _ := out.Object[field].(map[string]any)
		for k := range m {
			if v, ok := liveData[k]; ok {
				data[k] = v
			} else {
				data[k] = "(encrypted in Git)"
			}
		}
	}
	delete(out.Object, "stringData")
	if len(data) > 0 {
		out.Object["data"] = data
	} else {
		delete(out.Object, "data")
	}
	return out
}
