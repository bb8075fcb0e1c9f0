package app

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one desired object and where it comes from.
type Object struct {
	// Obj is the object as written in Git.
	Obj *unstructured.Unstructured
	// Source is "file (document N)" or "kustomization DIR".
	Source string
}

// Load reads the desired objects under each path of the repo: a directory
// with a kustomization is rendered in process with kustomize; any other
// directory is walked for .yaml, .yml and .json files, each of which may hold
// many documents. A broken file or document is reported, naming the file
// and document, and does not stop the others from loading.
func Load(repoDir string, paths []string) ([]Object, error) {
	var out []Object
	var errs []error
	for _, p := range paths {
		dir := filepath.Join(repoDir, p)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			errs = append(errs, fmt.Errorf("path %s: not a directory in the repo", p))
			continue
		}
		if isKustomization(dir) {
			objs, err := kustomize(dir, p)
			errs = append(errs, err)
			out = append(out, objs...)
			continue
		}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != dir && isKustomization(path) {
					rel, _ := filepath.Rel(repoDir, path)
					objs, kerr := kustomize(path, rel)
					errs = append(errs, kerr)
					out = append(out, objs...)
					return filepath.SkipDir
				}
				return nil
			}
			switch filepath.Ext(path) {
			case ".yaml", ".yml", ".json":
			default:
				return nil
			}
			rel, _ := filepath.Rel(repoDir, path)
			objs, ferr := loadFile(path, rel)
			errs = append(errs, ferr)
			out = append(out, objs...)
			return nil
		})
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

func isKustomization(dir string) bool {
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

// loadFile splits a file into documents and decodes each.
func loadFile(path, rel string) ([]Object, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
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
			errs = append(errs, fmt.Errorf("%s: document %d: %w", rel, i, err))
			break
		}
		objs, err := decode(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: document %d: %w", rel, i, err))
			continue
		}
		for _, o := range objs {
			out = append(out, Object{Obj: o, Source: fmt.Sprintf("%s (document %d)", rel, i)})
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
	j, err := yaml.YAMLToJSONStrict(doc)
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

// kustomize renders a kustomization directory in process.
func kustomize(dir, rel string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomization %s: %w", rel, err)
	}
	var out []Object
	for _, r := range res.Resources() {
		j, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomization %s: %s: %w", rel, r.CurId(), err)
		}
		objs, err := decode(j)
		if err != nil {
			return nil, fmt.Errorf("kustomization %s: %s: %w", rel, r.CurId(), err)
		}
		for _, o := range objs {
			out = append(out, Object{Obj: o, Source: "kustomization " + rel})
		}
	}
	return out, nil
}
