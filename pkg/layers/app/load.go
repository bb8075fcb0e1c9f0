package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/driftd/driftd/pkg/repofs"
	"github.com/driftd/driftd/pkg/sopsfile"
)

// Object is one desired object and where it comes from.
type Object struct {
	// Obj is the object as written in Git.
	Obj *unstructured.Unstructured
	// Source is "file (document N)" or "kustomization DIR".
	Source string
	// KeysOnly marks a Secret that is SOPS-encrypted in Git while no key
	// is configured: only its key names can be compared.
	KeysOnly bool
}

// LoadOptions says how Load renders kustomizations.
type LoadOptions struct {
	// RemoteRenderer, when set, allows kustomize remote resources: each
	// kustomization is rendered by running this command (driftd's own
	// `kustomize-build`, see RenderKustomization) with the repository root
	// and the kustomization's directory appended, in a process group of
	// its own that is killed when ctx ends or Timeout passes. When nil,
	// remote resources are refused.
	RemoteRenderer []string
	// Timeout bounds one remote rendering.
	Timeout time.Duration
	// decrypt decrypts SOPS-encrypted files as they are read; nil when
	// no key is configured.
	decrypt *decrypter
}

// Load reads the desired objects under each path of the repository, through
// rfs, so that nothing outside the repository is read: a directory with a
// kustomization is rendered in process with kustomize; any other directory
// is walked for .yaml, .yml and .json files, each of which may hold many
// documents. A path that is a symbolic link to a directory, or such a link
// under a path, is an error rather than an empty tree. A broken file or
// document is reported, naming the file and document but never quoting its
// content, and does not stop the others from loading.
func Load(ctx context.Context, rfs *repofs.FS, paths []string, opts LoadOptions) ([]Object, error) {
	var out []Object
	var errs []error
	for _, p := range paths {
		dir, err := repofs.Clean(p)
		if err == nil {
			err = rfs.Dir(dir)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("path %s: %w", p, err))
			continue
		}
		if kustomizationFile(rfs, dir) != "" {
			objs, err := opts.kustomize(ctx, rfs, dir)
			errs = append(errs, err)
			out = append(out, objs...)
			continue
		}
		err = rfs.WalkDirs(dir, func(sub string) error {
			if kustomizationFile(rfs, sub) == "" {
				return nil
			}
			objs, kerr := opts.kustomize(ctx, rfs, sub)
			errs = append(errs, kerr)
			out = append(out, objs...)
			return fs.SkipDir
		}, func(name string, err error) error {
			switch path.Ext(name) {
			case ".yaml", ".yml", ".json":
			default:
				if err == nil || !errors.Is(err, repofs.ErrDirSymlink) {
					return nil
				}
			}
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			objs, ferr := loadFile(rfs, name, opts.decrypt)
			errs = append(errs, ferr)
			out = append(out, objs...)
			return nil
		})
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// loadFile splits a file into documents and decodes each.
func loadFile(rfs *repofs.FS, name string, dec *decrypter) ([]Object, error) {
	b, err := rfs.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if err := checkAliases(b); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	decrypted := dec != nil && sopsfile.IsEncrypted(b)
	if b, err = dec.decrypt(name, b); err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []Object
	var errs []error
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: document %d: %s", name, i, sanitizeErr(err)))
			break
		}
		objs, err := decode(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: document %d: %s", name, i, sanitizeErr(err)))
			continue
		}
		for _, o := range objs {
			src := fmt.Sprintf("%s (document %d)", name, i)
			if decrypted {
				src = decryptedSource(src)
			}
			ko, err := keysOnly(o)
			if k := ciphertextKey(o); err == nil && !ko && k != "" {
				ko, err = dec.ciphertextLeft(k)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", src, err))
				continue
			}
			out = append(out, Object{Obj: o, Source: src, KeysOnly: ko})
		}
	}
	return out, errors.Join(errs...)
}

// decode turns one YAML or JSON document into objects; a List is
// flattened. An empty document gives none.
func decode(doc []byte) ([]*unstructured.Unstructured, error) {
	if len(bytes.TrimSpace(stripComments(doc))) == 0 {
		return nil, nil
	}
	j, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	if string(j) == "null" {
		return nil, nil
	}
	if !bytes.HasPrefix(bytes.TrimSpace(j), []byte("{")) {
		return nil, errors.New("not an object")
	}
	obj, _, err := unstructured.UnstructuredJSONScheme.Decode(j, nil, nil)
	if err != nil {
		return nil, err
	}
	if list, ok := obj.(*unstructured.UnstructuredList); ok {
		var out []*unstructured.Unstructured
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
		return out, nil
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("unexpected object %T", obj)
	}
	if u.GetName() == "" {
		return nil, fmt.Errorf("%s %s: metadata.name is required", u.GetAPIVersion(), u.GetKind())
	}
	return []*unstructured.Unstructured{u}, nil
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(string(doc), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.Bytes()
}

// maxAliasExpansion bounds how many nodes YAML aliases may add to a file
// when expanded. Manifests that use anchors (`<<: *defaults`) add a few
// hundred; an alias bomb ("billion laughs") adds billions from a few
// hundred bytes.
const maxAliasExpansion = 100_000

// ErrAliasBomb is returned, wrapped, for a YAML file whose aliases expand
// beyond maxAliasExpansion nodes.
var ErrAliasBomb = errors.New("YAML aliases expand to too many nodes")

// checkAliases refuses a YAML file whose aliases would expand past
// maxAliasExpansion nodes, before anything expands them. It parses the file
// into nodes, which keep aliases as references, and counts the expansion
// with memoization, so its cost is linear in the file.
func checkAliases(b []byte) error {
	if !bytes.ContainsRune(b, '&') || !bytes.ContainsRune(b, '*') {
		return nil // no anchor, or no alias: nothing can expand
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			// Syntax errors are reported, with their line, by the decoder
			// that follows.
			return nil
		}
		memo := map[*yaml.Node]int64{}
		var literal int64
		var size func(*yaml.Node) int64
		size = func(n *yaml.Node) int64 {
			if v, ok := memo[n]; ok {
				return v
			}
			memo[n] = 1 // a cycle counts once
			var total int64 = 1
			if n.Kind == yaml.AliasNode && n.Alias != nil {
				total = size(n.Alias)
			} else {
				literal++
				for _, c := range n.Content {
					// Saturate: a deep bomb would overflow int64.
					total = min(total+size(c), 1<<40)
				}
			}
			memo[n] = total
			return total
		}
		if total := size(&n); total-literal > maxAliasExpansion {
			return fmt.Errorf("%w: more than %d added by aliases (document at line %d)", ErrAliasBomb, maxAliasExpansion, n.Line)
		}
	}
}

var (
	// quotedValue matches what YAML and JSON decoders quote of a file's
	// content in their errors.
	quotedValue = regexp.MustCompile("`[^`]*`")
	// quotedObject matches unstructured's "Object 'Kind' is missing in '{...}'".
	quotedObject = regexp.MustCompile(` in '.*'$`)
)

// sanitizeErr returns err's message without any part of the file it was
// decoding: errors name the file, document and line, never the content,
// which may be a secret.
func sanitizeErr(err error) string {
	msg := quotedValue.ReplaceAllString(err.Error(), "(value)")
	return quotedObject.ReplaceAllString(msg, "")
}
