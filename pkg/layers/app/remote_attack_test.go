package app

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/driftd/driftd/internal/sopstest"
)

// TestMain lets the test binary stand in for `driftd kustomize-build`, the
// child that renders kustomizations with remote resources allowed (see
// LoadOptions.RemoteRenderer): run as `<test binary> kustomize-build
// --max-file-size N ROOT DIR`, it calls RenderKustomization as driftd does.
func TestMain(m *testing.M) {
	if len(os.Args) == 6 && os.Args[1] == "kustomize-build" && os.Args[2] == "--max-file-size" {
		maxFile, _ := strconv.ParseInt(os.Args[3], 10, 64)
		if err := RenderKustomization(os.Args[4], os.Args[5], maxFile, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "driftd kustomize-build: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestAttackRemoteRenderingComparesCiphertext: with allow_remote_resources,
// kustomizations are rendered by a child process, which dropped the sops
// field of the encrypted Secrets it built (keysOnly deletes it) and wrote
// them out; the parent then took them for plain Secrets whose values are
// the ciphertext, with a key configured or not. A finding on every check,
// and apply would write the ciphertext into the cluster. They must be
// decrypted with the key, and compared by key names only without one.
func TestAttackRemoteRenderingComparesCiphertext(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	id := sopstest.NewIdentity(t)
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: " + atkSecretPassword + "\n"
	rfs := atkRepo(t, map[string]string{
		"k/kustomization.yaml": "namespace: shop\nresources: [secret.enc.yaml]\n",
		"k/secret.enc.yaml":    sopstest.EncryptYAML(t, secret, id.Recipient().String(), sopstest.FluxRegex),
	})
	for name, dec := range map[string]*decrypter{"no key": nil, "key": atkDecrypter(t, id.String())} {
		t.Run(name, func(t *testing.T) {
			objs, err := Load(t.Context(), rfs, []string{"k"}, LoadOptions{RemoteRenderer: []string{exe, "kustomize-build"}, Timeout: time.Minute, decrypt: dec})
			if err != nil || len(objs) != 1 {
				t.Fatalf("%v %v", objs, err)
			}
			o := objs[0]
			j := atkJSON(t, o.Obj.Object)
			switch {
			case dec == nil && !o.KeysOnly:
				t.Errorf("without a key, the encrypted Secret is compared by value, its values the ciphertext:\n%s", j)
			case dec != nil && (o.KeysOnly || !strings.Contains(j, atkSecretPassword)):
				t.Errorf("with the key, the Secret is not decrypted (keys only: %v):\n%s", o.KeysOnly, j)
			}
			if strings.Contains(j, encPrefix) && !o.KeysOnly {
				t.Errorf("ciphertext compared as a value:\n%s", j)
			}
		})
	}
}
