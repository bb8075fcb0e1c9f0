package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/sopstest"
)

const plainSecret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\nstringData:\n  password: plaintext-value\n"

func TestLoadKeys(t *testing.T) {
	id := sopstest.NewIdentity(t)
	enc := []byte(sopstest.EncryptYAML(t, plainSecret, id.Recipient().String(), sopstest.FluxRegex))
	keyFile := filepath.Join(t.TempDir(), "age.key")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DRIFTD_TEST_AGE", id.String())

	if d := loadKeys(SOPSConfig{}); d != nil {
		t.Errorf("no key configured: %+v, want nil (keys-only comparison)", d)
	}
	for name, c := range map[string]SOPSConfig{"file": {AgeKeyFile: keyFile}, "env": {AgeKeyEnv: "DRIFTD_TEST_AGE"}, "both": {AgeKeyFile: keyFile, AgeKeyEnv: "DRIFTD_TEST_AGE"}} {
		plain, err := loadKeys(c).decrypt("apps/db.enc.yaml", enc)
		if err != nil || !strings.Contains(string(plain), "plaintext-value") {
			t.Errorf("%s: %v\n%s", name, err, plain)
		}
	}
	for name, tc := range map[string]struct {
		c    SOPSConfig
		want string
	}{
		"unset env":    {SOPSConfig{AgeKeyEnv: "DRIFTD_TEST_UNSET"}, "apps/db.enc.yaml: SOPS-encrypted: sops.age_key_env: $DRIFTD_TEST_UNSET is not set"},
		"missing file": {SOPSConfig{AgeKeyFile: filepath.Join(t.TempDir(), "none")}, "apps/db.enc.yaml: SOPS-encrypted: sops.age_key_file: open "},
		"not a key":    {SOPSConfig{AgeKeyFile: keyFile + ".bad"}, "sops age keys:"},
	} {
		if name == "not a key" {
			if err := os.WriteFile(keyFile+".bad", []byte("AGE-SECRET-KEY-1NOTAKEY-secretish\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		d := loadKeys(tc.c)
		_, err := d.decrypt("apps/db.enc.yaml", enc)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secretish") || strings.Contains(err.Error(), "plaintext-value") {
			t.Errorf("%s: %v, want it to say %q and quote nothing", name, err, tc.want)
		}
		// A plain file is read as it is, whatever the keys.
		if b, err := d.decrypt("apps/cm.yaml", []byte(plainSecret)); err != nil || string(b) != plainSecret {
			t.Errorf("%s: a plain file: %v", name, err)
		}
	}
}

func TestKeysOnlyRefusals(t *testing.T) {
	id := sopstest.NewIdentity(t)
	for name, tc := range map[string]struct{ doc, regex, want string }{
		"a ConfigMap": {strings.Replace(plainSecret, "kind: Secret", "kind: ConfigMap", 1), sopstest.FluxRegex, "only Secrets can be compared"},
		// The name encrypted, apiVersion and kind not: a whole-file
		// encryption's apiVersion may not even decode (its ciphertext
		// can hold a second slash), which the loader reports itself.
		"encrypted metadata":   {plainSecret, "^(name|data|stringData)$", "metadata included"},
		"a Secret, Flux style": {plainSecret, sopstest.FluxRegex, ""},
	} {
		objs, err := decode([]byte(sopstest.EncryptYAML(t, tc.doc, id.Recipient().String(), tc.regex)))
		if err != nil {
			t.Fatal(err)
		}
		ko, err := keysOnly(objs[0])
		if !ko || (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: keys only %t, error %v, want %q", name, ko, err, tc.want)
		}
		if _, still := objs[0].Object["sops"]; still {
			t.Errorf("%s: the sops metadata is still on the object", name)
		}
	}
}
