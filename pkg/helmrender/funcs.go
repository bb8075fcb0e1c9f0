package helmrender

import (
	"reflect"
	"slices"
	"sync"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
)

// volatileNames are the template functions whose result changes from one
// rendering to the next: time, randomness, fresh keys and certificates,
// salted hashes.
var volatileNames = []string{
	"now", "ago",
	"randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randBytes", "randInt", "uuidv4", "shuffle",
	"genPrivateKey", "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey",
	"genSignedCert", "genSignedCertWithKey", "encryptAES", "bcrypt", "htpasswd",
}

// sprigFuncs is sprig's function map, built once (it is only read).
var sprigFuncs = sync.OnceValue(sprig.TxtFuncMap)

// usedFuncs records which volatile functions a rendering called.
type usedFuncs struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (u *usedFuncs) add(name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.seen == nil {
		u.seen = map[string]bool{}
	}
	u.seen[name] = true
}

func (u *usedFuncs) names() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for n := range u.seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// volatileFuncs returns the volatile functions wrapped so that calling one
// records it in used, and the `lookup` of helm template (it finds nothing,
// while helm install, which Flux runs, would find live objects).
func volatileFuncs(used *usedFuncs) template.FuncMap {
	m := template.FuncMap{
		"lookup": func(string, string, string, string) (map[string]any, error) {
			used.add("lookup")
			return map[string]any{}, nil
		},
	}
	base := sprigFuncs()
	for _, name := range volatileNames {
		orig, ok := base[name]
		if !ok {
			continue
		}
		fv := reflect.ValueOf(orig)
		m[name] = reflect.MakeFunc(fv.Type(), func(args []reflect.Value) []reflect.Value {
			used.add(name)
			if fv.Type().IsVariadic() {
				return fv.CallSlice(args)
			}
			return fv.Call(args)
		}).Interface()
	}
	return m
}

// probeFuncs are volatileFuncs for the second rendering of
// unstableTemplates: lookup finds an object and now is the epoch, so that a
// template whose output depends on them renders differently; the random
// functions draw again.
func probeFuncs(used *usedFuncs) template.FuncMap {
	m := volatileFuncs(used)
	m["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]any, error) {
		return map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name, "namespace": namespace}, "data": map[string]any{}}, nil
	}
	m["now"] = func() time.Time { return time.Unix(0, 0).UTC() }
	m["ago"] = func(any) string { return "0s" }
	return m
}
