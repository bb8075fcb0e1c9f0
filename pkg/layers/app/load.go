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
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/driftd/driftd/pkg/manifest"
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
	// Hidden marks an object whose values are secret though it is not a
	// Secret (decrypted with SOPS, or holding a Secret's values): its
	// diffs show field names and keyed hashes, and its Source says why.
	Hidden bool
	// Chart marks an object a Helm chart rendered (Source names the
	// chart), and Volatile one whose template renders it differently each
	// time, which apply leaves alone.
	Chart, Volatile bool
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
			ko, err := dec.leftEncrypted(o)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", src, err))
				continue
			}
			out = append(out, Object{Obj: o, Source: src, KeysOnly: ko, Hidden: decrypted})
		}
	}
	return out, errors.Join(errs...)
}

// decode turns one YAML or JSON document of a file in Git into objects
// (duplicate keys refused); see manifest.Decode.
func decode(doc []byte) ([]*unstructured.Unstructured, error) { return manifest.Decode(doc, true) }

// checkAliases refuses a YAML file whose aliases expand too far; see
// manifest.CheckAliases.
func checkAliases(b []byte) error { return manifest.CheckAliases(b) }

// ErrAliasBomb is returned, wrapped, for a YAML file whose aliases expand
// too far.
var ErrAliasBomb = manifest.ErrAliasBomb

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
