package hostkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestVerify(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cb   error
		want string
	}{
		"mismatch": {&knownhosts.KeyError{Want: []knownhosts.KnownKey{{Key: key}}}, "does not match /kh; refusing to connect"},
		"unknown":  {&knownhosts.KeyError{}, "is not in /kh"},
		"other":    {errors.New("boom"), "boom"},
	} {
		v := Verify(func(string, net.Addr, ssh.PublicKey) error { return tc.cb }, "/kh")
		err := v("node1:22", nil, key)
		if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "node1:22") {
			t.Errorf("%s: %v, want ErrHostKey naming the host and %q", name, err, tc.want)
		}
	}
	if err := Verify(func(string, net.Addr, ssh.PublicKey) error { return nil }, "/kh")("h", nil, key); err != nil {
		t.Errorf("a known key was refused: %v", err)
	}
}
