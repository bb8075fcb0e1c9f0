//go:build integration

package app

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/driftd/driftd/internal/sopstest"
	"github.com/driftd/driftd/internal/testenv"
	"github.com/driftd/driftd/pkg/drift"
	"github.com/driftd/driftd/pkg/report"
)

const (
	sopsPassword = "hunter2-plaintext-never-shown"
	sopsToken    = "tok-plaintext-never-shown"
)

// TestAppSOPSSecrets: Secrets encrypted with SOPS and age in Git, a plain
// file and one a kustomization includes, checked as the deployed
// ServiceAccount.
func TestAppSOPSSecrets(t *testing.T) {
	k := testenv.KubeForTest(t)
	c := newCluster(t, k)
	id := sopstest.NewIdentity(t)
	keyDir := t.TempDir() // outside the repository, as the config requires
	keyFile := filepath.Join(keyDir, "age.key")
	if err := os.WriteFile(keyFile, []byte("# driftd test key\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: %s\ntype: Opaque\nstringData:\n  password: %s\n  user: app\n", c.ns, sopsPassword)
	kustSecret := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\n  namespace: %s\ndata:\n  token: %s\n", c.ns, b64(sopsToken))
	writeRepoFile(t, c.repo, "secrets/db.enc.yaml", sopstest.EncryptYAML(t, secret, id.Recipient().String(), sopstest.FluxRegex))
	writeRepoFile(t, c.repo, "secrets/conf.yaml", fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\n  namespace: %s\ndata:\n  mode: \"on\"\n", c.ns))
	writeRepoFile(t, c.repo, "kust/kustomization.yaml", "resources: [api.enc.yaml]\n")
	writeRepoFile(t, c.repo, "kust/api.enc.yaml", sopstest.EncryptYAML(t, kustSecret, id.Recipient().String(), sopstest.FluxRegex))
	c.cfg.Paths = []string{"secrets", "kust"}
	c.cfg.SOPS = SOPSConfig{AgeKeyFile: keyFile}

	// What Flux would apply: the decrypted Secrets.
	plain := t.TempDir()
	for name, body := range map[string]string{"db.yaml": secret, "api.yaml": kustSecret} {
		if err := os.WriteFile(filepath.Join(plain, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c.kubectl("apply", "--server-side", "-f", plain)
	c.kubectl("apply", "--server-side", "-f", filepath.Join(c.repo, "secrets", "conf.yaml"))

	// checkErr checks, and asserts that no report format shows a secret.
	checkErr := func() (drift.TargetResult, error) {
		t.Helper()
		res, err := c.check(c.layer())
		r := res[c.ns]
		rep := drift.Report{Layers: []drift.LayerResult{{Layer: drift.LayerApp, Targets: []drift.TargetResult{r}}}}
		var all strings.Builder
		for name, write := range report.Formats() {
			if err := write(&all, rep, report.Options{}); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		for _, v := range []string{sopsPassword, sopsToken, b64(sopsPassword), b64(sopsToken), id.String()} {
			if strings.Contains(all.String(), v) || (err != nil && strings.Contains(err.Error(), v)) {
				t.Fatalf("a secret value reached the report:\n%s\n%v", all.String(), err)
			}
		}
		return r, err
	}
	check := func() drift.TargetResult {
		t.Helper()
		r, err := checkErr()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	if r := check(); r.Status != drift.StatusInSync {
		t.Fatalf("decrypted Secrets applied: %s %q %v\n%s", r.Status, r.Error, r.Findings, diffs(r))
	}

	// A live value changes: one finding, with the key's name and no value.
	c.kubectl("patch", "secret", "-n", c.ns, "db", "-p", `{"stringData":{"password":"changed-live"}}`)
	r := check()
	if len(r.Findings) != 1 || r.Findings[0].Object != "core/Secret/"+c.ns+"/db" || r.Findings[0].Change != drift.ChangeChanged {
		t.Fatalf("after a live change: %v %q\n%s", r.Findings, r.Error, diffs(r))
	}
	if d := r.Findings[0].Diff; !strings.Contains(d, "-  password: (redacted, hmac") || strings.Contains(d, "changed-live") {
		t.Errorf("the diff should name the password key, never a value:\n%s", d)
	}

	// The wrong key: an error naming each encrypted file; the ConfigMap
	// beside them is still compared (its live change is found).
	other := sopstest.NewIdentity(t)
	if err := os.WriteFile(keyFile, []byte(other.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.kubectl("patch", "configmap", "-n", c.ns, "conf", "-p", `{"data":{"mode":"off"}}`)
	r, err := checkErr()
	for _, want := range []string{
		"secrets/db.enc.yaml: decrypt with SOPS: decrypt sops yaml: no matching key",
		"kustomization kust: kust/api.enc.yaml: decrypt with SOPS: decrypt sops yaml: no matching key",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %q", err, want)
		}
	}
	if got := objects(r); !slices.Contains(got, "changed core/ConfigMap/"+c.ns+"/conf") {
		t.Errorf("the plain file was not checked beside the undecryptable ones: %v", got)
	}

	// A tampered file is refused, not compared.
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	enc, err2 := os.ReadFile(filepath.Join(c.repo, "secrets", "db.enc.yaml"))
	if err2 != nil {
		t.Fatal(err2)
	}
	writeRepoFile(t, c.repo, "secrets/db.enc.yaml", strings.Replace(string(enc), "name: db", "name: db2", 1))
	r, err = checkErr()
	if err == nil || !strings.Contains(err.Error(), "secrets/db.enc.yaml: decrypt with SOPS") || slices.ContainsFunc(objects(r), func(s string) bool { return strings.Contains(s, "/db2") }) {
		t.Errorf("tampered file: error %v, findings %v", err, objects(r))
	}
	writeRepoFile(t, c.repo, "secrets/db.enc.yaml", string(enc))

	// No key configured: compared by key names, and the report says so.
	c.cfg.SOPS = SOPSConfig{}
	c.kubectl("patch", "configmap", "-n", c.ns, "conf", "-p", `{"data":{"mode":"on"}}`)
	r = check()
	if r.Status != drift.StatusInSync || r.Error != "" {
		t.Fatalf("without a key, same key names: %s %q %v\n%s", r.Status, r.Error, objects(r), diffs(r))
	}
	ko, _ := r.Details["sops_keys_only"].(map[string]any)
	if objs, _ := ko["objects"].([]string); !slices.Equal(objs, []string{"core/Secret/" + c.ns + "/api", "core/Secret/" + c.ns + "/db"}) {
		t.Errorf("details do not say which Secrets were compared by key names: %v", r.Details)
	}
	c.kubectl("patch", "secret", "-n", c.ns, "db", "--type=json", "-p", `[{"op":"remove","path":"/data/user"}]`)
	r = check()
	if got := objects(r); !slices.Equal(got, []string{"changed core/Secret/" + c.ns + "/db"}) || !strings.Contains(r.Findings[0].Diff, "compared by key names only") {
		t.Errorf("a key removed live, without a key: %v\n%s", got, diffs(r))
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func objects(r drift.TargetResult) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, string(f.Change)+" "+f.Object)
	}
	return out
}

// TestAppSealedSecrets: a SealedSecret in Git is compared as the custom
// resource it is; the Secret its controller makes from it (owned by it)
// and Helm's release records are not unmanaged drift where unmanaged
// objects are reported, while a Secret nobody declared still is.
func TestAppSealedSecrets(t *testing.T) {
	k := testenv.KubeForTest(t)
	c := newCluster(t, k)
	installCRDs(t, c)
	sealed := fmt.Sprintf("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\n  namespace: %s\nspec:\n  encryptedData:\n    password: AgBy3i4OJSWK+PiTySYZZA==\n  template:\n    metadata:\n      name: db\n", c.ns)
	writeRepoFile(t, c.repo, "sealed/db.yaml", sealed)
	c.cfg.Paths = []string{"sealed"}
	c.cfg.Unmanaged = &Unmanaged{Namespaces: []string{c.ns}}
	c.kubectl("apply", "--server-side", "-f", filepath.Join(c.repo, "sealed"))
	uid := c.kubectl("get", "sealedsecret", "-n", c.ns, "db", "-o", "jsonpath={.metadata.uid}")
	// What the sealed-secrets controller and helm make.
	for _, obj := range []string{
		fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: %s\n  ownerReferences:\n  - {apiVersion: bitnami.com/v1alpha1, kind: SealedSecret, name: db, uid: %s, controller: true}\ndata:\n  password: %s\n", c.ns, uid, b64("s3cret")),
		fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: sh.helm.release.v1.site.v1\n  namespace: %s\n  labels: {owner: helm, name: site}\ntype: helm.sh/release.v1\ndata:\n  release: %s\n", c.ns, b64("H4sI")),
	} {
		f := filepath.Join(t.TempDir(), "obj.yaml")
		if err := os.WriteFile(f, []byte(obj), 0o644); err != nil {
			t.Fatal(err)
		}
		c.kubectl("apply", "--server-side", "-f", f)
	}
	res, err := c.check(c.layer())
	if err != nil {
		t.Fatal(err)
	}
	// The corpus newCluster applied is unmanaged here: only its
	// findings may appear, never the two Secrets above.
	for _, f := range res[c.ns].Findings {
		if f.Object == "core/Secret/"+c.ns+"/db" || strings.Contains(f.Object, "sh.helm.release") || strings.Contains(f.Object, "SealedSecret") {
			t.Errorf("finding %s %s", f.Change, f.Object)
		}
	}
	if !slices.Contains(res[c.ns].Managed, "bitnami.com/SealedSecret/"+c.ns+"/db") {
		t.Errorf("the SealedSecret is not compared: %v", res[c.ns].Managed)
	}

	// Re-sealed by hand in the cluster: drift on the SealedSecret.
	c.kubectl("patch", "sealedsecret", "-n", c.ns, "db", "--type=merge", "-p", `{"spec":{"encryptedData":{"password":"AgXXXX"}}}`)
	res, err = c.check(c.layer())
	if err != nil {
		t.Fatal(err)
	}
	if got := objects(res[c.ns]); !slices.Contains(got, "changed bitnami.com/SealedSecret/"+c.ns+"/db") {
		t.Errorf("after a live change of the SealedSecret: %v", got)
	}
}
