package app

// Attack tests for SOPS-encrypted files in the app layer (sops.go,
// load.go, kustomize.go). Each test says what the repository does and what
// must not happen.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/driftd/driftd/internal/sopstest"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/repofs"
	"github.com/driftd/driftd/pkg/sopsfile"
)

const (
	atkSecretPassword = "pa55-secret-resource-never-shown"
	atkGeneratedCreds = "generated-creds-never-shown"
)

// atkRepo writes files into a new repository and opens it.
func atkRepo(t *testing.T, files map[string]string) *repofs.FS {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rfs, err := repofs.Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rfs.Close() })
	return rfs
}

// atkDecrypter returns a decrypter holding the identity's key.
func atkDecrypter(t *testing.T, identity string) *decrypter {
	t.Helper()
	keys, err := sopsfile.ParseAgeKeys(strings.NewReader(identity))
	if err != nil {
		t.Fatal(err)
	}
	return &decrypter{keys: keys}
}

func atkJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAttackKustomizeCopiesDecryptedValues: a kustomization includes a
// SOPS-encrypted Secret, a configMapGenerator that reads an encrypted file,
// another that reads the file a secretGenerator reads, and a replacement
// that copies the Secret's password into a ConfigMap. driftd decrypted every
// file as kustomize read it, so the ConfigMaps held plaintext, which a
// ConfigMap's diff shows (only Secrets are redacted). Flux decrypts a
// kustomization's encrypted objects after the build, and secretGenerator
// sources before it: what it applies has the ciphertext in the replacement's
// and the first generator's ConfigMap. driftd must build what Flux builds,
// and no diff may show a decrypted value.
func TestAttackKustomizeCopiesDecryptedValues(t *testing.T) {
	id := sopstest.NewIdentity(t)
	r := id.Recipient().String()
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\nstringData:\n  password: " + atkSecretPassword + "\n"
	rfs := atkRepo(t, map[string]string{
		"k/kustomization.yaml": `namespace: shop
resources: [secret.enc.yaml, copy.yaml]
generatorOptions: {disableNameSuffixHash: true}
configMapGenerator:
- name: generated
  files: [cm.enc.yaml]
- name: also-read-by-a-secret-generator
  files: [creds.enc.yaml]
secretGenerator:
- name: generated
  files: [creds.enc.yaml]
replacements:
- source: {kind: Secret, name: db, fieldPath: stringData.password}
  targets:
  - select: {kind: ConfigMap, name: copy}
    fieldPaths: [data.password]
`,
		"k/secret.enc.yaml": sopstest.EncryptYAML(t, secret, r, sopstest.FluxRegex),
		"k/copy.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: copy}\ndata: {password: placeholder}\n",
		"k/creds.enc.yaml":  sopstest.EncryptYAML(t, "password: "+atkGeneratedCreds+"\n", r, ""),
		"k/cm.enc.yaml":     sopstest.EncryptYAML(t, "password: "+atkGeneratedCreds+"-cm\n", r, ""),
	})
	objs, err := Load(t.Context(), rfs, []string{"k"}, LoadOptions{decrypt: atkDecrypter(t, id.String())})
	if err != nil {
		t.Fatal(err)
	}
	l := atkLayer()
	var secrets []string
	for _, o := range objs {
		j := atkJSON(t, o.Obj.Object)
		switch o.Obj.GetName() {
		case "copy", "generated":
			if o.Obj.GetKind() == "ConfigMap" && (strings.Contains(j, atkSecretPassword) || strings.Contains(j, atkGeneratedCreds) || !strings.Contains(j, encPrefix)) {
				t.Errorf("%s holds plaintext where Flux applies the ciphertext:\n%s", ID(o.Obj), j)
			}
		}
		if o.Obj.GetKind() == "Secret" {
			secrets = append(secrets, j)
			if d, _, _ := unstructured.NestedString(o.Obj.Object, "data", "creds.enc.yaml"); d != "" {
				plain, _ := base64.StdEncoding.DecodeString(d)
				secrets = append(secrets, string(plain))
			}
		}
		// What a report shows of it: the diff of the object missing live.
		km := l.newKindMode(t.Context(), schema.GroupVersionResource{}, "shop")
		f, _, _, err := l.compareOne(t.Context(), desiredOf(o, nil), nil, km, nil)
		if err != nil || f == nil {
			t.Fatalf("%s: %v %v", ID(o.Obj), f, err)
		}
		for _, v := range []string{atkSecretPassword, atkGeneratedCreds, atkB64(atkSecretPassword)} {
			if strings.Contains(f.Diff, v) {
				t.Errorf("the diff of %s (source %s) shows a decrypted value:\n%s", ID(o.Obj), o.Source, f.Diff)
			}
		}
	}
	// The Secrets are still decrypted, as Flux decrypts them.
	all := strings.Join(secrets, "\n")
	if !strings.Contains(all, atkSecretPassword) || !strings.Contains(all, atkGeneratedCreds) {
		t.Errorf("the Secrets are not decrypted:\n%s", all)
	}
}

func atkB64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestAttackSecretGeneratorCiphertextWithoutKey: without a key, a
// secretGenerator that reads a SOPS-encrypted file (YAML, or dotenv, which
// sops writes as KEY=ENC[...] lines with sops_* metadata lines) makes a
// Secret whose values are the ciphertext. It was compared by value, as if
// Git said the live Secret should hold the ciphertext: a finding on every
// check, and apply would write the ciphertext (and the sops_mac, sops_...
// keys) into the cluster. Such a Secret must be compared by key names only,
// like an encrypted Secret manifest, or refused.
func TestAttackSecretGeneratorCiphertextWithoutKey(t *testing.T) {
	id := sopstest.NewIdentity(t)
	dotenv := "PASSWORD=ENC[AES256_GCM,data:3q2+7w==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n" +
		"sops_age__list_0__map_recipient=" + id.Recipient().String() + "\n" +
		"sops_lastmodified=2026-01-01T00:00:00Z\n" +
		"sops_mac=ENC[AES256_GCM,data:3q2+7w==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n" +
		"sops_version=3.9.0\n"
	for name, gen := range map[string]string{
		"yaml file":        "files: [creds.enc.yaml]",
		"dotenv":           "envs: [creds.enc.env]",
		"dotenv as a file": "files: [creds.enc.env]",
	} {
		t.Run(name, func(t *testing.T) {
			rfs := atkRepo(t, map[string]string{
				"k/kustomization.yaml": "namespace: shop\ngeneratorOptions: {disableNameSuffixHash: true}\nsecretGenerator:\n- name: creds\n  " + gen + "\n",
				"k/creds.enc.yaml":     sopstest.EncryptYAML(t, "password: "+atkGeneratedCreds+"\n", id.Recipient().String(), ""),
				"k/creds.enc.env":      dotenv,
			})
			objs, err := Load(t.Context(), rfs, []string{"k"}, LoadOptions{})
			for _, o := range objs {
				if !o.KeysOnly {
					t.Errorf("%s (err %v) is compared by value, its values the ciphertext: apply would write them:\n%s", ID(o.Obj), err, atkJSON(t, o.Obj.Object))
				}
			}
		})
	}
}

// TestAttackDecryptedNonSecretShown: Flux decrypts any object that has
// sops metadata, not only Secrets: a ConfigMap, or a HelmRelease whose
// spec.values are encrypted (encrypted_regex ^(data|stringData|values)$).
// driftd decrypted them too, but only a Secret's diff hides its values: a
// live edit of the ConfigMap, or the HelmRelease missing live, showed the
// decrypted values in every report. An object that was encrypted in Git
// must not have its values shown, whatever its kind.
func TestAttackDecryptedNonSecretShown(t *testing.T) {
	id := sopstest.NewIdentity(t)
	r := id.Recipient().String()
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf, namespace: shop}\ndata:\n  dsn: postgres://app:" + atkSecretPassword + "@db\n"
	hr := "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: shop}\nspec:\n  values:\n    password: " + atkSecretPassword + "\n"
	rfs := atkRepo(t, map[string]string{
		"apps/conf.enc.yaml": sopstest.EncryptYAML(t, cm, r, sopstest.FluxRegex),
		"apps/hr.enc.yaml":   sopstest.EncryptYAML(t, hr, r, "^(data|stringData|values)$"),
	})
	objs, err := Load(t.Context(), rfs, []string{"apps"}, LoadOptions{decrypt: atkDecrypter(t, id.String())})
	if err != nil || len(objs) != 2 {
		t.Fatalf("%v %v", objs, err)
	}
	l := atkLayer()
	for _, o := range objs {
		if !strings.Contains(atkJSON(t, o.Obj.Object), atkSecretPassword) {
			t.Fatalf("%s is not decrypted", ID(o.Obj))
		}
		km := l.newKindMode(t.Context(), schema.GroupVersionResource{}, "shop")
		// Missing live, and edited live.
		live := o.Obj.DeepCopy()
		live.SetResourceVersion("3")
		if o.Obj.GetKind() == "ConfigMap" {
			_ = unstructured.SetNestedField(live.Object, "postgres://app:edited-"+atkSecretPassword+"@db", "data", "dsn")
		} else {
			_ = unstructured.SetNestedField(live.Object, "edited-"+atkSecretPassword, "spec", "values", "password")
		}
		for _, lv := range []*unstructured.Unstructured{nil, live} {
			f, _, _, err := l.compareOne(t.Context(), desiredOf(o, nil), lv, km, nil)
			if err != nil || f == nil {
				t.Fatalf("%s: %v %v", ID(o.Obj), f, err)
			}
			if strings.Contains(f.Diff, atkSecretPassword) {
				t.Errorf("the diff of %s (source %s) shows its decrypted values:\n%s", ID(o.Obj), o.Source, f.Diff)
			}
			if lv != nil && !strings.Contains(f.Diff, "dsn:") && !strings.Contains(f.Diff, "password:") {
				t.Errorf("the diff of %s should still name the field that differs:\n%s", ID(o.Obj), f.Diff)
			}
		}
	}
}

// TestAttackKeysOnlyCopiesLiveValues: without a key, a Secret encrypted in
// Git takes the live values of the keys both sides have, so that only key
// names differ. Those live values must show in no diff (missing, changed),
// and apply must write neither them nor the placeholder of a key live
// lacks.
func TestAttackKeysOnlyCopiesLiveValues(t *testing.T) {
	id := sopstest.NewIdentity(t)
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData:\n  password: x\n  added-in-git: y\n"
	rfs := atkRepo(t, map[string]string{"apps/db.enc.yaml": sopstest.EncryptYAML(t, secret, id.Recipient().String(), sopstest.FluxRegex)})
	objs, err := Load(t.Context(), rfs, []string{"apps"}, LoadOptions{})
	if err != nil || len(objs) != 1 || !objs[0].KeysOnly {
		t.Fatalf("%v %v", objs, err)
	}
	const livePassword = "live-password-never-shown"
	live := atkYAML(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop, resourceVersion: \"4\"}\ndata: {password: "+atkB64(livePassword)+", only-live: "+atkB64(livePassword)+"}\n")
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	l := atkLayer()
	ds := []desired{desiredOf(objs[0], &meta.RESTMapping{Resource: gvr, Scope: meta.RESTScopeNamespace})}
	ds[0].keysOnly = true
	var writes []string
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr: "SecretList"}, live)
	dyn.PrependReactor("*", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetVerb() != "get" {
			writes = append(writes, a.GetVerb())
		}
		return false, nil, nil
	})
	l.dyn = dyn
	for _, lv := range map[string]*unstructured.Unstructured{"missing": nil, "changed": live} {
		livesMap := map[string]*unstructured.Unstructured{}
		if lv != nil {
			livesMap["db"] = lv
		}
		var mu sync.Mutex
		findings, recs, ferrs, _ := l.compareKind(t.Context(), ds, livesMap, false, l.newKindMode(t.Context(), gvr, "shop"), make(chan struct{}, 1), map[cacheKey]bool{}, &mu)
		if len(ferrs) > 0 || len(findings) != 1 {
			t.Fatalf("findings %v, errors %v", findings, ferrs)
		}
		for _, v := range []string{livePassword, atkB64(livePassword)} {
			if strings.Contains(findings[0].Diff, v) {
				t.Errorf("the diff shows a live value:\n%s", findings[0].Diff)
			}
		}
		out := l.Apply(context.Background(), drift.Snapshot{}, drift.TargetResult{Name: "shop", Private: recs}, drift.ApplyRequest{Findings: findings})
		if len(writes) > 0 || len(out) != 1 || out[0].Result != drift.ResultSkipped {
			t.Errorf("apply of a keys-only Secret wrote (%v): %+v", writes, out)
		}
	}
}

// TestAttackCiphertextWithoutMetadata: a Secret manifest holds values sops
// encrypted, but not its sops metadata (lost in a copy, or a template that
// copied the values). It was compared by value, the ciphertext taken for
// what the live Secret should hold, and apply would write it. Without a
// key it must be compared by key names only; with one, it is an error.
func TestAttackCiphertextWithoutMetadata(t *testing.T) {
	id := sopstest.NewIdentity(t)
	enc := sopstest.EncryptYAML(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData:\n  password: x\n", id.Recipient().String(), sopstest.FluxRegex)
	rfs := atkRepo(t, map[string]string{"apps/db.yaml": enc[:strings.Index(enc, "sops:")]})
	objs, err := Load(t.Context(), rfs, []string{"apps"}, LoadOptions{})
	if err != nil || len(objs) != 1 || !objs[0].KeysOnly {
		t.Errorf("without a key: %v %v, want one keys-only Secret", objs, err)
	}
	objs, err = Load(t.Context(), rfs, []string{"apps"}, LoadOptions{decrypt: atkDecrypter(t, id.String())})
	if err == nil || len(objs) != 0 {
		t.Errorf("with a key: %v %v, want an error", objs, err)
	}
}

// TestAttackKustomizeFullyEncrypted: a kustomization includes a file that
// sops encrypted whole (its default: apiVersion, kind and metadata too),
// beside a kustomization of plain files. kustomize panics on such an
// object (namespace transformer, names it cannot compare): the panic took
// the whole app layer down, every target unknown, by one file of the
// repository (or of a pull request, which never has the key). Without a
// key it must be that kustomization's error; with one, its objects are
// decrypted, and those that are not Secrets hide their values.
func TestAttackKustomizeFullyEncrypted(t *testing.T) {
	id := sopstest.NewIdentity(t)
	r := id.Recipient().String()
	files := map[string]string{
		"apps/enc/kustomization.yaml":   "namespace: shop\nresources: [s.enc.yaml, cm.enc.yaml]\n",
		"apps/enc/s.enc.yaml":           sopstest.EncryptYAML(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: "+atkSecretPassword+"}\n", r, ""),
		"apps/enc/cm.enc.yaml":          sopstest.EncryptYAML(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf}\ndata: {dsn: "+atkSecretPassword+"}\n", r, ""),
		"apps/plain/kustomization.yaml": "namespace: shop\nresources: [cm.yaml]\n",
		"apps/plain/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n",
	}
	rfs := atkRepo(t, files)
	load := func(opts LoadOptions) (objs []Object, err error) {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Load panicked: %v", p)
			}
		}()
		return Load(t.Context(), rfs, []string{"apps"}, opts)
	}
	objs, err := load(LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "kustomization apps/enc") || len(objs) == 0 || objs[len(objs)-1].Obj.GetName() != "plain" {
		t.Errorf("without a key: %v %v, want the plain kustomization's object and an error naming apps/enc", objs, err)
	}
	objs, err = load(LoadOptions{decrypt: atkDecrypter(t, id.String())})
	if err != nil || len(objs) != 3 {
		t.Fatalf("with the key: %v %v", objs, err)
	}
	for _, o := range objs {
		if o.Obj.GetName() != "plain" && !o.Hidden {
			t.Errorf("%s, decrypted, shows its values (source %s)", ID(o.Obj), o.Source)
		}
	}
}
