package helmrender

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftd/driftd/pkg/repofs"
)

// Sources tells FromHelmRelease and FromApplication what "this repository"
// is and holds the objects their references resolve to.
type Sources struct {
	// GitRepositories are the Flux GitRepository objects that are this
	// repository, as "namespace/name" (flux bootstrap makes
	// flux-system/flux-system). A GitRepository among Objects whose
	// spec.url is one of RepoURLs is this repository too.
	GitRepositories []string
	// RepoURLs are the URLs of this repository. They are compared
	// normalized: scheme, user, port, a trailing ".git" or "/" and case do
	// not matter, and scp-like git@host:path is host/path.
	RepoURLs []string
	// Objects are the repository's objects that references resolve to:
	// ConfigMaps and Secrets (valuesFrom), HelmRepository and
	// GitRepository objects (sourceRef). Secrets must be decrypted.
	Objects []*unstructured.Unstructured
	// FS, when set, lets FromApplication tell a chart from a plain
	// directory as Argo CD does for a source that does not say which it
	// is (a kustomization file, a Chart.yaml); without it, only sources
	// with helm settings are charts.
	FS *repofs.FS

	// index holds Objects by group, kind, namespace and name (see
	// Indexed).
	index map[objectKey]*unstructured.Unstructured
}

type objectKey struct{ group, kind, namespace, name string }

// Indexed returns s with its Objects indexed, for a caller that resolves
// many references: each is then found in constant time rather than by a
// scan of every object. The first of objects with the same key is found,
// as without the index. Objects must not change afterwards.
func (s Sources) Indexed() Sources {
	s.index = make(map[objectKey]*unstructured.Unstructured, len(s.Objects))
	for _, o := range s.Objects {
		k := objectKey{o.GroupVersionKind().Group, o.GetKind(), o.GetNamespace(), o.GetName()}
		if _, dup := s.index[k]; !dup {
			s.index[k] = o
		}
	}
	return s
}

// ErrNotHelm is matched, with errors.Is, by the *NotHelmError that
// FromApplication returns for sources that are not Helm charts.
var ErrNotHelm = errors.New("not a Helm chart")

// NotHelmError lists the sources of an Application that are directories of
// this repository but not Helm charts (plain manifests, a kustomization):
// the caller's own loader handles them. FromApplication returns it with the
// requests of the Application's Helm sources, if it has any.
type NotHelmError struct {
	// Paths are the directories, relative to the repository root.
	Paths []string
}

func (e *NotHelmError) Error() string {
	ps := make([]string, len(e.Paths))
	for i, p := range e.Paths {
		ps[i] = display(p)
	}
	return fmt.Sprintf("%s %s", strings.Join(ps, ", "), ErrNotHelm)
}

func (e *NotHelmError) Is(target error) bool { return target == ErrNotHelm }

// isThisRepo reports whether a Git URL names this repository.
func (s Sources) isThisRepo(u string) bool {
	n := normalizeRepoURL(u)
	if n == "" {
		return false
	}
	for _, r := range s.RepoURLs {
		if normalizeRepoURL(r) == n {
			return true
		}
	}
	return false
}

// normalizeRepoURL reduces a Git URL to lower-case host/path: https, ssh
// and scp-like forms of one repository compare equal.
func normalizeRepoURL(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		// scp-like: [user@]host:path
		if host, p, ok := strings.Cut(s, ":"); ok && !strings.Contains(host, "/") {
			if _, h, ok := strings.Cut(host, "@"); ok {
				host = h
			}
			s = "ssh://" + host + "/" + p
		} else {
			s = "https://" + s
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	p := strings.Trim(path.Clean("/"+u.Path), "/")
	p = strings.TrimSuffix(p, ".git")
	return u.Hostname() + "/" + p
}

// object finds an object of the given kind (and API group) by namespace
// and name among s.Objects.
func (s Sources) object(group, kind, namespace, name string) *unstructured.Unstructured {
	if s.index != nil {
		return s.index[objectKey{group, kind, namespace, name}]
	}
	for _, o := range s.Objects {
		gvk := o.GroupVersionKind()
		if gvk.Group == group && gvk.Kind == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	return nil
}

// field reads a nested field of an unstructured object, with a type check
// whose error names the field.
func field[T any](obj map[string]any, fields ...string) (T, bool, error) {
	var zero T
	v, ok, err := unstructured.NestedFieldNoCopy(obj, fields...)
	if err != nil || !ok || v == nil {
		return zero, false, err
	}
	t, isT := v.(T)
	if !isT {
		return zero, false, fmt.Errorf("%s: is a %T, not a %T", strings.Join(fields, "."), v, zero)
	}
	return t, true, nil
}

// stringList reads a list of strings.
func stringList(obj map[string]any, fields ...string) ([]string, error) {
	l, _, err := field[[]any](obj, fields...)
	if err != nil || len(l) == 0 {
		return nil, err
	}
	out := make([]string, 0, len(l))
	for i, v := range l {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: is a %T, not a string", strings.Join(fields, "."), i, v)
		}
		out = append(out, s)
	}
	return out, nil
}

// str reads a string field, "" when absent.
func str(obj map[string]any, fields ...string) (string, error) {
	s, _, err := field[string](obj, fields...)
	return s, err
}

// boolean reads a bool field, false when absent.
func boolean(obj map[string]any, fields ...string) (bool, error) {
	b, _, err := field[bool](obj, fields...)
	return b, err
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
