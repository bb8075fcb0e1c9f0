package helmrender

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Attacks on the process that calls RenderIsolated (the daemon), which
// decodes and holds what every chart of a repository renders.

// TestAttackManyReleasesOfOneChart: one small chart renders close to
// MaxOutput, and the repository declares it many times (HelmReleases cost a
// few lines each). Each rendering is within its bound, but the daemon
// decoded and held all of them: N times MaxOutput, and more in objects.
// The charts of a call together must stay within a bound.
func TestAttackManyReleasesOfOneChart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	files := prefixed("charts/big", chartFiles("big"))
	// About 200 KB of YAML in one ConfigMap.
	files["charts/big/templates/big.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}-big}\ndata:\n  blob: {{ repeat 200000 \"x\" | quote }}\n"
	repo, _ := newRepo(t, files)
	var reqs []Request
	for i := range 20 {
		reqs = append(reqs, Request{Origin: fmt.Sprintf("HelmRelease %d", i), Chart: "charts/big", ReleaseName: fmt.Sprintf("r%d", i)})
	}
	opts := Options{Timeout: 30 * 1e9, MaxOutput: 1 << 20, MaxTotalOutput: 1 << 20}
	out := RenderIsolated(t.Context(), childArgv(t), repo, 0, reqs, testCaps, opts)
	var held, refused int
	for i, o := range out {
		switch {
		case o.Err == nil:
			for _, m := range o.Result.Objects {
				b, _ := m.Object.MarshalJSON()
				held += len(b)
			}
		case errors.Is(o.Err, ErrTooLarge):
			refused++
			if !strings.HasPrefix(o.Err.Error(), reqs[i].String()+": ") {
				t.Errorf("error %q does not name its release first", o.Err)
			}
		default:
			t.Errorf("%s: %v", reqs[i].Origin, o.Err)
		}
	}
	if held > 1<<20 || refused == 0 {
		t.Errorf("the daemon holds %d bytes of rendered objects (%d releases refused), beyond MaxTotalOutput %d", held, refused, opts.MaxTotalOutput)
	}
}

// TestAttackManySmallValues: a chart renders a list of a million small
// numbers, 2 MB of YAML, within MaxOutput. Decoded in the daemon, each
// number is an interface holding a float64 or int64: tens of bytes per
// byte of output, so that a chart at MaxOutput (64 MiB) made the daemon
// allocate gigabytes. A chart's objects must be refused before they are
// decoded when they hold too many values.
func TestAttackManySmallValues(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	files := prefixed("charts/many", chartFiles("many"))
	files["charts/many/templates/many.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: many}\nlist: [{{ range until 300000 }}1,{{ end }}1]\n"
	repo, _ := newRepo(t, files)
	writeTree(t, repo, prefixed("charts/ok", chartFiles("ok")))
	reqs := []Request{req("many"), req("ok")}
	out := RenderIsolated(t.Context(), childArgv(t), repo, 0, reqs, testCaps, Options{Timeout: 30 * 1e9, MaxOutput: 2 << 20})
	if out[0].Err == nil || !errors.Is(out[0].Err, ErrTooLarge) {
		t.Errorf("a chart of 300000 values (MaxOutput/16 is %d) was decoded in the daemon: %v", (2<<20)/16, out[0].Err)
	}
	if out[1].Err != nil {
		t.Errorf("the chart after it: %v", out[1].Err)
	}
}

// TestAttackEncodedValueInFail: a template fails with a message that holds
// a supplied value, base64-encoded as a Secret's data is. The redactor
// removed the value as supplied, not its encoding, which decodes to it.
func TestAttackEncodedValueInFail(t *testing.T) {
	const password = "hunter2-from-a-secret"
	files := prefixed("charts/app", chartFiles("app"))
	files["charts/app/templates/fail.yaml"] = `{{ fail (printf "bad password %s" (.Values.password | b64enc)) }}`
	repo, _ := newRepo(t, files)
	_, err := Render(t.Context(), openRepo(t, repo), Request{Chart: "charts/app", ReleaseName: "x", Values: map[string]any{"password": password}}, testCaps, Options{})
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte(password))) {
		t.Errorf("the error holds the password, base64-encoded: %v", err)
	}
}

// TestAttackEncryptedValuesFile: a release's values file (or the chart's
// own values.yaml, or a --set-file parameter) is SOPS-encrypted, as the
// helm-secrets plugin keeps them. Neither helm nor Flux decrypts values
// files: the objects rendered held the ciphertext (ENC[AES256_GCM,...]) as
// values, compared on every check with the live ones, and written into the
// cluster by apply. Such a file must be an error naming it.
func TestAttackEncryptedValuesFile(t *testing.T) {
	enc := "password: ENC[AES256_GCM,data:3q2+7w==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n" +
		"sops:\n  age:\n  - recipient: age1xyz\n    enc: x\n  lastmodified: \"2026-01-01T00:00:00Z\"\n  mac: ENC[AES256_GCM,data:3q2+7w==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n  version: 3.9.0\n"
	files := prefixed("charts/app", chartFiles("app"))
	files["charts/app/templates/secret.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: {{ .Values.password | quote }}}\n"
	files["secrets.yaml"] = enc
	for k, v := range prefixed("charts/own", chartFiles("own")) {
		files[k] = v
	}
	files["charts/own/values.yaml"] = enc
	files["charts/own/templates/secret.yaml"] = files["charts/app/templates/secret.yaml"]
	repo, _ := newRepo(t, files)
	for name, r := range map[string]Request{
		"values file":      {Chart: "charts/app", ReleaseName: "x", ValuesFiles: []string{"secrets.yaml"}},
		"chart values":     {Chart: "charts/own", ReleaseName: "x"},
		"file parameter":   {Chart: "charts/app", ReleaseName: "x", Parameters: []Parameter{{Name: "password", Value: "secrets.yaml", File: true}}},
		"replace defaults": {Chart: "charts/app", ReleaseName: "x", ValuesFiles: []string{"secrets.yaml"}, ReplaceDefaults: true},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := Render(t.Context(), openRepo(t, repo), r, testCaps, Options{})
			if err == nil {
				for _, m := range res.Objects {
					if b, _ := m.Object.MarshalJSON(); strings.Contains(string(b), "ENC[AES256_GCM") {
						t.Errorf("rendered with the ciphertext as a value: %s", b)
					}
				}
				return
			}
			if !strings.Contains(err.Error(), "SOPS") {
				t.Errorf("error %v, want it to say the file is SOPS-encrypted", err)
			}
		})
	}
}
