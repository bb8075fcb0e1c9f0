package sopsfile

import (
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"
)

func TestParseAgeKeys(t *testing.T) {
	id1, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	id2, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	r1, r2 := id1.Recipient().String(), id2.Recipient().String()
	keygen := fmt.Sprintf("# created: 2026-01-02T03:04:05Z\n# public key: %s\n%s\n", r1, id1)
	tests := []struct {
		name string
		in   string
		want []string // recipients
	}{
		{"age-keygen file", keygen, []string{r1}},
		{"two files concatenated", keygen + "\n" + fmt.Sprintf("# public key: %s\n%s\n", r2, id2), []string{r1, r2}},
		{"SOPS_AGE_KEY with two keys on a line", id1.String() + " " + id2.String(), []string{r1, r2}},
		{"CRLF, BOM and indentation", "\ufeff# comment\r\n  " + id2.String() + "\r\n\r\n", []string{r2}},
		{"duplicates", id1.String() + "\n" + id1.String() + "\n", []string{r1}},
		{"post-quantum", pq.String(), []string{pq.Recipient().String()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseAgeKeys(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, k.Recipients()); diff != "" {
				t.Errorf("Recipients() mismatch (-want +got):\n%s", diff)
			}
			if k.Len() != len(tt.want) {
				t.Errorf("Len() = %d, want %d", k.Len(), len(tt.want))
			}
		})
	}
}

func TestParseAgeKeysErrors(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key := id.String()
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "parse age keys: no AGE-SECRET-KEY-1 line"},
		{"comments only", "# public key: age1xyz\n\n", "parse age keys: no AGE-SECRET-KEY-1 line"},
		{"truncated key", "# c\n" + key[:len(key)-3], "parse age keys: line 2: malformed age secret key"},
		{"changed checksum", key[:len(key)-1] + "Q", "parse age keys: line 1: malformed age secret key"},
		{"lower case", strings.ToLower(key), "parse age keys: line 1: not an age secret key (want AGE-SECRET-KEY-1...)"},
		{"plugin", "AGE-PLUGIN-YUBIKEY-1QQQQ", "parse age keys: line 1: age plugin identities are not supported"},
		{"ssh key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n", "parse age keys: line 1: not an age secret key (want AGE-SECRET-KEY-1...)"},
		{"trailing comment", key + " # mine", "parse age keys: line 1: not an age secret key (want AGE-SECRET-KEY-1...)"},
		{"too large", strings.Repeat("#", maxKeyFile+1), "parse age keys: more than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAgeKeys(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("ParseAgeKeys succeeded")
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), key[20:40]) || strings.Contains(strings.ToLower(err.Error()), strings.ToLower(key[20:40])) {
				t.Errorf("error %q quotes the key", err)
			}
		})
	}
}

// TestKeysFormatting checks that no fmt verb prints key material, from a
// pointer or a value.
func TestKeysFormatting(t *testing.T) {
	id, k := newIdentity(t)
	secret := id.String()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for _, v := range []any{k, *k, []*Keys{k}, map[string]*Keys{"k": k}, struct{ K *Keys }{k}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, secret) || strings.Contains(strings.ToLower(out), strings.ToLower(secret[16:40])) {
				t.Errorf("Sprintf(%q, %T) = %s: prints the key", verb, v, out)
			}
		}
	}
	if got, want := k.String(), "sopsfile.Keys(1 age identities)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestFormatOf(t *testing.T) {
	tests := []struct {
		name string
		want Format
		ok   bool
	}{
		{"secret.enc.yaml", YAML, true},
		{"dir/secret.yml", YAML, true},
		{"SECRET.YAML", YAML, true},
		{"config.json", JSON, true},
		{"secret.env", 0, false},
		{"secret.ini", 0, false},
		{"yaml", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := FormatOf(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FormatOf(%q) = %v, %v, want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if YAML.String() != "yaml" || JSON.String() != "json" {
		t.Errorf("String() = %q, %q", YAML, JSON)
	}
}
