package sopsfile

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/logging"
	"github.com/sirupsen/logrus"
)

// captureSopsLogs sends the sops library's global loggers to a buffer, at
// the given level, for the rest of the test.
func captureSopsLogs(t *testing.T, level logrus.Level) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	for name, l := range logging.Loggers {
		out, lvl := l.Out, l.GetLevel()
		l.SetOutput(&buf)
		l.SetLevel(level)
		t.Cleanup(func() {
			logging.Loggers[name].SetOutput(out)
			logging.Loggers[name].SetLevel(lvl)
		})
	}
	return &buf
}

// replaceLine applies fn to the first line of data containing substr.
func replaceLine(t *testing.T, data []byte, substr string, fn func(string) string) []byte {
	t.Helper()
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.Contains(l, substr) {
			lines[i] = fn(l)
			return []byte(strings.Join(lines, "\n"))
		}
	}
	t.Fatalf("no line contains %q", substr)
	return nil
}

// tamperWrappedKey changes a character in the middle of the last line of
// the first age-wrapped data key, in its payload.
func tamperWrappedKey(t *testing.T, data []byte) []byte {
	t.Helper()
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.Contains(l, "-----END AGE ENCRYPTED FILE-----") {
			last := lines[i-1]
			j := len(last) - 20
			c := byte('A')
			if last[j] == 'A' {
				c = 'B'
			}
			lines[i-1] = last[:j] + string(c) + last[j+1:]
			return []byte(strings.Join(lines, "\n"))
		}
	}
	t.Fatal("no age-wrapped key")
	return nil
}

var encData = regexp.MustCompile(`data:([^,]*),`)

// flipData changes the first character of the ciphertext on a line.
func flipData(l string) string {
	loc := encData.FindStringSubmatchIndex(l)
	i := loc[2]
	c := byte('A')
	if l[i] == 'A' {
		c = 'B'
	}
	return l[:i] + string(c) + l[i+1:]
}

// truncateData drops the last four base64 characters of the ciphertext on a
// line, which keeps it valid base64.
func truncateData(l string) string {
	loc := encData.FindStringSubmatchIndex(l)
	return l[:loc[3]-4] + l[loc[3]:]
}

// TestErrorsNeverLeak triggers each error path on a file holding known
// secret values and checks that no error, and no log line of the sops
// library even at debug level, holds a plaintext value or key material.
func TestErrorsNeverLeak(t *testing.T) {
	logs := captureSopsLogs(t, logrus.DebugLevel)
	id, keys := newIdentity(t)
	_, otherKeys := newIdentity(t)
	recipient := id.Recipient().String()
	fluxRegex := func(md *sops.Metadata) { md.EncryptedRegex = "^(data|stringData)$" }
	var dataKeys [][]byte
	encrypt := func(e encryption) []byte {
		enc, key := encryptFile(t, []byte(secretManifest), YAML, e)
		dataKeys = append(dataKeys, key)
		return enc
	}
	plain := encrypt(oneRecipient(recipient))
	flux := encrypt(encryption{groups: [][]string{{recipient}}, rules: fluxRegex})
	forged := encrypt(encryption{groups: [][]string{{recipient}}, edit: func(tree *sops.Tree, dataKey []byte) {
		// A MAC that authenticates, of other content.
		mac, err := aes.NewCipher().Encrypt(strings.Repeat("AB", 64), dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
		if err != nil {
			t.Fatal(err)
		}
		tree.Metadata.MessageAuthenticationCode = mac
	}})
	pgpOnly := encrypt(encryption{groups: [][]string{{recipient}}, edit: otherKeysOnly})

	tests := []struct {
		name string
		data []byte
		keys *Keys
		want error
	}{
		{"wrong key", plain, otherKeys, ErrNoKey},
		{"pgp and kms keys only", pgpOnly, keys, ErrNoKey},
		{"tampered value", replaceLine(t, plain, "password:", flipData), keys, ErrTampered},
		{"truncated value", replaceLine(t, plain, "password:", truncateData), keys, ErrTampered},
		{"value truncated mid-base64", replaceLine(t, plain, "password:", func(l string) string {
			loc := encData.FindStringSubmatchIndex(l)
			return l[:loc[3]-1] + l[loc[3]:]
		}), keys, ErrTampered},
		{"value replaced by its plaintext", replaceLine(t, plain, "password:", func(string) string {
			return "    password: s3cr3t-PLAINTEXT-value"
		}), keys, ErrTampered},
		{"value type changed to int", replaceLine(t, plain, "password:", func(l string) string {
			return strings.Replace(l, "type:str]", "type:int]", 1)
		}), keys, ErrTampered},
		{"value type changed to bytes", replaceLine(t, plain, "password:", func(l string) string {
			return strings.Replace(l, "type:str]", "type:bytes]", 1)
		}), keys, ErrTampered},
		{"value type changed to time", replaceLine(t, plain, "password:", func(l string) string {
			return strings.Replace(l, "type:str]", "type:time]", 1)
		}), keys, ErrTampered},
		{"value moved to another key", bytes.Replace(plain, []byte("password:"), []byte("passwd:"), 1), keys, ErrTampered},
		{"plaintext metadata changed", bytes.Replace(flux, []byte("name: db"), []byte("name: dc"), 1), keys, ErrTampered},
		{"plaintext value added", bytes.Replace(flux, []byte("type: Opaque"), []byte("type: Opaque\nimmutable: true"), 1), keys, ErrTampered},
		{"tampered MAC", replaceLine(t, plain, "mac: ENC", flipData), keys, ErrTampered},
		{"truncated MAC", replaceLine(t, plain, "mac: ENC", truncateData), keys, ErrTampered},
		{"forged MAC", forged, keys, ErrTampered},
		{"MAC removed", replaceLine(t, plain, "mac: ENC", func(string) string { return `    mac: ""` }), keys, ErrTampered},
		{"lastmodified changed", replaceLine(t, plain, "lastmodified:", func(string) string {
			return `    lastmodified: "2020-01-01T00:00:00Z"`
		}), keys, ErrTampered},
		{"lastmodified malformed", replaceLine(t, plain, "lastmodified:", func(string) string {
			return `    lastmodified: yesterday`
		}), keys, ErrMalformed},
		{"wrapped key not age", bytes.ReplaceAll(plain, []byte("AGE ENCRYPTED FILE"), []byte("PGP MESSAGE")), keys, ErrMalformed},
		{"wrapped key payload tampered", tamperWrappedKey(t, plain), keys, ErrTampered},
		{"no keys", regexp.MustCompile(`(?s)    age:.*?recipient: \S+\n`).ReplaceAll(plain, nil), keys, ErrMalformed},
		{"sops not a mapping", regexp.MustCompile(`(?s)\nsops:.*`).ReplaceAll(plain, []byte("\nsops: mac lastmodified\n")), keys, ErrMalformed},
		{"integer key", append([]byte("1: one\n"), plain...), keys, ErrMalformed},
	}
	secrets := []string{"s3cr3t-PLAINTEXT-value", "dG9rZW4tUExBSU5URVhU", "token-PLAINTEXT", id.String(), "AGE-SECRET-KEY"}
	for _, k := range dataKeys {
		secrets = append(secrets, string(k), hex.EncodeToString(k), strings.ToUpper(hex.EncodeToString(k)), base64.StdEncoding.EncodeToString(k))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.keys.Decrypt(tt.data, YAML)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt error = %v, want %v", err, tt.want)
			}
			t.Log(err)
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				for _, s := range secrets {
					if strings.Contains(text, s) {
						t.Errorf("error %q contains secret %q", text, s)
					}
				}
			}
		})
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("sops logs contain secret %q:\n%s", s, logs)
		}
	}
}

// TestDecryptLogsNothing checks that at the sops library's default log
// level nothing is logged, even for a comment added by hand to an encrypted
// file, which sops' Tree.Decrypt logs (with its text) when it decrypts
// comments itself.
func TestDecryptLogsNothing(t *testing.T) {
	logs := captureSopsLogs(t, logrus.WarnLevel)
	id, keys := newIdentity(t)
	enc, _ := encryptFile(t, []byte(secretManifest), YAML, oneRecipient(id.Recipient().String()))
	enc = bytes.Replace(enc, []byte("stringData:\n"), []byte("stringData:\n    # added by hand\n"), 1)
	got, err := keys.Decrypt(enc, YAML)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte("# added by hand")) {
		t.Errorf("Decrypt dropped the comment:\n%s", got)
	}
	if _, err := keys.Decrypt(replaceLine(t, enc, "password:", flipData), YAML); !errors.Is(err, ErrTampered) {
		t.Errorf("Decrypt(tampered) = %v", err)
	}
	if logs.Len() > 0 {
		t.Errorf("sops logged:\n%s", logs)
	}
}

// TestGuard checks that a panic in the sops library becomes ErrMalformed,
// without the panic value, which could hold plaintext.
func TestGuard(t *testing.T) {
	err := YAML.guard(func() error { panic("s3cr3t-PLAINTEXT-value") })
	if !errors.Is(err, ErrMalformed) || !errors.Is(err, errLibraryPanic) {
		t.Fatalf("guard = %v, want ErrMalformed", err)
	}
	if strings.Contains(err.Error(), "PLAINTEXT") {
		t.Errorf("guard error %q holds the panic value", err)
	}
	if want := errors.New("x"); !errors.Is(YAML.guard(func() error { return want }), want) {
		t.Error("guard dropped fn's error")
	}
}
