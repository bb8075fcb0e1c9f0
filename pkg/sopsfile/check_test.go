package sopsfile

import (
	"bytes"
	"strings"
	"testing"
)

func TestIsEncrypted(t *testing.T) {
	id, _ := newIdentity(t)
	r := id.Recipient().String()
	yamlEnc, _ := encryptFile(t, []byte(secretManifest), YAML, oneRecipient(r))
	jsonEnc, _ := encryptFile(t, []byte(`{"a": "b"}`), JSON, oneRecipient(r))
	multi, _ := encryptFile(t, []byte("a: 1\n---\nb: 2\n"), YAML, oneRecipient(r))
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"encrypted yaml", yamlEnc, true},
		{"encrypted json", jsonEnc, true},
		{"encrypted multi-document yaml", multi, true},
		{"json with tab indentation", bytes.ReplaceAll(jsonEnc, []byte("    "), []byte("\t")), true},
		{"metadata in a later document only", append([]byte("kind: ConfigMap\n---\n"), yamlEnc...), true},
		{"plain manifest", []byte(secretManifest), false},
		{"empty", nil, false},
		{"sops without mac", []byte("a: 1\nsops:\n    lastmodified: x\n    version: 3\n"), false},
		{"sops not at the top", []byte("a:\n  sops:\n    mac: x\n    lastmodified: y\n"), false},
		{"words in values only", []byte("note: sops writes a mac and lastmodified\n"), false},
		{"sops a string", []byte("sops: mac lastmodified\n"), false},
		{"flow style", []byte("{sops: {mac: x, lastmodified: y}}"), true},
		{"quoted keys", []byte(`"sops": {"mac": "x", "lastmodified": "y"}`), true},
		{"sops an alias", []byte("x: &m {mac: x, lastmodified: y}\nsops: *m\n"), true},
		{"invalid yaml", []byte("sops: [mac, lastmodified\n"), false},
		{"a sequence document", []byte("- sops: {mac: x, lastmodified: y}\n"), false},
		{"too large, mentions sops", append(bytes.Repeat([]byte("# padding\n"), DefaultMaxSize/10+1), yamlEnc...), true},
		{"too large, plain", bytes.Repeat([]byte("# padding\n"), DefaultMaxSize/10+1), false},
		{"too many tokens, mentions sops", []byte("sops: [" + strings.Repeat("mac,", maxTokens) + "lastmodified]"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsEncrypted(tt.in); got != tt.want {
				t.Errorf("IsEncrypted = %v, want %v", got, tt.want)
			}
		})
	}
}
