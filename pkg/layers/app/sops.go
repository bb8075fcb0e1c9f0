package app

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftd/driftd/pkg/repofs"
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

	// repoOnce computes repoVals, the values of the repository's
	// encrypted files, once per check (see repoValues).
	repoOnce sync.Once
	repoVals map[string]any
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
func (d *decrypter) decrypt(name string, b []byte, opts ...sopsfile.Option) ([]byte, error) {
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
	plain, err := d.keys.Decrypt(b, format, opts...)
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

// decryptedSource is the source of an object decrypted with SOPS: its
// values are secret whatever its kind, and its diffs hide them (see
// valuesHidden).
func decryptedSource(src string) string {
	return noteSource(src, "decrypted with SOPS: "+valuesHidden)
}

// sopsBuild is what one kustomize build learns of the SOPS-encrypted files
// it reads. Like Flux, driftd hands kustomize the encrypted files, the
// sources of secretGenerators excepted, and decrypts the objects they make
// after the build: a configMapGenerator or a replacement that copies an
// encrypted value copies the ciphertext, which is what Flux applies.
type sopsBuild struct {
	dec *decrypter
	// plain are the files kustomize reads decrypted: the secretGenerator
	// sources, which Flux decrypts before the build.
	plain map[string]bool

	mu sync.Mutex
	// values holds the plaintext of each encrypted value read, by its
	// ciphertext.
	values map[string]any
	// err is the first decryption error, which kustomize would bury
	// under its own attempts to read the file as a directory.
	err error
	// whole says that a file was handed to kustomize decrypted because
	// its apiVersion or kind is encrypted too (kustomize cannot build
	// such an object): every object of the build is then taken to hold
	// decrypted values.
	whole bool
}

// encryptedIdentity matches a SOPS-encrypted file whose apiVersion or kind
// is encrypted (sops' default, without an encrypted_regex).
var encryptedIdentity = regexp.MustCompile(`(?m)(^(apiVersion|kind):[ \t]*|"(apiVersion|kind)"\s*:\s*")ENC\[`)

func newSOPSBuild(dec *decrypter, plain map[string]bool) *sopsBuild {
	return &sopsBuild{dec: dec, plain: plain, values: map[string]any{}}
}

// read returns what kustomize reads of the file name, whose content is b:
// an encrypted file is decrypted, its MAC checked and its values learnt,
// and kustomize gets the plaintext of a secretGenerator source, the file as
// it is otherwise. Without a key, every file is returned as it is.
func (s *sopsBuild) read(name string, b []byte) ([]byte, error) {
	if s == nil || s.dec == nil || !sopsfile.IsEncrypted(b) {
		return b, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	plain, err := s.dec.decrypt(name, b, sopsfile.Values(func(c string, v any) { s.values[c] = v }))
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return nil, err
	}
	if s.plain[name] {
		return plain, nil
	}
	if encryptedIdentity.Match(b) {
		s.whole = true
		return plain, nil
	}
	return b, nil
}

// dotenvMetadata are the keys sops adds to an encrypted dotenv file, which
// a secretGenerator's envs turns into Secret keys.
var dotenvMetadata = []string{"sops_mac", "sops_lastmodified", "sops_version"}

// finish decrypts an object of a kustomize build as Flux does after its
// build, with the plaintext of each ciphertext in values:
//
//   - an object that has a top-level sops field has each encrypted value
//     replaced by its plaintext; without a key it is a keys-only Secret
//     (see keysOnly);
//   - a Secret whose value is a whole SOPS-encrypted YAML or JSON file (a
//     secretGenerator read it) has it decrypted; without a key it is
//     keys-only;
//   - a Secret made from an encrypted dotenv file (its keys include
//     sops_mac) is keys-only, its sops_ keys dropped, without a key, and
//     an error with one: driftd decrypts YAML and JSON only.
//
// It reports whether the object is keys-only and whether it was decrypted.
func (d *decrypter) finish(u *unstructured.Unstructured, values map[string]any) (ko, decrypted bool, err error) {
	if _, ok := u.Object["sops"]; ok {
		if d == nil {
			ko, err = keysOnly(u)
			return ko, false, err
		}
		if d.err != nil {
			return false, false, fmt.Errorf("SOPS-encrypted: %w", d.err)
		}
		delete(u.Object, "sops")
		if err := decryptValues(u.Object, values); err != nil {
			return false, false, err
		}
		return false, true, nil
	}
	if u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return false, false, nil
	}
	data, _ := u.Object["data"].(map[string]any)
	if slices.ContainsFunc(dotenvMetadata, func(k string) bool { _, ok := data[k]; return ok }) {
		if d != nil {
			return false, false, errors.New("made from a SOPS-encrypted dotenv file, which driftd does not decrypt (YAML and JSON only)")
		}
		for k := range data {
			if strings.HasPrefix(k, "sops_") {
				delete(data, k)
			}
		}
		return true, false, nil
	}
	for _, k := range slices.Sorted(maps.Keys(data)) {
		s, _ := data[k].(string)
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || !sopsfile.IsEncrypted(raw) {
			continue
		}
		if d == nil {
			return true, false, nil
		}
		plain, err := d.decrypt(k, raw, sopsfile.Values(func(c string, v any) { values[c] = v }))
		if err != nil {
			return false, false, fmt.Errorf("data key %s: %w", repofs.Quote(k), err)
		}
		data[k] = base64.StdEncoding.EncodeToString(plain)
		decrypted = true
	}
	if ko, err := d.ciphertextLeft(u); ko || err != nil {
		return ko, false, err
	}
	return false, decrypted, nil
}

// ciphertextKey returns the first key of a Secret (a core Secret without
// a sops field) whose value holds SOPS ciphertext that is not a whole YAML
// or JSON file: an encrypted dotenv, INI or binary file a secretGenerator
// read, a value whose file lost its sops metadata. "" when there is none.
func ciphertextKey(u *unstructured.Unstructured) string {
	if u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return ""
	}
	for _, field := range []string{"data", "stringData"} {
		m, _ := u.Object[field].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			s, _ := m[k].(string)
			raw := []byte(s)
			if field == "data" {
				raw, _ = base64.StdEncoding.DecodeString(s)
			}
			if bytes.Contains(raw, []byte(encPrefix)) {
				return k
			}
		}
	}
	return ""
}

// leftEncrypted says what becomes of an object still encrypted once the
// loader has decrypted what it can: one with its sops metadata is handled
// by keysOnly, one without it by ciphertextLeft.
func (d *decrypter) leftEncrypted(u *unstructured.Unstructured) (bool, error) {
	if ko, err := keysOnly(u); ko || err != nil {
		return ko, err
	}
	return d.ciphertextLeft(u)
}

// ciphertextLeft handles a Secret with a key that holds ciphertext driftd
// cannot decrypt (see ciphertextKey): without a key it is compared by key
// names only, as Git holds its values encrypted; with one it is an error,
// never the ciphertext compared and applied as the value.
func (d *decrypter) ciphertextLeft(u *unstructured.Unstructured) (keysOnly bool, err error) {
	switch k := ciphertextKey(u); {
	case k == "":
		return false, nil
	case d == nil:
		return true, nil
	default:
		return false, fmt.Errorf("key %s holds SOPS ciphertext that driftd does not decrypt (whole YAML and JSON files, and objects with their sops metadata, only)", repofs.Quote(k))
	}
}

// encPrefix starts every value sops encrypted.
const encPrefix = "ENC[AES256_GCM,"

// decryptValues replaces, in place, each encrypted value of obj with its
// plaintext from values. A value that is not there (it was not in a file
// that decrypted) is an error naming its path.
func decryptValues(obj map[string]any, values map[string]any) error {
	var missing []string
	var walk func(v any, path string) any
	walk = func(v any, path string) any {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				t[k] = walk(e, path+"/"+escapePointer(k))
			}
		case []any:
			for i, e := range t {
				t[i] = walk(e, path+"/"+strconv.Itoa(i))
			}
		case string:
			if !strings.HasPrefix(t, encPrefix) {
				return v
			}
			p, ok := values[t]
			if !ok {
				missing = append(missing, path)
				return v
			}
			if n, ok := p.(int); ok {
				return int64(n) // as unstructured holds integers
			}
			return p
		}
		return v
	}
	walk(obj, "")
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("SOPS-encrypted value at %s does not come from a file that decrypts", repofs.Quote(missing[0]))
	}
	return nil
}

// repoValues decrypts every SOPS-encrypted YAML and JSON file of the
// repository, once per check, and returns the plaintext of each of their
// encrypted values, by ciphertext: the objects of a kustomization rendered in a child
// process (remote resources allowed) are decrypted with them. Files that
// do not decrypt are left out: a value of theirs is then an error where it
// is used.
func (d *decrypter) repoValues(rfs *repofs.FS) map[string]any {
	if d == nil || d.err != nil {
		return map[string]any{}
	}
	d.repoOnce.Do(func() { d.repoVals = d.readRepoValues(rfs) })
	return maps.Clone(d.repoVals)
}

func (d *decrypter) readRepoValues(rfs *repofs.FS) map[string]any {
	values := map[string]any{}
	_ = rfs.WalkDirs(".", func(name string) error {
		if path.Base(name) == ".git" {
			return fs.SkipDir
		}
		return nil
	}, func(name string, err error) error {
		if _, ok := sopsfile.FormatOf(name); !ok || err != nil {
			return nil
		}
		b, err := rfs.ReadFile(name)
		if err != nil || !sopsfile.IsEncrypted(b) {
			return nil
		}
		_, _ = d.decrypt(name, b, sopsfile.Values(func(c string, v any) { values[c] = v }))
		return nil
	})
	return values
}

// needleMin is the length of the shortest secret value that taints an
// object holding it: shorter values (app, admin, 5432) are common words of
// manifests.
const needleMin = 8

// needles finds secret values within the strings of an object, in time
// linear in the object's size.
type needles struct {
	// byPrefix lists the values by their first needleMin bytes.
	byPrefix map[string][]string
}

// add records a secret value; non-strings and short strings are left out.
func (n *needles) add(v any) {
	s, ok := v.(string)
	if !ok || len(s) < needleMin {
		return
	}
	if n.byPrefix == nil {
		n.byPrefix = map[string][]string{}
	}
	p := s[:needleMin]
	if !slices.Contains(n.byPrefix[p], s) {
		n.byPrefix[p] = append(n.byPrefix[p], s)
	}
}

// in reports whether s holds one of the values.
func (n *needles) in(s string) bool {
	for i := 0; i+needleMin <= len(s); i++ {
		for _, v := range n.byPrefix[s[i:i+needleMin]] {
			if strings.HasPrefix(s[i:], v) {
				return true
			}
		}
	}
	return false
}

// inObject reports whether a string of obj (a value, a key, or a value's
// base64 decoding) holds one of the values.
func (n *needles) inObject(obj any) bool {
	if n == nil || len(n.byPrefix) == 0 {
		return false
	}
	switch t := obj.(type) {
	case map[string]any:
		for k, v := range t {
			if n.in(k) || n.inObject(v) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(t, n.inObject)
	case string:
		if n.in(t) {
			return true
		}
		if b, err := base64.StdEncoding.DecodeString(t); err == nil && len(b) >= needleMin {
			return n.in(string(b))
		}
	}
	return false
}
